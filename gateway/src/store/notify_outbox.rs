//! The notification outbox: one row per (alarm transition, channel), queued in the same
//! transaction as the transition that causes it, sent and marked by `notify::sender`.
//!
//! Enqueueing inside the alarm's own transaction is what makes a crash harmless: either the
//! transition and its notifications are both stored, or neither is; a row, once stored, stays
//! queued until a send succeeds, and is marked sent right after.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::conn::Store;
use super::error::StoreError;
use crate::notify::event::{Digest, DigestItem, Event, Severity};
use crate::notify::route::{routes, Channel, RecentSends};

/// Queues `event` for every channel that routes it (see `notify::route::routes`), inside the
/// caller's transaction. Returns how many rows were added: enqueueing the same event key again
/// adds none.
pub fn enqueue(tx: &Transaction, channels: &[Channel], event: &Event) -> rusqlite::Result<usize> {
    let ids: Vec<&str> = channels
        .iter()
        .filter(|c| routes(c, event))
        .map(|c| c.id.as_str())
        .collect();
    insert_event(tx, &ids, event)
}

/// Queues a stored report (`body`: a `ReportMail`) for the named email channels, once per
/// key and channel.
pub fn enqueue_report(
    conn: &Connection,
    channels: &[&str],
    key: &str,
    body: &str,
) -> rusqlite::Result<usize> {
    let now = Utc::now().timestamp_millis();
    let mut n = 0;
    for channel in channels {
        n += insert(conn, channel, "report", key, Severity::Info, body, now)?;
    }
    Ok(n)
}

/// Queues `event` for the named channels, whatever their routing (`notify test`).
fn insert_event(conn: &Connection, channels: &[&str], event: &Event) -> rusqlite::Result<usize> {
    let body = serde_json::to_string(event)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let now = Utc::now().timestamp_millis();
    let mut n = 0;
    for channel in channels {
        n += insert(
            conn,
            channel,
            "event",
            &event.key,
            event.severity,
            &body,
            now,
        )?;
    }
    Ok(n)
}

fn insert(
    conn: &Connection,
    channel: &str,
    kind: &str,
    key: &str,
    severity: Severity,
    body: &str,
    now: i64,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO notify_outbox(event_key, channel, kind, severity, body, created_at, due_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![key, channel, kind, severity.as_str(), body, now])
}

/// A queued notification.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub event_key: String,
    pub channel: String,
    /// `event` (body: an `Event`) or `digest` (body: a `Digest`).
    pub kind: String,
    pub severity: Severity,
    pub body: String,
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
}

const COLUMNS: &str =
    "id, event_key, channel, kind, severity, body, status, attempts, last_error, sent_at";

fn row(r: &rusqlite::Row) -> rusqlite::Result<OutboxRow> {
    let severity: String = r.get(4)?;
    Ok(OutboxRow {
        id: r.get(0)?,
        event_key: r.get(1)?,
        channel: r.get(2)?,
        kind: r.get(3)?,
        severity: match severity.as_str() {
            "critical" => Severity::Critical,
            "warning" => Severity::Warning,
            _ => Severity::Info,
        },
        body: r.get(5)?,
        status: r.get(6)?,
        attempts: r.get(7)?,
        last_error: r.get(8)?,
        sent_at: r.get(9)?,
    })
}

/// What became of an attempt on a claimed row.
#[derive(Debug, Clone)]
pub enum Settle {
    Sent,
    /// Failed: kept queued with the error, tried again at `retry_at`.
    Failed {
        error: String,
        retry_at: i64,
    },
    /// Paced: kept for the digest.
    Held,
    /// Paced: tried again at this time.
    Deferred(i64),
    /// Given up on purpose (a `notify test` that failed is not sent later).
    Cancelled,
}

impl Store {
    /// [`enqueue`] in a transaction of its own.
    pub fn notify_enqueue(
        &mut self,
        channels: &[Channel],
        event: &Event,
    ) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let n = enqueue(&tx, channels, event)?;
        tx.commit()?;
        Ok(n)
    }

    /// Queues `event` for the named channels, whatever their routing (`notify test`).
    pub fn notify_enqueue_to(
        &mut self,
        channels: &[&str],
        event: &Event,
    ) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let n = insert_event(&tx, channels, event)?;
        tx.commit()?;
        Ok(n)
    }

    /// Claims up to `limit` rows of `channels` due at `now` (ms) that no other sender holds,
    /// for `lease_ms`; with `keys`, only rows of those event keys. The claim is atomic, so two
    /// processes (the gateway, `notify test`) never send the same row at once.
    pub fn notify_claim(
        &mut self,
        channels: &[String],
        keys: Option<&[String]>,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let json = |v: &[String]| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        let (channels, keys) = (json(channels), keys.map(json));
        let rows = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM notify_outbox
                 WHERE status = 'queued' AND due_at <= ?1
                   AND (claimed_until IS NULL OR claimed_until <= ?1)
                   AND channel IN (SELECT value FROM json_each(?3))
                   AND (?4 IS NULL OR event_key IN (SELECT value FROM json_each(?4)))
                 ORDER BY due_at, id LIMIT ?2"
            ))?;
            let rows = stmt
                .query_map(params![now, limit as i64, channels, keys], row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut claim =
                tx.prepare_cached("UPDATE notify_outbox SET claimed_until = ?2 WHERE id = ?1")?;
            for r in &rows {
                claim.execute(params![r.id, now + lease_ms])?;
            }
            rows
        };
        tx.commit()?;
        Ok(rows)
    }

    /// Records the outcome of an attempt on a claimed row and releases the claim.
    pub fn notify_settle(&mut self, id: i64, outcome: &Settle, now: i64) -> Result<(), StoreError> {
        let sql = "UPDATE notify_outbox SET claimed_until = NULL, ";
        match outcome {
            Settle::Sent => self.conn.execute(
                &format!("{sql} status = 'sent', sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1"),
                params![id, now],
            ),
            Settle::Failed { error, retry_at } => self.conn.execute(
                &format!("{sql} attempts = attempts + 1, last_error = ?2, due_at = ?3 WHERE id = ?1"),
                params![id, error, retry_at],
            ),
            Settle::Held => self
                .conn
                .execute(&format!("{sql} status = 'held' WHERE id = ?1"), [id]),
            Settle::Deferred(at) => self
                .conn
                .execute(&format!("{sql} due_at = ?2 WHERE id = ?1"), params![id, at]),
            Settle::Cancelled => self
                .conn
                .execute(&format!("{sql} status = 'cancelled' WHERE id = ?1"), [id]),
        }?;
        Ok(())
    }

    /// What `channel` sent on its own in the hour before `now` (ms): the hourly limit.
    pub fn notify_recent(&self, channel: &str, now: i64) -> Result<RecentSends, StoreError> {
        let (count, oldest): (u32, Option<i64>) = self.conn.query_row(
            "SELECT count(*), min(sent_at) FROM notify_outbox
             WHERE channel = ?1 AND kind = 'event' AND status = 'sent' AND sent_at > ?2",
            params![channel, now - 3_600_000],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(RecentSends {
            count,
            oldest: oldest.and_then(DateTime::from_timestamp_millis),
        })
    }

    /// Queues the digest `key` of `channel` for [until - 24 h, until), once: its items are the
    /// channel's event notifications created then (the held ones become `digested`). An empty
    /// digest is stored as `skipped`. Returns whether the digest was new.
    pub fn notify_digest(
        &mut self,
        channel: &str,
        key: &str,
        until: DateTime<Utc>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let exists = tx
            .query_row(
                "SELECT 1 FROM notify_outbox WHERE event_key = ?1 AND channel = ?2",
                params![key, channel],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if exists {
            return Ok(false);
        }
        let since = until - chrono::Duration::hours(24);
        let window = (channel, since.timestamp_millis(), until.timestamp_millis());
        let items = {
            let mut stmt = tx.prepare_cached(
                "SELECT status, body FROM notify_outbox
                 WHERE channel = ?1 AND kind = 'event' AND created_at >= ?2 AND created_at < ?3
                   AND status IN ('sent', 'held', 'queued')
                 ORDER BY created_at, id",
            )?;
            let rows = stmt.query_map(window, |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut items = Vec::new();
            for r in rows {
                let (status, body) = r?;
                // A body this build cannot read is left out of the digest, not fatal to it.
                if let Ok(event) = serde_json::from_str::<Event>(&body) {
                    items.push(DigestItem { status, event });
                }
            }
            items
        };
        let severity = items
            .iter()
            .map(|i| i.event.severity)
            .max()
            .unwrap_or(Severity::Info);
        let empty = items.is_empty();
        let body = serde_json::to_string(&Digest {
            since,
            until,
            items,
        })
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        insert(&tx, channel, "digest", key, severity, &body, now)?;
        if empty {
            tx.execute(
                "UPDATE notify_outbox SET status = 'skipped' WHERE event_key = ?1 AND channel = ?2",
                params![key, channel],
            )?;
        }
        tx.execute(
            "UPDATE notify_outbox SET status = 'digested'
             WHERE channel = ?1 AND kind = 'event' AND status = 'held'
               AND created_at >= ?2 AND created_at < ?3",
            window,
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Queues again what `channel` held for a digest it no longer has (the site file changed).
    pub fn notify_release_held(&mut self, channel: &str) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "UPDATE notify_outbox SET status = 'queued' WHERE channel = ?1 AND status = 'held'",
            [channel],
        )?)
    }

    /// The rows of these event keys (what `notify test` waits on).
    pub fn notify_rows(&self, keys: &[String]) -> Result<Vec<OutboxRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM notify_outbox WHERE event_key = ?1 ORDER BY id"
        ))?;
        let mut out = Vec::new();
        for k in keys {
            for r in stmt.query_map([k], row)? {
                out.push(r?);
            }
        }
        Ok(out)
    }

    /// Rows waiting to be sent and rows held for a digest.
    pub fn notify_pending(&self) -> Result<(u64, u64), StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'held')
             FROM notify_outbox WHERE status IN ('queued', 'held')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Deletes finished rows (sent, digested, skipped, cancelled) created before `before` (ms).
    pub fn notify_purge(&mut self, before: i64) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM notify_outbox
             WHERE status IN ('sent', 'digested', 'skipped', 'cancelled') AND created_at < ?1",
            [before],
        )?)
    }
}
