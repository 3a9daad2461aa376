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
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp/sink.py");
    let mail = dir.join("mail");
    let proc = Proc::spawn(
        "smtp",
        &smtp_python(),
        &[
            script.to_str().expect("UTF-8 path"),
            "127.0.0.1",
            &port.to_string(),
            mail.to_str().expect("UTF-8 path"),
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

/// The messages received so far in `dir`, oldest first.
pub fn mails(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("mail"))
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
