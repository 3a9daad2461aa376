//! What the notification tests share: an SMTP server (aiosmtpd) keeping every message it
//! accepts, Python's own email parser to read them, an email channel pointing at it, and the
//! gateway's notification outbox as stored.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{wait_for_port, Proc};

/// The test virtualenv's Python, which must import aiosmtpd.
pub fn smtp_python() -> PathBuf {
    crate::python_with("aiosmtpd", "aiosmtpd==1.4.6")
}

/// aiosmtpd on `port`, writing each accepted message to `dir/mail/NNNN.eml`.
pub fn start_smtp(dir: &Path, port: u16) -> Proc {
    start_smtp_with(dir, "smtp", port, "mail", &[])
}

/// aiosmtpd `name` on `port`, writing each accepted message to `dir/<mail>/NNNN.eml` and how
/// it came to `NNNN.json`; `options` of `tests/smtp/sink.py` (`--starttls`, `--tls`, `--cert`,
/// `--key`, `--auth USER:PASSWORD`, `--mechanism`).
pub fn start_smtp_with(dir: &Path, name: &str, port: u16, mail: &str, options: &[&str]) -> Proc {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp/sink.py");
    let mail = dir.join(mail);
    let port_text = port.to_string();
    let mut args = vec![
        script.to_str().expect("UTF-8 path"),
        "127.0.0.1",
        &port_text,
        mail.to_str().expect("UTF-8 path"),
    ];
    args.extend_from_slice(options);
    let proc = Proc::spawn(name, &smtp_python(), &args, dir);
    assert!(
        wait_for_port(port, Duration::from_secs(20)),
        "aiosmtpd did not listen:\n{}",
        proc.log()
    );
    proc
}

/// The messages received so far in `dir`, oldest first.
pub fn mails(dir: &Path) -> Vec<PathBuf> {
    mails_in(&dir.join("mail"))
}

/// The messages received so far in mail directory `mail`, oldest first.
pub fn mails_in(mail: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(mail)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    v.sort();
    v
}

/// A message as read by Python's own email parser.
#[derive(Debug, Clone)]
pub struct Mail {
    pub subject: String,
    pub message_id: String,
    /// The decoded text.
    pub body: String,
}

/// Reads a received message.
pub fn parse_mail(path: &Path) -> Mail {
    let out = Command::new(smtp_python())
        .args([
            "-c",
            "import sys, email, email.policy as p\n\
             m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=p.default)\n\
             print(m['subject']); print(m['message-id']); print(m.get_content())",
            path.to_str().expect("UTF-8 path"),
        ])
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 mail");
    let mut lines = text.splitn(3, '\n');
    let mut next = || lines.next().unwrap_or("").to_owned();
    Mail {
        subject: next(),
        message_id: next(),
        body: next(),
    }
}

/// A `[[notifications]]` email channel `ops` to the SMTP server on `smtp`, without TLS.
pub fn email_channel(smtp: u16) -> String {
    format!(
        "\n[[notifications]]\nid = \"ops\"\nkind = \"email\"\nsmtp_host = \"127.0.0.1\"\n\
         smtp_port = {smtp}\nsecurity = \"none\"\nfrom = \"kilowatch@plant.example\"\n\
         to = [\"engineer@plant.example\"]\npublic_url = \"https://energy.plant.example\"\n"
    )
}

/// One row of the gateway's notification outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub event_key: String,
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// Every outbox row of database `db`, oldest first.
pub fn outbox(db: &Path) -> Vec<OutboxRow> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the database");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    let mut stmt = conn
        .prepare("SELECT event_key, status, attempts, last_error FROM notify_outbox ORDER BY id")
        .expect("the outbox table");
    stmt.query_map([], |r| {
        Ok(OutboxRow {
            event_key: r.get(0)?,
            status: r.get(1)?,
            attempts: r.get(2)?,
            last_error: r.get(3)?,
        })
    })
    .expect("outbox rows")
    .map(|r| r.expect("outbox row"))
    .collect()
}

/// How a message came, as the server saw it: over TLS, under which login.
pub fn arrival(mail: &Path) -> (bool, Option<String>) {
    let text = std::fs::read_to_string(mail.with_extension("json")).expect("the arrival file");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    (
        v["tls"].as_bool().expect("tls"),
        v["login"].as_str().map(str::to_owned),
    )
}

/// A test certificate authority and a server certificate it signed for 127.0.0.1 and
/// localhost, made by `openssl` in `dir`: (CA certificate, server certificate, server key).
pub fn test_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = crate::require("openssl", "apt-get install openssl");
    let run = |args: &[&str]| {
        let out = Command::new(&openssl)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=kilowatch test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName = IP:127.0.0.1, DNS:localhost\n\
         basicConstraints = CA:FALSE\n\
         keyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\n",
    )
    .expect("extensions file");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}
