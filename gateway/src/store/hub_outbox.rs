//! The hub outbox (schema v13): what a portfolio hub gets from this site, kept until the
//! broker acknowledged it (see `uplink/`).
//!
//! Rows are written by triggers in the same transaction as the data they describe (a 15-minute
//! rollup, a daily or monthly EnPI row, an alarm transition, an M&V result), whichever
//! connection writes it, so nothing committed can miss the outbox. The triggers exist while the
//! site forwards to a hub: [`Store::hub_forwarding`] makes them at the gateway's start and
//! drops them when `[hub]` is gone. One row per (kind, key) holds the latest body; a changed
//! body gets a higher version and is sent again, an unchanged one is not touched. The version
//! is the change's time in ms (at least the last version + 1), so it only grows, even after
//! sent rows were purged, and the hub keeps the newest.

use rusqlite::params;

use super::conn::Store;
use super::error::StoreError;

/// A record waiting for the hub.
#[derive(Debug, Clone, PartialEq)]
pub struct HubRow {
    pub kind: String,
    pub key: String,
    pub version: i64,
    /// The time the record is about (bucket start, transition time), ms.
    pub at: Option<i64>,
    /// JSON.
    pub body: String,
    pub due_at: i64,
}

/// What the triggers forward, and when.
#[derive(Debug, Clone)]
pub struct HubTriggers {
    pub rollups: bool,
    pub enpi: bool,
    pub alarms: bool,
    pub savings: bool,
    /// Rollups and EnPI rows of buckets before this (ms) are not forwarded.
    pub from_ms: i64,
    /// A changed record waits this long (ms) before it is due.
    pub settle_ms: i64,
}

/// The upsert every producer uses: `:kind, :key, :at, :body, :due` bound by name in a
/// statement, or replaced by expressions in a trigger (see [`upsert`]).
const UPSERT_TAIL: &str = "
    ON CONFLICT(kind, key) DO UPDATE SET
        version = max(hub_outbox.version + 1, excluded.version),
        at = excluded.at,
        body = excluded.body,
        due_at = CASE WHEN hub_outbox.sent THEN excluded.due_at
                      ELSE min(hub_outbox.due_at, excluded.due_at) END,
        sent = 0
    WHERE hub_outbox.body IS NOT excluded.body";

const NOW_MS: &str = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";

/// `INSERT … SELECT … ON CONFLICT …` for one record; `from` (with its WHERE) ends the SELECT.
fn upsert(kind: &str, key: &str, at: &str, body: &str, due: &str, from: &str) -> String {
    format!(
        "INSERT INTO hub_outbox(kind, key, version, at, body, due_at, sent)
         SELECT '{kind}', {key}, {NOW_MS}, {at}, {body}, {due}, 0 {from}{UPSERT_TAIL};"
    )
}

const TRIGGERS: [&str; 7] = [
    "hub_rollup_ins",
    "hub_rollup_upd",
    "hub_enpi_ins",
    "hub_enpi_upd",
    "hub_alarm_ins",
    "hub_alarm_upd",
    "hub_savings_ins",
];

fn trigger_sql(t: &HubTriggers) -> String {
    let settle = t.settle_ms.max(0);
    let from = t.from_ms;
    let mut sql = String::new();
    if t.rollups {
        let body = "json_object('device', s.device, 'quantity', s.quantity, 'unit', s.unit,
            'asset', s.asset, 'bucket', NEW.bucket, 'count', NEW.count, 'avg', NEW.avg,
            'min', NEW.min, 'max', NEW.max, 'delta', NEW.delta, 'integral', NEW.integral,
            'gaps', NEW.gaps, 'resets', NEW.resets)";
        let up = upsert(
            "rollup",
            "s.device || '/' || s.quantity || '/' || NEW.bucket",
            "NEW.bucket",
            body,
            &format!("NEW.bucket + 900000 + {settle}"),
            "FROM series s WHERE s.id = NEW.series_id",
        );
        for (name, event) in [("hub_rollup_ins", "INSERT"), ("hub_rollup_upd", "UPDATE")] {
            sql.push_str(&format!(
                "CREATE TRIGGER {name} AFTER {event} ON rollups
                 WHEN NEW.res = 900 AND NEW.bucket >= {from} BEGIN {up} END;\n"
            ));
        }
    }
    if t.enpi {
        let up = upsert(
            "enpi",
            "NEW.asset || '/' || NEW.step || '/' || NEW.bucket",
            "NEW.bucket",
            "json_object('asset', NEW.asset, 'step', NEW.step, 'bucket', NEW.bucket,
               'partial', NEW.partial, 'facts', json(NEW.facts))",
            &format!("{NOW_MS} + {settle}"),
            "WHERE true",
        );
        for (name, event) in [("hub_enpi_ins", "INSERT"), ("hub_enpi_upd", "UPDATE")] {
            sql.push_str(&format!(
                "CREATE TRIGGER {name} AFTER {event} ON enpi
                 WHEN NEW.step IN ('1d', '1mo') AND NEW.bucket >= {from} BEGIN {up} END;\n"
            ));
        }
    }
    if t.alarms {
        // One record per transition (raised, acknowledged, cleared) of an occurrence.
        let up = upsert(
            "alarm",
            "NEW.id || '/' || NEW.state",
            "coalesce(NEW.cleared_at, NEW.acked_at, NEW.raised_at)",
            "json_object('id', NEW.id, 'alarm', NEW.alarm, 'rule', NEW.rule,
               'severity', NEW.severity, 'subject', NEW.subject, 'state', NEW.state,
               'raised_at', NEW.raised_at, 'acked_at', NEW.acked_at, 'acked_by', NEW.acked_by,
               'cleared_at', NEW.cleared_at, 'quiet', NEW.quiet, 'message', NEW.message)",
            NOW_MS,
            "WHERE true",
        );
        sql.push_str(&format!(
            "CREATE TRIGGER hub_alarm_ins AFTER INSERT ON alarms BEGIN {up} END;\n\
             CREATE TRIGGER hub_alarm_upd AFTER UPDATE OF state ON alarms
             WHEN OLD.state IS NOT NEW.state BEGIN {up} END;\n"
        ));
    }
    if t.savings {
        // mv_results is written with INSERT OR REPLACE: an insert every time.
        let up = upsert(
            "savings",
            "NEW.plan_id || '/' || NEW.period_from || '/' || NEW.period_to",
            "NEW.period_from",
            "json_object('plan', NEW.plan_id, 'from', NEW.period_from, 'to', NEW.period_to,
               'result', json(NEW.json))",
            &format!("{NOW_MS} + {settle}"),
            "WHERE true",
        );
        sql.push_str(&format!(
            "CREATE TRIGGER hub_savings_ins AFTER INSERT ON mv_results BEGIN {up} END;\n"
        ));
    }
    sql
}

impl Store {
    /// Makes the outbox triggers for `triggers` (replacing older ones), or drops them all
    /// with `None` (the site no longer forwards; what is queued stays until purged).
    pub fn hub_forwarding(&mut self, triggers: Option<&HubTriggers>) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for name in TRIGGERS {
            tx.execute_batch(&format!("DROP TRIGGER IF EXISTS {name};"))?;
        }
        if let Some(t) = triggers {
            tx.execute_batch(&trigger_sql(t))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Queues a record computed outside the triggers (data completeness).
    pub fn hub_put(
        &mut self,
        rows: &[(&str, String, Option<i64>, String, i64)],
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut put = tx.prepare_cached(&format!(
                "INSERT INTO hub_outbox(kind, key, version, at, body, due_at, sent)
                 VALUES (?1, ?2, {NOW_MS}, ?3, ?4, ?5, 0){UPSERT_TAIL}"
            ))?;
            for (kind, key, at, body, due) in rows {
                put.execute(params![kind, key, at, body, due])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Unsent rows due by `now`, in due order after `after` (due_at, kind, key), at most `limit`.
    pub fn hub_due(
        &self,
        now: i64,
        after: Option<&(i64, String, String)>,
        limit: usize,
    ) -> Result<Vec<HubRow>, StoreError> {
        let (d, k, key) = after
            .cloned()
            .unwrap_or((i64::MIN, String::new(), String::new()));
        let mut stmt = self.conn.prepare_cached(
            "SELECT kind, key, version, at, body, due_at FROM hub_outbox
             WHERE sent = 0 AND due_at <= ?1 AND (due_at, kind, key) > (?2, ?3, ?4)
             ORDER BY due_at, kind, key LIMIT ?5",
        )?;
        let rows = stmt.query_map(params![now, d, k, key, limit as i64], |r| {
            Ok(HubRow {
                kind: r.get(0)?,
                key: r.get(1)?,
                version: r.get(2)?,
                at: r.get(3)?,
                body: r.get(4)?,
                due_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks acknowledged versions sent (a row changed since stays unsent).
    pub fn hub_sent(&mut self, acked: &[(String, String, i64)]) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut upd = tx.prepare_cached(
                "UPDATE hub_outbox SET sent = 1 WHERE kind = ?1 AND key = ?2 AND version = ?3",
            )?;
            for (kind, key, version) in acked {
                upd.execute(params![kind, key, version])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Unsent rows (due or not).
    pub fn hub_pending(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM hub_outbox WHERE sent = 0", [], |r| {
                r.get(0)
            })?)
    }

    /// Forgets sent rows due before `before` (ms); returns how many.
    pub fn hub_purge(&mut self, before: i64) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM hub_outbox WHERE sent = 1 AND due_at < ?1",
            [before],
        )?)
    }

    /// Per device: plant minutes in [from, to) with at least one stored reading.
    pub fn device_minutes(&self, from: i64, to: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.device, count(DISTINCT r.bucket) FROM series s
             JOIN rollups r ON r.series_id = s.id AND r.res = 60
             WHERE r.bucket >= ?1 AND r.bucket < ?2 AND r.count > 0
             GROUP BY s.device",
        )?;
        let rows = stmt.query_map([from, to], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
#[path = "hub_outbox_tests.rs"]
mod tests;
