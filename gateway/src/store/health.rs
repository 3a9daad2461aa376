//! Counts for health reporting, kept in the `counters` table by the transactions that change
//! the counted tables (initialised by the migration), so reading them never scans samples.

use rusqlite::Connection;

use super::conn::Store;
use super::error::StoreError;

/// Rows added (or, negative, removed) by one transaction, written with it.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Delta {
    pub series: i64,
    pub samples: i64,
    pub dead_letters: i64,
}

impl Delta {
    /// Adds the changes to the counters; call inside the transaction that made them.
    pub fn apply(&self, conn: &Connection) -> rusqlite::Result<()> {
        for (name, n) in [
            ("series", self.series),
            ("samples", self.samples),
            ("dead_letters", self.dead_letters),
        ] {
            if n != 0 {
                conn.prepare_cached("UPDATE counters SET n = n + ?2 WHERE name = ?1")?
                    .execute(rusqlite::params![name, n])?;
            }
        }
        Ok(())
    }
}

impl Store {
    /// Counts of series, samples and dead letters, for health reporting.
    pub fn counts(&self) -> Result<(i64, i64, i64), StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT name, n FROM counters")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let (mut series, mut samples, mut dead) = (0, 0, 0);
        for row in rows {
            match row? {
                (name, n) if name == "series" => series = n,
                (name, n) if name == "samples" => samples = n,
                (name, n) if name == "dead_letters" => dead = n,
                _ => {}
            }
        }
        Ok((series, samples, dead))
    }
}
