//! Alarm notifications end to end, with real parts: an SMTP server (aiosmtpd) that keeps every
//! message it accepts, a webhook receiver on a real socket whose signature is checked with
//! `openssl`, a real mosquitto and `kilowatch-gateway run` killed with SIGKILL.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kilowatch_e2e::{
    bin, free_port, require, scratch, start_gateway, wait_for, wait_for_port, Mosquitto, Proc,
};

/// The test virtualenv's Python, which must import aiosmtpd.
fn smtp_python() -> PathBuf {
    kilowatch_e2e::python_with("aiosmtpd", "aiosmtpd==1.4.6")
}

/// aiosmtpd on `port`, writing each accepted message to `dir/mail/NNNN.eml`.
fn start_smtp(dir: &Path, port: u16) -> Proc {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp/sink.py");
    let mail = dir.join("mail");
    let proc = Proc::spawn(
        "smtp",
        &smtp_python(),
        &[
            script.to_str().unwrap(),
            "127.0.0.1",
            &port.to_string(),
            mail.to_str().unwrap(),
        ],
        dir,
    );
    assert!(
        wait_for_port(port, Duration::from_secs(20)),
        "aiosmtpd did not listen:\n{}",
        proc.log()
    );
    proc
}

/// The messages received so far, oldest first.
fn mails(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("mail"))
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    v.sort();
    v
}

/// Subject, Message-ID and decoded text of a message, read by Python's own email parser.
fn parse_mail(path: &Path) -> (String, String, String) {
    let out = Command::new(smtp_python())
        .args([
            "-c",
            "import sys, email, email.policy as p\n\
             m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=p.default)\n\
             print(m['subject']); print(m['message-id']); print(m.get_content())",
            path.to_str().unwrap(),
        ])
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.splitn(3, '\n');
    let subject = lines.next().unwrap_or("").to_owned();
    let id = lines.next().unwrap_or("").to_owned();
    (subject, id, lines.next().unwrap_or("").to_owned())
}

fn email_channel(smtp: u16) -> String {
    format!(
        "\n[[notifications]]\nid = \"ops\"\nkind = \"email\"\nsmtp_host = \"127.0.0.1\"\n\
         smtp_port = {smtp}\nsecurity = \"none\"\nfrom = \"kilowatch@plant.example\"\n\
         to = [\"engineer@plant.example\"]\npublic_url = \"https://energy.plant.example\"\n"
    )
}

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
    let site = format!(
        "[site]\nid = \"p\"\ntimezone = \"Asia/Taipei\"\n{}",
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
    let (subject, id, body) = parse_mail(&got[0]);
    assert_eq!(
        subject,
        "[kilowatch] 測試通知 Test notification: Test notification 測試通知"
    );
    assert!(
        id.starts_with("<test.") && id.ends_with(".ops@kilowatch>"),
        "{id}"
    );
    for needle in [
        "證據 Evidence:",
        "check    kilowatch-gateway notify test",
        "時間 Time:",
        "https://energy.plant.example/#alarms",
    ] {
        assert!(body.contains(needle), "{needle} not in\n{body}");
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
    assert_eq!(statuses[0].1, "cancelled");

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

/// (event key, status, attempts, last error) of every outbox row.
fn outbox(db: &Path) -> Vec<(String, String, u32, Option<String>)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut stmt = conn
        .prepare("SELECT event_key, status, attempts, last_error FROM notify_outbox ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
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
        "[site]\nid = \"p\"\n\n[[notifications]]\nid = \"hook\"\nkind = \"webhook\"\n\
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
        .starts_with("[kilowatch] 測試通知"));
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
    let (key, _, _, error) = wait_for(Duration::from_secs(30), || {
        outbox(&db).into_iter().find(|r| r.2 >= 1)
    })
    .unwrap_or_else(|| panic!("no failed attempt recorded:\n{}", gateway.log()));
    let row = outbox(&db).into_iter().find(|r| r.0 == key).unwrap();
    assert_eq!(row.1, "queued");
    assert!(error.is_some_and(|e| e.starts_with("SMTP: ")), "{row:?}");

    // Killed between enqueue and send; the server comes back; the gateway restarts.
    gateway.kill9();
    let _server = start_smtp(&dir, smtp);
    let gateway = start_gateway("gateway-2", &dir, "site.toml", http);
    let sent = wait_for(Duration::from_secs(60), || {
        outbox(&db)
            .into_iter()
            .find(|r| r.0 == key && r.1 == "sent")
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
    let ids: Vec<String> = mails(&dir).iter().map(|m| parse_mail(m).1).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids[0].contains(&key.replace(':', ".")), "{ids:?} {key}");
    assert_ne!(ids[0], ids[1]);
    let rows = outbox(&db);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.1 == "sent"), "{rows:?}");
    assert_eq!(
        rows[0].2, 2,
        "one failed attempt, then one delivery: {rows:?}"
    );
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
