//! Persistence of the energy-performance indicators (see `enpi/`).

use rusqlite::{params, OptionalExtension};

use super::conn::Store;
use super::error::StoreError;

/// Makes the InfluxDB line of one EnPI row `(step, bucket, partial, facts)` into the
/// buffer; returns whether it made one.
pub type EnpiLine<'a> = &'a (dyn Fn((&str, i64, bool, &str), &mut String) -> bool + Send + Sync);

impl Store {
    /// Replaces the EnPI rows of one asset: `(step, bucket, partial, facts)`.
    pub fn put_enpi(
        &mut self,
        asset: &str,
        rows: &[(&str, i64, bool, String)],
    ) -> Result<(), StoreError> {
        self.put_enpi_lines(asset, rows, None).map(|_| ())
    }

    /// [`Store::put_enpi`], and with InfluxDB configured, the line `line` makes of each row
    /// that is new or changed queued in the outbox in the same transaction (an unchanged
    /// completed hour is not sent again every refresh). Returns the lines queued.
    pub fn put_enpi_lines(
        &mut self,
        asset: &str,
        rows: &[(&str, i64, bool, String)],
        line: Option<EnpiLine<'_>>,
    ) -> Result<usize, StoreError> {
        let line = line.filter(|_| self.settings.influx);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut lines = String::new();
        let mut queued = 0;
        {
            let mut old = tx.prepare_cached(
                "SELECT partial, facts FROM enpi WHERE asset = ?1 AND step = ?2 AND bucket = ?3",
            )?;
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO enpi(asset, step, bucket, partial, facts)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (step, bucket, partial, facts) in rows {
                if let Some(line) = line {
                    let before: Option<(bool, String)> = old
                        .query_row(params![asset, step, bucket], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()?;
                    let same = before.is_some_and(|(p, f)| p == *partial && f == *facts);
                    if !same && line((step, *bucket, *partial, facts), &mut lines) {
                        queued += 1;
                    }
                }
                put.execute(params![asset, step, bucket, partial, facts])?;
            }
        }
        if !lines.is_empty() {
            tx.prepare_cached("INSERT INTO influx_outbox(lines) VALUES (?1)")?
                .execute([&lines])?;
        }
        tx.commit()?;
        Ok(queued)
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
