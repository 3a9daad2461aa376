//! The InfluxDB outbox: line protocol queued by ingest, sent and removed by `influx::forward`.

use chrono::Utc;
use rusqlite::params;

use super::conn::Store;
use super::delta::Delta;
use super::error::StoreError;

impl Store {
    /// The oldest outbox rows holding up to about `max_lines` lines (at least one row).
    pub fn outbox_batch(&self, max_lines: usize) -> Result<Option<(Vec<i64>, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, lines FROM influx_outbox ORDER BY id LIMIT 1000")?;
        let mut rows = stmt.query([])?;
        let (mut ids, mut text, mut n) = (Vec::new(), String::new(), 0usize);
        while let Some(row) = rows.next()? {
            let lines: String = row.get(1)?;
            let k = lines.lines().count();
            if !ids.is_empty() && n + k > max_lines {
                break;
            }
            ids.push(row.get(0)?);
            text.push_str(&lines);
            n += k;
        }
        Ok((!ids.is_empty()).then_some((ids, text)))
    }

    pub fn outbox_len(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM influx_outbox", [], |r| r.get(0))?)
    }

    /// Removes sent rows; with `dead`, keeps their lines in the dead-letter table first.
    pub fn outbox_done(
        &mut self,
        ids: &[i64],
        dead: Option<(&str, &[u8])>,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if let Some((reason, payload)) = dead {
            tx.execute(
                "INSERT INTO dead_letter(received_ts, topic, reason, payload) VALUES (?1, ?2, ?3, ?4)",
                params![Utc::now().timestamp_millis(), "influx", reason, payload],
            )?;
            DEAD.apply(&tx)?;
        }
        {
            let mut del = tx.prepare_cached("DELETE FROM influx_outbox WHERE id = ?1")?;
            for id in ids {
                del.execute([id])?;
            }
        }
        tx.commit()?;
        if let (Some(live), Some(_)) = (&self.live, dead) {
            live.counted(DEAD);
        }
        Ok(())
    }
}

/// One dead letter added.
const DEAD: Delta = Delta {
    series: 0,
    samples: 0,
    dead_letters: 1,
};
