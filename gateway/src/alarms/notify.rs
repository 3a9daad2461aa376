//! Alarm transitions as notifications: queued in the transaction that records them, so a
//! crash between recording and sending neither loses nor repeats one (the outbox's key is
//! unique per transition).

use kilowatch_site::config::{NotifyChannel, Severity};
use rusqlite::Transaction;

use crate::notify::Event;
use crate::store::{notify_enqueue, AlarmRow};

/// The notification of the transition that left `row` as stored.
pub(super) fn event(row: &AlarmRow) -> Event {
    let (at, evidence) = match row.state.as_str() {
        "cleared" => (
            row.cleared_at.unwrap_or(row.raised_at),
            row.cleared_evidence.as_ref().unwrap_or(&row.evidence),
        ),
        "acknowledged" => (row.acked_at.unwrap_or(row.raised_at), &row.evidence),
        _ => (row.raised_at, &row.evidence),
    };
    Event {
        key: format!("{}:{}:{}", row.id, row.occurrence, row.state),
        alarm_id: row.id.clone(),
        rule: row.rule.clone(),
        severity: severity(&row.severity),
        state: row.state.clone(),
        title: row.message.clone(),
        title_message: row.message_key.clone(),
        asset: (!row.subject.is_empty()).then(|| row.subject.clone()),
        evidence: evidence.clone(),
        link: row.link.clone(),
        at,
    }
}

fn severity(s: &str) -> Severity {
    match s {
        "critical" => Severity::Critical,
        "info" => Severity::Info,
        _ => Severity::Warning,
    }
}

/// Queues the notifications of a transition inside its transaction; none in the rule's
/// quiet hours (recorded and shown, not sent).
pub(super) fn queue(
    channels: &[NotifyChannel],
    quiet: bool,
    tx: &Transaction<'_>,
    row: &AlarmRow,
) -> rusqlite::Result<()> {
    if quiet || channels.is_empty() {
        return Ok(());
    }
    notify_enqueue(tx, channels, &event(row)).map(drop)
}

#[cfg(test)]
mod tests {
    use kilowatch_site::config::SiteConfig;
    use kilowatch_site::profile::ProfileLibrary;

    use super::queue;
    use crate::store::{NewAlarm, Store};

    #[test]
    fn each_transition_is_queued_once_with_its_record_and_quiet_ones_not_at_all() {
        let dir = std::env::temp_dir().join(format!("kw-alarm-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Store::open(&dir.join("t.db")).unwrap();
        let text = "[site]\nid = \"p\"\n[[notifications]]\nid = \"ops\"\nkind = \"webhook\"\n\
            url = \"https://h/a\"\nmin_severity = \"warning\"\n";
        let channels = SiteConfig::parse(text, "t", &ProfileLibrary::builtin())
            .unwrap()
            .notifications;
        let new = |alarm: &str, quiet| NewAlarm {
            alarm: alarm.into(),
            rule: "demand".into(),
            severity: "critical".into(),
            subject: "incomer".into(),
            raised_at: 1_000,
            quiet,
            message: "projected 480 kW against 450 kW".into(),
            message_key: None,
            evidence: serde_json::json!({ "projected_kw": 480.0 }),
            link: "/dashboard/#/plant".into(),
        };
        let raised = s
            .raise_alarm(&new("demand", false), &|tx, row| {
                queue(&channels, row.quiet, tx, row)
            })
            .unwrap()
            .unwrap();
        let key = format!("demand:{}:raised", raised.occurrence);
        let rows = s.notify_rows(std::slice::from_ref(&key)).unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].channel, "ops");
        // The clear is its own transition; a quiet raise is recorded, not queued.
        let cleared = s
            .clear_alarm(
                raised.occurrence,
                (2_000, &serde_json::json!({ "projected_kw": 300.0 })),
                &|tx, row| queue(&channels, false, tx, row),
            )
            .unwrap()
            .unwrap();
        assert_eq!(cleared.state, "cleared");
        let clear_key = format!("demand:{}:cleared", raised.occurrence);
        assert_eq!(s.notify_rows(&[clear_key]).unwrap().len(), 1);
        let quiet = s
            .raise_alarm(&new("night", true), &|tx, row| {
                queue(&channels, row.quiet, tx, row)
            })
            .unwrap()
            .unwrap();
        let quiet_key = format!("night:{}:raised", quiet.occurrence);
        assert!(s.notify_rows(&[quiet_key]).unwrap().is_empty());
        // A queueing failure rolls the record back with it.
        let failed = s.raise_alarm(&new("broken", false), &|_, _| {
            Err(rusqlite::Error::InvalidQuery)
        });
        assert!(failed.is_err());
        assert!(s.active_alarms().unwrap().iter().all(|r| r.id != "broken"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
