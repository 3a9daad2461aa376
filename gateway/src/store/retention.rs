//! Retention: old samples and rollups deleted per resolution.

use rusqlite::params;

use super::conn::Store;
use super::delta::Delta;
use super::error::StoreError;

impl Store {
    /// Deletes what is older than each resolution's retention. Returns rows deleted.
    pub fn purge(
        &mut self,
        now_ms: i64,
        retention: &kilowatch_site::config::Retention,
    ) -> Result<usize, StoreError> {
        let ids = self.series_ids()?;
        self.purge_series(&ids, now_ms, retention)
    }

    /// Every series id, for purging a few series at a time.
    pub fn series_ids(&self) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT id FROM series")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// [`purge`](Self::purge) of the series `ids` only.
    pub fn purge_series(
        &mut self,
        ids: &[i64],
        now_ms: i64,
        retention: &kilowatch_site::config::Retention,
    ) -> Result<usize, StoreError> {
        let cutoff = |d: Option<std::time::Duration>| {
            d.map(|d| now_ms - i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2))
        };
        let mut n = 0;
        // One short transaction per series: ingest is never locked out for long.
        for &id in ids {
            let mut delta = Delta::default();
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if let Some(c) = cutoff(retention.raw) {
                let deleted = tx
                    .prepare_cached("DELETE FROM samples WHERE series_id = ?1 AND ts < ?2")?
                    .execute(params![id, c])?;
                delta = Delta {
                    samples: -(deleted as i64),
                    ..Delta::default()
                };
                delta.apply(&tx)?;
                n += deleted;
            }
            let mut rollups = 0;
            for (res, keep) in [
                (60, retention.minute),
                (900, retention.quarter),
                (3600, retention.hour),
                (86_400, retention.day),
            ] {
                if let Some(c) = cutoff(keep) {
                    rollups += tx
                        .prepare_cached(
                            "DELETE FROM rollups WHERE series_id = ?1 AND res = ?2 AND bucket < ?3",
                        )?
                        .execute(params![id, res, c])?;
                }
            }
            tx.commit()?;
            n += rollups;
            if let Some(live) = &self.live {
                live.counted(delta);
                if rollups > 0 {
                    live.rollups().forget_series(id);
                }
            }
        }
        Ok(n)
    }
}
