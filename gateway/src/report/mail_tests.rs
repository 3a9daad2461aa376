//! A report queued for an email channel goes through the notification outbox to a real
//! (minimal, local) SMTP server with the stored file attached.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use kilowatch_site::config::SiteConfig;
use kilowatch_site::profile::ProfileLibrary;
use tokio::sync::watch;

use super::mail::{email_channels, mail};
use super::{Format, Kind};
use crate::i18n::Language;
use crate::notify::Sender;
use crate::store::{NewReport, Store, StoreWriter};

/// Accepts one message and reports its DATA.
fn smtp_server() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut out, _)) = listener.accept() else {
            return;
        };
        let mut input = BufReader::new(out.try_clone().unwrap());
        let _ = write!(out, "220 test ESMTP\r\n");
        let (mut line, mut data, mut in_data) = (String::new(), String::new(), false);
        while input.read_line(&mut line).is_ok_and(|n| n > 0) {
            if in_data {
                if line == ".\r\n" {
                    in_data = false;
                    let _ = write!(out, "250 queued\r\n");
                    let _ = tx.send(std::mem::take(&mut data));
                } else {
                    data.push_str(&line);
                }
            } else {
                let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let answer = match verb.as_str() {
                    "EHLO" | "HELO" => "250 test\r\n",
                    "DATA" => {
                        in_data = true;
                        "354 go on\r\n"
                    }
                    "QUIT" => "221 bye\r\n",
                    _ => "250 ok\r\n",
                };
                let _ = write!(out, "{answer}");
                if verb == "QUIT" {
                    break;
                }
            }
            line.clear();
        }
    });
    (port, rx)
}

#[tokio::test]
async fn a_stored_report_is_mailed_with_its_file_attached() {
    let (port, rx) = smtp_server();
    let text = format!(
        "[site]\nid = \"p\"\nname = \"示範工廠\"\n[[notifications]]\nid = \"ops\"\nkind = \"email\"\n\
         smtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nsecurity = \"none\"\n\
         from = \"kw@plant.example\"\nto = [\"energy@plant.example\"]\n\
         [[notifications]]\nid = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\n"
    );
    let site = SiteConfig::parse(&text, "t", &ProfileLibrary::builtin()).unwrap();
    // Reports go by email only: the webhook is not among their channels.
    assert_eq!(email_channels(&site), ["ops"]);
    let dir = std::env::temp_dir().join(format!("kw-report-mail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let writer = StoreWriter::spawn(Store::open(&dir.join("t.db")).unwrap()).unwrap();
    let channels = email_channels(&site);
    let queued = writer
        .call(move |s| {
            let id = s.put_report(&NewReport {
                kind: "monthly",
                period: "2026-11",
                lang: "zh-TW",
                format: "pdf",
                trigger: "schedule",
                created_at: 1,
                body: b"%PDF-1.4 a report",
            })?;
            let m = mail(
                id,
                Kind::Monthly,
                "2026-11",
                Language::TraditionalChinese,
                Format::Pdf,
                "示範工廠",
            );
            s.queue_report_mail(&channels, &format!("report:{id}:1"), &m)
        })
        .await
        .unwrap();
    assert_eq!(queued, 1);
    let sender = Sender::new(&site, Some("ops")).unwrap();
    let (_stop_tx, stop) = watch::channel(false);
    assert_eq!(sender.pass(&writer, None, &stop).await.unwrap(), 1);
    let data = rx.recv_timeout(Duration::from_secs(10)).expect("a message");
    assert!(data.contains("monthly-2026-11-zh-TW.pdf"), "{data}");
    assert!(data.contains("application/pdf"), "{data}");
    // The attachment is the stored file (as text, or base64 where the bytes need it).
    assert!(
        data.contains("%PDF-1.4 a report") || data.contains("JVBERi0xLjQgYSByZXBvcnQ="),
        "{data}"
    );
    // Sent once: a second pass has nothing left.
    assert_eq!(sender.pass(&writer, None, &stop).await.unwrap(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
