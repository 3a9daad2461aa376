//! Metadata: the key/value meta table and the saved poll-numbering state.

use rusqlite::OptionalExtension;

use super::conn::Store;
use super::error::StoreError;

impl Store {
    /// A value of the meta table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// Saved poll-numbering state, (device, JSON).
    pub fn sequences(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT device, state FROM sequence")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn save_sequences(&mut self, rows: &[(String, String)]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO sequence(device, state) VALUES (?1, ?2)
                 ON CONFLICT(device) DO UPDATE SET state = excluded.state",
            )?;
            for (device, state) in rows {
                put.execute([device, state])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
