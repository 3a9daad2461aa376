//! The `alarms` table: one row per occurrence, from raised (through acknowledged) to cleared.
//! Written only by the alarm task through the writer thread; read by the API.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde::Serialize;

use super::conn::Store;
use super::error::StoreError;
use crate::i18n::Msg;

/// An occurrence to record as raised.
#[derive(Debug, Clone)]
pub struct NewAlarm {
    pub alarm: String,
    pub rule: String,
    pub severity: String,
    pub subject: String,
    pub raised_at: i64,
    pub quiet: bool,
    /// In English; `message_key` for any language.
    pub message: String,
    pub message_key: Option<Msg>,
    pub evidence: serde_json::Value,
    pub link: String,
}

/// A stored occurrence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmRow {
    /// The occurrence's number.
    pub occurrence: i64,
    /// The alarm's id (also in its MQTT topic and `POST /api/v1/alarms/{id}/ack`).
    pub id: String,
    pub rule: String,
    pub severity: String,
    pub subject: String,
    pub state: String,
    pub raised_at: DateTime<Utc>,
    pub acked_at: Option<DateTime<Utc>>,
    pub acked_by: Option<String>,
    pub ack_note: Option<String>,
    pub cleared_at: Option<DateTime<Utc>>,
    /// Raised in the rule's quiet hours: recorded, not notified.
    pub quiet: bool,
    /// In English.
    pub message: String,
    /// The message as catalogue key and arguments (`None` for rows stored before schema v12).
    pub message_key: Option<Msg>,
    pub evidence: serde_json::Value,
    pub cleared_evidence: Option<serde_json::Value>,
    pub link: String,
}

/// Which occurrences to list.
#[derive(Debug, Clone, Default)]
pub struct AlarmFilter {
    pub state: Option<String>,
    /// Raised at or after (ms); active ones are listed whatever their age.
    pub since: Option<i64>,
    pub limit: usize,
}

const COLUMNS: &str = "id, alarm, rule, severity, subject, state, raised_at, acked_at, acked_by, ack_note, cleared_at, quiet, message, evidence, cleared_evidence, link, message_key";

fn row(r: &Row<'_>) -> rusqlite::Result<AlarmRow> {
    let time = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        let ms: Option<i64> = r.get(i)?;
        Ok(ms.and_then(DateTime::from_timestamp_millis))
    };
    let json = |i: usize| -> rusqlite::Result<Option<serde_json::Value>> {
        let text: Option<String> = r.get(i)?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    };
    Ok(AlarmRow {
        occurrence: r.get(0)?,
        id: r.get(1)?,
        rule: r.get(2)?,
        severity: r.get(3)?,
        subject: r.get(4)?,
        state: r.get(5)?,
        raised_at: time(6)?.unwrap_or_default(),
        acked_at: time(7)?,
        acked_by: r.get(8)?,
        ack_note: r.get(9)?,
        cleared_at: time(10)?,
        quiet: r.get(11)?,
        message: r.get(12)?,
        evidence: json(13)?.unwrap_or_default(),
        cleared_evidence: json(14)?,
        link: r.get(15)?,
        message_key: r
            .get::<_, Option<String>>(16)?
            .and_then(|t| serde_json::from_str(&t).ok()),
    })
}

/// Runs in the transaction that recorded a transition, with the occurrence as stored: the
/// alarm task queues its notifications here, so a crash records both or neither.
pub type OnRecorded<'a> = &'a dyn Fn(&Transaction<'_>, &AlarmRow) -> rusqlite::Result<()>;

/// The occurrence `occurrence` as `conn` sees it.
fn occurrence_on(conn: &Connection, occurrence: i64) -> rusqlite::Result<Option<AlarmRow>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM alarms WHERE id = ?1"),
        [occurrence],
        row,
    )
    .optional()
}

impl Store {
    /// One transition in one transaction: `change` writes it and names the occurrence (and
    /// whether it changed; `None`: nothing to report), `then` runs on the stored row when it
    /// changed, and with InfluxDB configured its `alarm` point is queued in the same transaction.
    fn transition(
        &mut self,
        change: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<Option<(i64, bool)>>,
        then: OnRecorded<'_>,
    ) -> Result<Option<AlarmRow>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let Some((occurrence, changed)) = change(&tx)? else {
            return Ok(None);
        };
        let stored = occurrence_on(&tx, occurrence)?;
        if let (true, Some(r)) = (changed, &stored) {
            then(&tx, r)?;
            let mut line = String::new();
            if self.settings.influx
                && crate::derived_lines::alarm_line(&self.settings.site, r, &mut line)
            {
                tx.prepare_cached("INSERT INTO influx_outbox(lines) VALUES (?1)")?
                    .execute([&line])?;
            }
        }
        tx.commit()?;
        Ok(stored)
    }

    /// Records a raised occurrence; returns it as stored.
    pub fn raise_alarm(
        &mut self,
        a: &NewAlarm,
        then: OnRecorded<'_>,
    ) -> Result<Option<AlarmRow>, StoreError> {
        self.transition(
            |tx| {
                tx.execute(
                    "INSERT INTO alarms(alarm, rule, severity, subject, state, raised_at, quiet, message, evidence, link, message_key)
                     VALUES (?1, ?2, ?3, ?4, 'raised', ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![
                        a.alarm,
                        a.rule,
                        a.severity,
                        a.subject,
                        a.raised_at,
                        a.quiet,
                        a.message,
                        a.evidence.to_string(),
                        a.link,
                        a.message_key
                            .as_ref()
                            .and_then(|m| serde_json::to_string(m).ok())
                    ],
                )?;
                Ok(Some((tx.last_insert_rowid(), true)))
            },
            then,
        )
    }

    /// Acknowledges an active occurrence; returns it as now stored, `None` when it is not
    /// raised (already acknowledged, cleared or unknown).
    pub fn ack_alarm(
        &mut self,
        occurrence: i64,
        (by, note, at): (&str, Option<&str>, i64),
        then: OnRecorded<'_>,
    ) -> Result<Option<AlarmRow>, StoreError> {
        self.transition(
            |tx| {
                let n = tx.execute(
                    "UPDATE alarms SET state = 'acknowledged', acked_at = ?2, acked_by = ?3, ack_note = ?4
                     WHERE id = ?1 AND state = 'raised'",
                    params![occurrence, at, by, note],
                )?;
                Ok((n == 1).then_some((occurrence, true)))
            },
            then,
        )
    }

    /// Clears an active occurrence; returns it as stored (also when it was cleared already).
    pub fn clear_alarm(
        &mut self,
        occurrence: i64,
        (at, evidence): (i64, &serde_json::Value),
        then: OnRecorded<'_>,
    ) -> Result<Option<AlarmRow>, StoreError> {
        self.transition(
            |tx| {
                let n = tx.execute(
                    "UPDATE alarms SET state = 'cleared', cleared_at = ?2, cleared_evidence = ?3
                     WHERE id = ?1 AND state != 'cleared'",
                    params![occurrence, at, evidence.to_string()],
                )?;
                Ok(Some((occurrence, n == 1)))
            },
            then,
        )
    }

    pub fn alarm(&self, occurrence: i64) -> Result<Option<AlarmRow>, StoreError> {
        Ok(occurrence_on(&self.conn, occurrence)?)
    }

    /// Occurrences not cleared, oldest first.
    pub fn active_alarms(&self) -> Result<Vec<AlarmRow>, StoreError> {
        self.alarms(&AlarmFilter {
            state: Some("active".into()),
            since: None,
            limit: 10_000,
        })
    }

    /// Occurrences by the filter (`state` "active" means raised or acknowledged), newest
    /// raised first.
    pub fn alarms(&self, f: &AlarmFilter) -> Result<Vec<AlarmRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM alarms
             WHERE (?1 IS NULL OR state = ?1 OR (?1 = 'active' AND state != 'cleared'))
               AND (?2 IS NULL OR raised_at >= ?2 OR state != 'cleared')
             ORDER BY raised_at DESC, id DESC LIMIT ?3"
        ))?;
        let limit = i64::try_from(f.limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![f.state, f.since, limit], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raise_ack_clear_and_list() {
        let dir = std::env::temp_dir().join(format!("kw-alarms-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.db");
        let _ = std::fs::remove_file(&path);
        let mut s = Store::open(&path).unwrap();
        let new = |alarm: &str, at| NewAlarm {
            alarm: alarm.into(),
            rule: "demand".into(),
            severity: "warning".into(),
            subject: "incomer".into(),
            raised_at: at,
            quiet: false,
            message: "m".into(),
            message_key: None,
            evidence: serde_json::json!({ "value": 500.0 }),
            link: "/dashboard/#/plant".into(),
        };
        let a = s
            .raise_alarm(&new("demand", 1000), &|_, _| Ok(()))
            .unwrap()
            .unwrap()
            .occurrence;
        let b = s
            .raise_alarm(&new("other", 2000), &|_, _| Ok(()))
            .unwrap()
            .unwrap()
            .occurrence;
        let acked = s
            .ack_alarm(a, ("ops", Some("shedding"), 1500), &|_, _| Ok(()))
            .unwrap()
            .unwrap();
        assert_eq!(acked.state, "acknowledged");
        assert_eq!(acked.acked_by.as_deref(), Some("ops"));
        assert_eq!(acked.evidence["value"], 500.0);
        // Twice is refused.
        assert_eq!(
            s.ack_alarm(a, ("ops", None, 1600), &|_, _| Ok(())).unwrap(),
            None
        );
        let cleared = s
            .clear_alarm(b, (3000, &serde_json::json!({ "value": 1.0 })), &|_, _| {
                Ok(())
            })
            .unwrap()
            .unwrap();
        assert_eq!(cleared.state, "cleared");
        assert_eq!(
            s.ack_alarm(b, ("ops", None, 3100), &|_, _| Ok(())).unwrap(),
            None
        );
        let active = s.active_alarms().unwrap();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].id, "demand");
        let f = |state: Option<&str>, since| AlarmFilter {
            state: state.map(str::to_owned),
            since,
            limit: 100,
        };
        assert_eq!(s.alarms(&f(None, None)).unwrap().len(), 2);
        assert_eq!(s.alarms(&f(Some("cleared"), None)).unwrap().len(), 1);
        // Since excludes old cleared ones but never active ones.
        assert_eq!(s.alarms(&f(None, Some(2500))).unwrap().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
