//! Counts for health reporting, kept in the `counters` table by the transactions that change
//! the counted tables (initialised by the migration), so reading them never scans samples.

use super::conn::Store;
use super::error::StoreError;

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
