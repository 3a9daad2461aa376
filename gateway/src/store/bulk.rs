//! Bulk writes for history backfills.

use rusqlite::params;

use super::conn::Store;
use super::delta::Delta;
use super::error::StoreError;
use crate::rollup::Agg;

impl Store {
    /// Bulk load for history backfills: good samples (series, ts, value) and finished rollup
    /// rows (series, res, bucket, agg) in one transaction, bypassing the dirty-bucket queue.
    pub fn bulk_load(
        &mut self,
        samples: &[(i64, i64, f64)],
        rollups: &[(i64, i64, i64, Agg)],
    ) -> Result<(), StoreError> {
        // A backfill can be re-run after a crash, so it need not wait for the disk.
        self.conn.execute_batch("PRAGMA synchronous=OFF")?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut delta = Delta::default();
            let mut insert = tx.prepare_cached(
                "INSERT INTO samples(series_id, ts, value, quality) VALUES (?1, ?2, ?3, 'good')
                 ON CONFLICT(series_id, ts) DO NOTHING",
            )?;
            let mut update = tx.prepare_cached(
                "UPDATE samples SET value = ?3, quality = 'good' WHERE series_id = ?1 AND ts = ?2",
            )?;
            for (id, ts, v) in samples {
                if insert.execute(params![id, ts, v])? == 1 {
                    delta.samples += 1;
                } else {
                    update.execute(params![id, ts, v])?;
                }
            }
            delta.apply(&tx)?;
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO rollups(series_id, res, bucket, count, avg, min, max, delta, integral, gaps, resets)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for (id, res, bucket, a) in rollups {
                if a.count > 0 {
                    put.execute(params![
                        id, res, bucket, a.count, a.avg, a.min, a.max, a.delta, a.integral, a.gaps,
                        a.resets
                    ])?;
                }
            }
        }
        tx.commit()?;
        // Virtual meters from the loaded minutes of their sources.
        if !self.settings.virtuals.meters.is_empty() {
            let ids = self.virtual_series()?;
            let minutes = rollups
                .iter()
                .filter(|r| r.1 == 60 && r.3.count > 0)
                .map(|r| (r.0, r.2))
                .collect();
            self.roll_virtuals(&ids, &minutes)?;
        }
        self.conn.execute_batch("PRAGMA synchronous=NORMAL")?;
        self.reload_live()?;
        Ok(())
    }
}
