//! The notification outbox: routing inside a caller's transaction, idempotence, claims,
//! outcomes, the hourly count and the digest.

use chrono::{DateTime, Utc};
use kilowatch_site::config::SiteConfig;
use kilowatch_site::profile::ProfileLibrary;

use super::notify_outbox::{enqueue, Settle};
use super::Store;
use crate::notify::event::{Digest, Event, Severity};
use crate::notify::route::Channel;

fn store(name: &str) -> Store {
    let dir = std::env::temp_dir().join(format!("kw-notify-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Store::open(&dir.join("t.db")).unwrap()
}

fn channels() -> Vec<Channel> {
    let text = "[site]\nid = \"p\"\n\
        [[notifications]]\nid = \"all\"\nkind = \"webhook\"\nurl = \"https://h/a\"\nmin_severity = \"info\"\n\
        [[notifications]]\nid = \"critical\"\nkind = \"webhook\"\nurl = \"https://h/c\"\nmin_severity = \"critical\"\n";
    SiteConfig::parse(text, "t", &ProfileLibrary::builtin())
        .unwrap()
        .notifications
}

fn event(key: &str, severity: Severity) -> Event {
    Event {
        key: key.into(),
        severity,
        ..Event::test(Utc::now())
    }
}

fn ids(rows: &[super::OutboxRow]) -> Vec<(String, String)> {
    rows.iter()
        .map(|r| (r.event_key.clone(), r.channel.clone()))
        .collect()
}

#[test]
fn enqueue_routes_inside_the_callers_transaction_once() {
    let mut s = store("enqueue");
    let chans = channels();
    // Rolled back with the caller's transaction: nothing queued.
    {
        let tx = s.conn.transaction().unwrap();
        assert_eq!(
            enqueue(&tx, &chans, &event("a", Severity::Critical)).unwrap(),
            2
        );
    }
    assert!(s.notify_rows(&["a".into()]).unwrap().is_empty());
    // Committed: one row per routed channel; again: nothing more.
    let tx = s.conn.transaction().unwrap();
    tx.execute(
        "INSERT INTO meta(key, value) VALUES ('alarm', 'raised')",
        [],
    )
    .unwrap();
    assert_eq!(
        enqueue(&tx, &chans, &event("a", Severity::Critical)).unwrap(),
        2
    );
    assert_eq!(
        enqueue(&tx, &chans, &event("a", Severity::Critical)).unwrap(),
        0
    );
    tx.commit().unwrap();
    assert_eq!(
        s.notify_enqueue(&chans, &event("a", Severity::Critical))
            .unwrap(),
        0
    );
    assert_eq!(
        s.notify_enqueue(&chans, &event("b", Severity::Warning))
            .unwrap(),
        1
    );
    let rows = s.notify_rows(&["a".into(), "b".into()]).unwrap();
    assert_eq!(
        ids(&rows),
        [("a", "all"), ("a", "critical"), ("b", "all")].map(|(k, c)| (k.into(), c.into()))
    );
    let back: Event = serde_json::from_str(&rows[0].body).unwrap();
    assert_eq!(back.key, "a");
    assert_eq!(rows[0].severity, Severity::Critical);
}

#[test]
fn claims_are_exclusive_and_outcomes_are_kept() {
    let mut s = store("claim");
    let chans = channels();
    s.notify_enqueue(&chans, &event("a", Severity::Info))
        .unwrap();
    s.notify_enqueue(&chans, &event("b", Severity::Info))
        .unwrap();
    let now = Utc::now().timestamp_millis() + 1;
    let all = vec!["all".to_string()];
    let first = s.notify_claim(&all, None, now, 60_000, 1).unwrap();
    assert_eq!(ids(&first), [("a".into(), "all".into())]);
    // Claimed rows are not handed out again until the lease ends.
    let second = s.notify_claim(&all, None, now, 60_000, 10).unwrap();
    assert_eq!(ids(&second), [("b".into(), "all".into())]);
    assert!(s
        .notify_claim(&all, None, now, 60_000, 10)
        .unwrap()
        .is_empty());
    assert_eq!(
        s.notify_claim(&all, None, now + 60_000, 60_000, 10)
            .unwrap()
            .len(),
        2
    );

    let failed = Settle::Failed {
        error: "SMTP: refused".into(),
        retry_at: now + 5_000,
    };
    s.notify_settle(first[0].id, &failed, now).unwrap();
    s.notify_settle(second[0].id, &Settle::Sent, now).unwrap();
    let rows = s.notify_rows(&["a".into(), "b".into()]).unwrap();
    assert_eq!((rows[0].status.as_str(), rows[0].attempts), ("queued", 1));
    assert_eq!(rows[0].last_error.as_deref(), Some("SMTP: refused"));
    assert_eq!(
        (rows[1].status.as_str(), rows[1].sent_at),
        ("sent", Some(now))
    );
    // A failed row waits for its retry time; then only it is due.
    assert!(s
        .notify_claim(&all, None, now + 4_999, 60_000, 10)
        .unwrap()
        .is_empty());
    let retry = s
        .notify_claim(&all, Some(&["a".into()]), now + 5_000, 60_000, 10)
        .unwrap();
    assert_eq!(ids(&retry), [("a".into(), "all".into())]);
    assert_eq!(s.notify_recent("all", now).unwrap().count, 1);
    assert_eq!(s.notify_recent("all", now + 3_600_000).unwrap().count, 0);
    assert_eq!(s.notify_pending().unwrap(), (1, 0));
}

#[test]
fn the_digest_takes_the_days_notifications_once() {
    let mut s = store("digest");
    let chans = channels();
    s.notify_enqueue(&chans, &event("sent", Severity::Warning))
        .unwrap();
    s.notify_enqueue(&chans, &event("held", Severity::Critical))
        .unwrap();
    let now = Utc::now().timestamp_millis() + 1;
    let all = vec!["all".to_string()];
    let rows = s.notify_claim(&all, None, now, 60_000, 10).unwrap();
    s.notify_settle(rows[0].id, &Settle::Sent, now).unwrap();
    s.notify_settle(rows[1].id, &Settle::Held, now).unwrap();
    // The critical one is queued for the critical channel too.
    assert_eq!(s.notify_pending().unwrap(), (1, 1));

    let until = DateTime::from_timestamp_millis(now + 1).unwrap();
    assert!(s.notify_digest("all", "digest:d1", until, now).unwrap());
    assert!(!s.notify_digest("all", "digest:d1", until, now).unwrap());
    let row = &s.notify_rows(&["digest:d1".into()]).unwrap()[0];
    assert_eq!(
        (row.kind.as_str(), row.status.as_str(), row.severity),
        ("digest", "queued", Severity::Critical)
    );
    let d: Digest = serde_json::from_str(&row.body).unwrap();
    let got: Vec<(&str, &str)> = d
        .items
        .iter()
        .map(|i| (i.event.key.as_str(), i.status.as_str()))
        .collect();
    assert_eq!(got, [("sent", "sent"), ("held", "held")]);
    let held = &s.notify_rows(&["held".into()]).unwrap()[0];
    assert_eq!(held.status, "digested");
    // A day without notifications: nothing to send.
    let yesterday = until - chrono::Duration::hours(24);
    assert!(s
        .notify_digest("critical", "digest:d0", yesterday, now)
        .unwrap());
    let empty = &s.notify_rows(&["digest:d0".into()]).unwrap()[0];
    assert_eq!(empty.status, "skipped");
    // Finished: sent, digested, skipped; the digest and the critical row are still queued.
    assert_eq!(s.notify_purge(now + 1).unwrap(), 3);
}
