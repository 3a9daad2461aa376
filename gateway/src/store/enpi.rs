//! Persistence of the energy-performance indicators (see `enpi/`).

use rusqlite::params;

use super::conn::Store;
use super::error::StoreError;

impl Store {
    /// Replaces the EnPI rows of one asset: `(step, bucket, partial, facts)`.
    pub fn put_enpi(
        &mut self,
        asset: &str,
        rows: &[(&str, i64, bool, String)],
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO enpi(asset, step, bucket, partial, facts)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (step, bucket, partial, facts) in rows {
                put.execute(params![asset, step, bucket, partial, facts])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Stored EnPI rows `(bucket, partial, facts)` of one asset and step in [from, to).
    pub fn enpi_rows(
        &self,
        asset: &str,
        step: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, bool, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT bucket, partial, facts FROM enpi
             WHERE asset = ?1 AND step = ?2 AND bucket >= ?3 AND bucket < ?4 ORDER BY bucket",
        )?;
        let rows = stmt.query_map(params![asset, step, from, to], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes stored EnPIs of assets no longer configured.
    pub fn retain_enpi_assets(&mut self, keep: &[&str]) -> Result<usize, StoreError> {
        let assets: Vec<String> = {
            let mut stmt = self.conn.prepare("SELECT DISTINCT asset FROM enpi")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut n = 0;
        for a in assets {
            if !keep.contains(&a.as_str()) {
                n += self
                    .conn
                    .execute("DELETE FROM enpi WHERE asset = ?1", [&a])?;
            }
        }
        Ok(n)
    }
}
