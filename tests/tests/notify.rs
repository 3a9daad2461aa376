//! Alarm notifications end to end, with real parts: an SMTP server (aiosmtpd) that keeps every
//! message it accepts, a webhook receiver on a real socket whose signature is checked with
//! `openssl`, a real mosquitto and `kilowatch-gateway run` killed with SIGKILL.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kilowatch_e2e::alarm_rig::DemandRig;
use kilowatch_e2e::smtp::{email_channel, mails, outbox, parse_mail, start_smtp, Mail};
use kilowatch_e2e::{bin, free_port, require, scratch, start_gateway, wait_for, Mosquitto};

fn gateway_cmd(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin("kilowatch-gateway"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("kilowatch-gateway")
}

#[test]
fn notify_test_mails_the_smtp_server_with_subject_and_evidence() {
    let dir = scratch("notify-mail");
    let smtp = free_port();
    let _server = start_smtp(&dir, smtp);
    // A Chinese-speaking site: every word of the mail in its language.
    let site = format!(
        "[site]\nid = \"p\"\ntimezone = \"Asia/Taipei\"\nlanguage = \"zh-TW\"\n{}",
        email_channel(smtp)
    );
    std::fs::write(dir.join("site.toml"), site).unwrap();
    let out = gateway_cmd(&dir, &["notify", "test", "--config", "site.toml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "ops: sent");
    let got = mails(&dir);
    assert_eq!(got.len(), 1, "{got:?}");
    let Mail {
        subject,
        message_id: id,
        body,
    } = parse_mail(&got[0]);
    assert_eq!(subject, "[kilowatch] 測試通知：測試通知");
    assert!(
        id.starts_with("<test.") && id.ends_with(".ops@kilowatch>"),
        "{id}"
    );
    for needle in [
        "證據：",
        "check    kilowatch-gateway notify test",
        "時間",
        "查看：https://energy.plant.example/#alarms",
    ] {
        assert!(body.contains(needle), "{needle} not in\n{body}");
    }
    for english in ["Evidence", "Time", "Test notification", "Open"] {
        assert!(!body.contains(english), "{english} in\n{body}");
    }
}

#[test]
fn a_failed_test_names_the_error_and_is_not_sent_later() {
    let dir = scratch("notify-refused");
    let smtp = free_port(); // nothing listens
    let site = format!("[site]\nid = \"p\"\n{}", email_channel(smtp));
    std::fs::write(dir.join("site.toml"), site).unwrap();
    let out = gateway_cmd(
        &dir,
        &[
            "notify",
            "test",
            "--config",
            "site.toml",
            "--channel",
            "ops",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.starts_with("ops: FAILED: SMTP: "), "{stdout}");
    assert!(stdout.to_lowercase().contains("refused"), "{stdout}");
    let statuses = outbox(&dir.join("kilowatch.db"));
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].status, "cancelled");

    let out = gateway_cmd(
        &dir,
        &[
            "notify",
            "test",
            "--config",
            "site.toml",
            "--channel",
            "nope",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no channel `nope`"));
}

/// A request as received: headers (lowercase names; the request line as `:request`) and body.
type Request = (Vec<(String, String)>, Vec<u8>);

/// A webhook receiver: answers 200 to every request and hands it over.
fn receiver() -> (u16, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                } else {
                    headers.push((":request".into(), line.trim_end().to_owned()));
                }
                line.clear();
            }
            let len = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = tx.send((headers, body));
        }
    });
    (port, rx)
}

/// HMAC-SHA256 by openssl, independent of the gateway's code.
fn openssl_hmac(key: &str, data: &[u8]) -> String {
    let openssl = require("openssl", "apt-get install openssl");
    let mut child = Command::new(openssl)
        .args(["dgst", "-sha256", "-hmac", key])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.rsplit(' ').next().unwrap().trim().to_owned()
}

#[test]
fn webhooks_are_signed_and_shaped_for_slack_and_teams() {
    let dir = scratch("notify-hook");
    let (port, rx) = receiver();
    std::fs::write(dir.join("hook.secret"), "s3cret-of-the-plant\n").unwrap();
    let site = format!(
        "[site]\nid = \"p\"\nlanguage = \"zh-TW\"\n\n[[notifications]]\nid = \"hook\"\nkind = \"webhook\"\n\
         url = \"http://127.0.0.1:{port}/hook\"\nsecret_file = \"hook.secret\"\n\n\
         [[notifications]]\nid = \"chat\"\nkind = \"webhook\"\nformat = \"slack\"\n\
         url = \"http://127.0.0.1:{port}/slack\"\n\n\
         [[notifications]]\nid = \"teams\"\nkind = \"webhook\"\nformat = \"teams\"\n\
         url = \"http://localhost:{port}/teams\"\n"
    );
    std::fs::write(dir.join("site.toml"), site).unwrap();
    let out = gateway_cmd(&dir, &["notify", "test", "--config", "site.toml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut by_path = std::collections::BTreeMap::new();
    for _ in 0..3 {
        let (headers, body) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a webhook request");
        let get = |k: &str| headers.iter().find(|(h, _)| h == k).map(|(_, v)| v.clone());
        let path = get(":request")
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .to_owned();
        by_path.insert(
            path,
            (
                get("x-kilowatch-timestamp"),
                get("x-kilowatch-signature"),
                get("x-kilowatch-delivery"),
                body,
            ),
        );
    }
    let (ts, sig, delivery, body) = &by_path["/hook"];
    let ts = ts.clone().expect("timestamp header");
    let mut signed = format!("{ts}.").into_bytes();
    signed.extend_from_slice(body);
    assert_eq!(
        sig.as_deref(),
        Some(format!("sha256={}", openssl_hmac("s3cret-of-the-plant", &signed)).as_str())
    );
    let json: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(json["kind"], "alarm");
    assert_eq!(
        json["event"]["evidence"]["check"],
        "kilowatch-gateway notify test"
    );
    assert!(delivery
        .as_deref()
        .is_some_and(|d| d.starts_with("test:") && d.ends_with("/hook")));

    let (_, sig, _, body) = &by_path["/slack"];
    assert_eq!(*sig, None, "no secret, no signature");
    let slack: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert!(slack["text"]
        .as_str()
        .unwrap()
        .starts_with("[kilowatch] 測試通知：測試通知"));
    assert!(!slack.to_string().contains("Open"), "{slack}");
    assert!(
        slack["blocks"]
            .to_string()
            .contains("kilowatch-gateway notify test"),
        "{slack}"
    );
    let (_, _, _, body) = &by_path["/teams"];
    let card: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(card["@type"], "MessageCard");
    assert!(
        card["sections"][0]["facts"]
            .to_string()
            .contains("kilowatch-gateway notify test"),
        "{card}"
    );
}

#[test]
fn an_smtp_outage_and_a_sigkilled_gateway_deliver_exactly_once() {
    let dir = scratch("notify-outage");
    let mq = Mosquitto::start(&dir);
    let (smtp, http) = (free_port(), free_port());
    let site = format!(
        "[site]\nid = \"p\"\ntimezone = \"Asia/Taipei\"\n\n[mqtt]\nbroker = \"127.0.0.1:{}\"\n\n\
         [gateway]\nhttp = \"127.0.0.1:{http}\"\n{}",
        mq.port,
        email_channel(smtp)
    );
    std::fs::write(dir.join("site.toml"), site).unwrap();
    let db = dir.join("kilowatch.db");
    let mut gateway = start_gateway("gateway", &dir, "site.toml", http);
    let queue = |dir: &Path| {
        let out = gateway_cmd(
            dir,
            &["notify", "test", "--config", "site.toml", "--no-wait"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    queue(&dir);
    // The SMTP server is down: the row stays queued, with its error.
    let failed = wait_for(Duration::from_secs(30), || {
        outbox(&db).into_iter().find(|r| r.attempts >= 1)
    })
    .unwrap_or_else(|| panic!("no failed attempt recorded:\n{}", gateway.log()));
    let key = failed.event_key.clone();
    let row = outbox(&db)
        .into_iter()
        .find(|r| r.event_key == key)
        .unwrap();
    assert_eq!(row.status, "queued");
    assert!(
        failed.last_error.is_some_and(|e| e.starts_with("SMTP: ")),
        "{row:?}"
    );

    // Killed between enqueue and send; the server comes back; the gateway restarts.
    gateway.kill9();
    let _server = start_smtp(&dir, smtp);
    let gateway = start_gateway("gateway-2", &dir, "site.toml", http);
    let sent = wait_for(Duration::from_secs(60), || {
        outbox(&db)
            .into_iter()
            .find(|r| r.event_key == key && r.status == "sent")
    });
    assert!(
        sent.is_some(),
        "not sent after the restart:\n{}",
        gateway.log()
    );
    assert_eq!(mails(&dir).len(), 1);

    // A second notification, queued after the first was sent, arrives: the first is not sent
    // again in the meantime.
    queue(&dir);
    assert!(
        wait_for(Duration::from_secs(30), || (mails(&dir).len() >= 2)
            .then_some(()))
        .is_some(),
        "the second notification did not arrive:\n{}",
        gateway.log()
    );
    let ids: Vec<String> = mails(&dir)
        .iter()
        .map(|m| parse_mail(m).message_id)
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids[0].contains(&key.replace(':', ".")), "{ids:?} {key}");
    assert_ne!(ids[0], ids[1]);
    let rows = outbox(&db);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.status == "sent"), "{rows:?}");
    assert_eq!(
        rows[0].attempts, 2,
        "one failed attempt, then one delivery: {rows:?}"
    );
}

/// The alarms table's (alarm, state) rows.
fn alarm_rows(db: &Path) -> Vec<(String, String)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut stmt = conn
        .prepare("SELECT alarm, state FROM alarms ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A real alarm as the cause: the demand alarm is raised while the SMTP server is down, so its
/// notification is recorded and queued, fails once, and the gateway is killed with SIGKILL
/// before it retries. With the server back and the gateway restarted, exactly one email for
/// that alarm arrives.
#[test]
fn a_demand_alarm_raised_during_an_smtp_outage_and_a_sigkill_is_mailed_exactly_once() {
    const TOKEN: &str = "n0tify-k1ll";
    let smtp = free_port(); // nothing listens yet
    let mut rig = DemandRig::start_with(
        "notify-alarm-kill9",
        "e2e-kill9",
        TOKEN,
        &email_channel(smtp),
    );
    let db = rig.db();
    // 2 MW against the rig's 100 kW contract: over the warn level at once. Held to the end,
    // so the alarm neither clears nor raises again (which would be another notification).
    let raised = rig.raise_demand(2000.0, 120);
    assert_eq!(raised["state"], "raised");

    // The alarm row and its notification, failed once with the server down.
    let failed = wait_for(Duration::from_secs(30), || {
        outbox(&db)
            .into_iter()
            .find(|r| r.event_key.starts_with("demand:") && r.attempts >= 1)
    })
    .unwrap_or_else(|| panic!("no failed attempt recorded:\n{}", rig.gateway.log()));
    rig.kill9_gateway();
    assert_eq!(failed.status, "queued", "{failed:?}");
    assert_eq!(failed.attempts, 1, "{failed:?}");
    assert!(
        failed
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("SMTP: ")),
        "{failed:?}"
    );
    assert!(failed.event_key.ends_with(":raised"), "{failed:?}");
    assert_eq!(
        alarm_rows(&db),
        [("demand".to_owned(), "raised".to_owned())],
        "the alarm row"
    );

    // The server comes back; the gateway restarts on the same database.
    let _server = start_smtp(&rig.dir, smtp);
    rig.restart_gateway("gateway-2");
    let sent = wait_for(Duration::from_secs(60), || {
        outbox(&db)
            .into_iter()
            .find(|r| r.event_key == failed.event_key && r.status == "sent")
    })
    .unwrap_or_else(|| panic!("not sent after the restart:\n{}", rig.gateway.log()));
    assert_eq!(
        sent.attempts, 2,
        "one failed attempt, then one delivery: {sent:?}"
    );

    // A fence: a test notification queued now is sent after anything queued before it, so
    // once it arrives a repeat of the alarm's would have too.
    let out = gateway_cmd(
        &rig.dir,
        &["notify", "test", "--config", "site.toml", "--no-wait"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = wait_for(Duration::from_secs(30), || {
        let got: Vec<Mail> = mails(&rig.dir).iter().map(|m| parse_mail(m)).collect();
        got.iter()
            .any(|m| m.subject.contains("Test notification"))
            .then_some(got)
    })
    .unwrap_or_else(|| {
        panic!(
            "the test notification did not arrive:\n{}",
            rig.gateway.log()
        )
    });
    let demand: Vec<&Mail> = all
        .iter()
        .filter(|m| m.subject.contains("Demand"))
        .collect();
    assert_eq!(demand.len(), 1, "{all:#?}");
    let mail = demand[0];
    assert!(
        mail.subject
            .starts_with("[kilowatch] CRITICAL Demand warning: demand heading for "),
        "{}",
        mail.subject
    );
    assert!(
        mail.message_id
            .contains(&failed.event_key.replace(':', ".")),
        "{} {}",
        mail.message_id,
        failed.event_key
    );
    for needle in [
        "Evidence:",
        "contract ",
        "100",
        "warn level",
        "95",
        "to shed now",
        "no tariff",
        "Rule      demand (demand)",
    ] {
        assert!(mail.body.contains(needle), "{needle} not in\n{}", mail.body);
    }
    assert_eq!(all.len(), 2, "only the alarm's and the test's: {all:#?}");
    rig.stop_meter();
}

#[test]
fn bad_channels_are_config_errors_naming_file_key_and_line() {
    let dir = scratch("notify-config");
    let cases = [
        (
            "[site]\nid = \"p\"\n\n[[notifications]]\nid = \"hook\"\nkind = \"webhook\"\nurl = \"http://alerts.example.com/hook\"\n",
            "bad.toml: notifications[0].url: `http://alerts.example.com/hook` is plain HTTP to another machine",
            "(line 7)",
        ),
        (
            "[site]\nid = \"p\"\n\n[[notifications]]\nid = \"ops\"\nkind = \"email\"\nsmtp_host = \"127.0.0.1\"\nfrom = \"a@b.example\"\nto = [\"c@d.example\"]\nusername = \"kw\"\npassword_env = \"KW_NOTIFY_UNSET_PASSWORD\"\n",
            "bad.toml: notifications[0].password_env: environment variable KW_NOTIFY_UNSET_PASSWORD is not set",
            "(line 11)",
        ),
    ];
    for (text, message, line) in cases {
        std::fs::write(dir.join("bad.toml"), text).unwrap();
        for args in [
            &["notify", "test", "--config", "bad.toml"][..],
            &["run", "--config", "bad.toml"],
        ] {
            let out = gateway_cmd(&dir, args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(
                stderr.contains(message) && stderr.trim_end().ends_with(line),
                "{args:?}: {stderr}"
            );
        }
    }
}
