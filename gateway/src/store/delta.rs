//! Changes to the maintained counts, written by the transaction that made them.

use rusqlite::Connection;

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
