//! Email notifications over TLS with authentication, end to end: aiosmtpd with STARTTLS
//! required and AUTH PLAIN, and with TLS from the first byte (SMTPS) and AUTH LOGIN, both
//! with a certificate from a CA `openssl` makes here, which the gateway trusts through the
//! channel's `ca_file` (and only through it). A wrong password is a failed attempt, counted
//! in `/metrics`, and the notification waits in the outbox until the right one is given.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kilowatch_e2e::smtp::{
    arrival, mails_in, outbox, parse_mail, start_smtp_with, test_certificates,
};
use kilowatch_e2e::{bin, free_port, get_text, scratch, start_gateway, wait_for, Mosquitto};

const USER: &str = "kilowatch";
const PASSWORD: &str = "s3cret-Pa55";

fn gateway_cmd(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin("kilowatch-gateway"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("kilowatch-gateway")
}

/// A `[[notifications]]` email channel `id` to 127.0.0.1:`port` with `security`, logging in
/// as [`USER`] with the password in `password_file`, trusting `ca` when given.
fn channel(id: &str, port: u16, security: &str, ca: Option<&Path>) -> String {
    let ca = ca.map_or(String::new(), |p| {
        format!("ca_file = \"{}\"\n", p.display())
    });
    format!(
        "\n[[notifications]]\nid = \"{id}\"\nkind = \"email\"\nsmtp_host = \"127.0.0.1\"\n\
         smtp_port = {port}\nsecurity = \"{security}\"\nusername = \"{USER}\"\n\
         password_file = \"password\"\n{ca}from = \"kilowatch@plant.example\"\n\
         to = [\"engineer@plant.example\"]\n"
    )
}

/// `notify test` on channel `id`: whether it succeeded, its one line of output, and its log.
fn notify_test(dir: &Path, id: &str) -> (bool, String, String) {
    let out = gateway_cmd(
        dir,
        &["notify", "test", "--config", "site.toml", "--channel", id],
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn starttls_and_implicit_tls_deliver_with_authentication_against_the_channels_ca() {
    let dir = scratch("notify-tls");
    let (ca, cert, key) = test_certificates(&dir);
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let auth = format!("{USER}:{PASSWORD}");
    let (starttls, tls) = (free_port(), free_port());
    let _starttls = start_smtp_with(
        &dir,
        "smtp-starttls",
        starttls,
        "mail-starttls",
        &[
            "--starttls",
            "--cert",
            cert,
            "--key",
            key,
            "--auth",
            &auth,
            "--mechanism",
            "PLAIN",
        ],
    );
    let _tls = start_smtp_with(
        &dir,
        "smtp-tls",
        tls,
        "mail-tls",
        &[
            "--tls",
            "--cert",
            cert,
            "--key",
            key,
            "--auth",
            &auth,
            "--mechanism",
            "LOGIN",
        ],
    );
    std::fs::write(dir.join("password"), format!("{PASSWORD}\n")).unwrap();
    let site = format!(
        "[site]\nid = \"p\"\ntimezone = \"Asia/Taipei\"\n{}{}{}",
        channel("starttls", starttls, "starttls", Some(&ca)),
        channel("tls", tls, "tls", Some(&ca)),
        // The same server without the CA: the public roots do not know it.
        channel("untrusted", tls, "tls", None),
    );
    std::fs::write(dir.join("site.toml"), site).unwrap();

    for (id, mail) in [("starttls", "mail-starttls"), ("tls", "mail-tls")] {
        let (ok, out, log) = notify_test(&dir, id);
        assert!(ok, "{out}\n{log}");
        assert_eq!(out, format!("{id}: sent"));
        let got = mails_in(&dir.join(mail));
        assert_eq!(got.len(), 1, "{id}: {got:?}");
        // Over TLS, after logging in (the servers take no mail otherwise).
        assert_eq!(arrival(&got[0]), (true, Some(USER.to_owned())), "{id}");
        let m = parse_mail(&got[0]);
        assert!(m.subject.contains("Test notification"), "{id}: {m:?}");
    }

    let (ok, out, log) = notify_test(&dir, "untrusted");
    assert!(!ok, "{out}\n{log}");
    assert!(out.starts_with("untrusted: FAILED: SMTP: "), "{out}");
    assert!(out.to_lowercase().contains("certificate"), "{out}");
    assert_eq!(mails_in(&dir.join("mail-tls")).len(), 1);
}

#[test]
fn a_wrong_password_is_a_counted_failure_and_the_notification_waits_in_the_outbox() {
    let dir = scratch("notify-tls-password");
    let (ca, cert, key) = test_certificates(&dir);
    let port = free_port();
    let auth = format!("{USER}:{PASSWORD}");
    let _smtp = start_smtp_with(
        &dir,
        "smtp-starttls",
        port,
        "mail",
        &[
            "--starttls",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--auth",
            &auth,
            "--mechanism",
            "LOGIN",
        ],
    );
    std::fs::write(dir.join("password"), "not-the-password\n").unwrap();
    let mq = Mosquitto::start(&dir);
    let http = free_port();
    let site = format!(
        "[site]\nid = \"p\"\ntimezone = \"Asia/Taipei\"\n\n[mqtt]\nbroker = \"127.0.0.1:{}\"\n\n\
         [gateway]\nhttp = \"127.0.0.1:{http}\"\n{}",
        mq.port,
        channel("ops", port, "starttls", Some(&ca))
    );
    std::fs::write(dir.join("site.toml"), site).unwrap();
    let db = dir.join("kilowatch.db");
    let mut gateway = start_gateway("gateway", &dir, "site.toml", http);
    let out = gateway_cmd(
        &dir,
        &["notify", "test", "--config", "site.toml", "--no-wait"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Refused by the server: an error on the row, which stays queued, and in /metrics.
    let failed = wait_for(Duration::from_secs(30), || {
        outbox(&db).into_iter().find(|r| r.attempts >= 1)
    })
    .unwrap_or_else(|| panic!("no failed attempt recorded:\n{}", gateway.log()));
    assert_eq!(failed.status, "queued", "{failed:?}");
    let error = failed.last_error.clone().unwrap_or_default();
    assert!(error.starts_with("SMTP: "), "{failed:?}");
    assert!(
        error.contains("535"),
        "the server's authentication failure: {error}"
    );
    let metrics = get_text(&format!("http://127.0.0.1:{http}/metrics")).expect("metrics");
    let failures = metrics
        .lines()
        .find_map(|l| l.strip_prefix("kilowatch_notifications_failed_total "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(failures.is_some_and(|n| n >= 1), "{metrics}");
    assert!(mails_in(&dir.join("mail")).is_empty());

    // The right password and a restart: the same notification is delivered, once.
    gateway.kill9();
    std::fs::write(dir.join("password"), format!("{PASSWORD}\n")).unwrap();
    let gateway = start_gateway("gateway-2", &dir, "site.toml", http);
    let sent = wait_for(Duration::from_secs(60), || {
        outbox(&db)
            .into_iter()
            .find(|r| r.event_key == failed.event_key && r.status == "sent")
    });
    assert!(
        sent.is_some(),
        "not sent with the right password:\n{}",
        gateway.log()
    );
    let got = mails_in(&dir.join("mail"));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(arrival(&got[0]), (true, Some(USER.to_owned())));
    assert_eq!(outbox(&db).len(), 1);
}
