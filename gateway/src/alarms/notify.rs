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
