//! The `dr_events` table: demand-response events entered through the API or CLI (`api`), and
//! the latest verification of every event, the site file's (`site`) too, as JSON.

use rusqlite::params;

use super::conn::Store;
use super::error::StoreError;

/// One stored event and its latest result.
#[derive(Debug, Clone, PartialEq)]
pub struct DrRow {
    pub id: String,
    /// `site` or `api`.
    pub source: String,
    /// The event as JSON.
    pub event: String,
    /// When it was entered (api) or first verified (site), ms UTC.
    pub created_at: i64,
    /// The latest verification as JSON.
    pub result: Option<String>,
    pub computed_at: Option<i64>,
}

impl Store {
    /// Adds an event; false when its id is taken.
    pub fn add_dr_event(&mut self, row: &DrRow) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO dr_events(id, source, event, created_at, result, computed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                row.id,
                row.source,
                row.event,
                row.created_at,
                row.result,
                row.computed_at
            ],
        )?;
        Ok(n > 0)
    }

    /// Stores the results of `rows` at `now`: a site event's row is made on first use; a row
    /// of another source with the same id is left alone.
    pub fn save_dr_results(&mut self, rows: &[DrRow], now: i64) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO dr_events(id, source, event, created_at, result, computed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?4)
                 ON CONFLICT(id) DO UPDATE SET event = excluded.event,
                   result = excluded.result, computed_at = excluded.computed_at
                 WHERE dr_events.source = excluded.source",
            )?;
            for r in rows {
                st.execute(params![r.id, r.source, r.event, now, r.result])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every stored row, by id.
    pub fn dr_events(&self) -> Result<Vec<DrRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, source, event, created_at, result, computed_at FROM dr_events ORDER BY id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(DrRow {
                id: r.get(0)?,
                source: r.get(1)?,
                event: r.get(2)?,
                created_at: r.get(3)?,
                result: r.get(4)?,
                computed_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_added_once_and_results_kept_per_source() {
        let dir = std::env::temp_dir().join(format!("kw-dr-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Store::open(&dir.join("t.db")).unwrap();
        let row = |id: &str, source: &str| DrRow {
            id: id.into(),
            source: source.into(),
            event: "{}".into(),
            created_at: 5,
            result: None,
            computed_at: None,
        };
        assert!(s.add_dr_event(&row("a", "api")).unwrap());
        assert!(!s.add_dr_event(&row("a", "api")).unwrap());
        let mut done = row("a", "api");
        done.result = Some("{\"verdict\":\"pass\"}".into());
        let mut site = row("b", "site");
        site.result = Some("{}".into());
        // A site event with an api event's id does not overwrite it.
        let mut clash = row("a", "site");
        clash.result = Some("{\"clash\":1}".into());
        s.save_dr_results(&[done, site, clash], 9).unwrap();
        let rows = s.dr_events().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].result.as_deref(), Some("{\"verdict\":\"pass\"}"));
        assert_eq!((rows[0].created_at, rows[0].computed_at), (5, Some(9)));
        assert_eq!((rows[1].source.as_str(), rows[1].created_at), ("site", 9));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
