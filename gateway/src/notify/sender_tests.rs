//! The sender against a real local HTTP receiver and a real store: the hourly limit defers
//! (never drops) what is over it, and a failed delivery is kept with its error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use chrono::Utc;
use kilowatch_site::config::SiteConfig;
use kilowatch_site::profile::ProfileLibrary;
use tokio::sync::watch;

use super::Sender;
use crate::notify::event::{Event, Severity};
use crate::store::{Store, StoreWriter};

/// Answers `status` to every request and reports each request's body.
fn receiver(status: &'static str) -> (u16, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut line, mut len) = (String::new(), 0);
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = tx.send(body);
        }
    });
    (port, rx)
}

fn setup(name: &str, port: u16, extra: &str) -> (SiteConfig, StoreWriter) {
    let text = format!(
        "[site]\nid = \"p\"\n[[notifications]]\nid = \"hook\"\nkind = \"webhook\"\n\
         url = \"http://127.0.0.1:{port}/\"\n{extra}"
    );
    let site = SiteConfig::parse(&text, "t", &ProfileLibrary::builtin()).unwrap();
    let dir = std::env::temp_dir().join(format!("kw-sender-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let writer = StoreWriter::spawn(Store::open(&dir.join("t.db")).unwrap()).unwrap();
    (site, writer)
}

fn alarm(key: &str) -> Event {
    Event {
        key: key.into(),
        rule: "demand".into(),
        severity: Severity::Warning,
        ..Event::test(Utc::now())
    }
}

#[tokio::test]
async fn over_the_hourly_limit_notifications_wait_instead_of_going_or_vanishing() {
    let (port, rx) = receiver("200 OK");
    let (site, writer) = setup("limit", port, "max_per_hour = 1\n");
    let sender = Sender::new(&site, None).unwrap();
    let channels = site.notifications.clone();
    writer
        .call(move |s| {
            s.notify_enqueue(&channels, &alarm("a"))?;
            s.notify_enqueue(&channels, &alarm("b"))
        })
        .await
        .unwrap();
    let (_tx, stop) = watch::channel(false);
    assert_eq!(sender.pass(&writer, None, &stop).await.unwrap(), 2);
    let body: serde_json::Value =
        serde_json::from_slice(&rx.recv_timeout(Duration::from_secs(5)).unwrap()).unwrap();
    assert_eq!(body["event"]["key"], "a");
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "only one within the hour"
    );
    let rows = writer
        .call(|s| s.notify_rows(&["a".into(), "b".into()]))
        .await
        .unwrap();
    assert_eq!(
        (rows[0].status.as_str(), rows[1].status.as_str()),
        ("sent", "queued")
    );
    assert_eq!(rows[1].attempts, 0, "deferred, not failed");
    // Not due again before the hour is over.
    assert_eq!(sender.pass(&writer, None, &stop).await.unwrap(), 0);
    assert_eq!(
        sender.stats.sent.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(
        sender
            .stats
            .queued
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn a_refused_delivery_stays_queued_with_the_servers_answer() {
    let (port, rx) = receiver("503 Service Unavailable");
    let (site, writer) = setup("refused", port, "");
    let sender = Sender::new(&site, None).unwrap();
    let channels = site.notifications.clone();
    writer
        .call(move |s| s.notify_enqueue(&channels, &alarm("a")))
        .await
        .unwrap();
    let (_tx, stop) = watch::channel(false);
    assert_eq!(sender.pass(&writer, None, &stop).await.unwrap(), 1);
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let row = &writer.call(|s| s.notify_rows(&["a".into()])).await.unwrap()[0];
    assert_eq!((row.status.as_str(), row.attempts), ("queued", 1));
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("HTTP 503")),
        "{row:?}"
    );
    // Backing off: not tried again at once.
    assert_eq!(sender.pass(&writer, None, &stop).await.unwrap(), 0);
    assert_eq!(
        sender
            .stats
            .failed
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn held_notifications_go_out_once_the_channel_has_no_digest() {
    let (port, rx) = receiver("200 OK");
    let (site, writer) = setup("release", port, "max_per_hour = 1\ndigest = \"08:00\"\n");
    let channels = site.notifications.clone();
    writer
        .call(move |s| {
            s.notify_enqueue(&channels, &alarm("a"))?;
            s.notify_enqueue(&channels, &alarm("b"))
        })
        .await
        .unwrap();
    let (_tx, stop) = watch::channel(false);
    let sender = Sender::new(&site, None).unwrap();
    sender.pass(&writer, None, &stop).await.unwrap();
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let b = &writer.call(|s| s.notify_rows(&["b".into()])).await.unwrap()[0];
    assert_eq!(b.status, "held");
    // The digest is taken out of the site file (and the limit raised): b goes on its own.
    let mut site = site;
    site.notifications[0].digest = None;
    site.notifications[0].max_per_hour = Some(5);
    let sender = Sender::new(&site, None).unwrap();
    sender.pass(&writer, None, &stop).await.unwrap();
    let body: serde_json::Value =
        serde_json::from_slice(&rx.recv_timeout(Duration::from_secs(5)).unwrap()).unwrap();
    assert_eq!(body["event"]["key"], "b");
}
