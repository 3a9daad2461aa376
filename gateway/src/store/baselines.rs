//! The `baselines` table: saved energy baselines by name (see `baseline/`), the record as JSON.

use rusqlite::{params, OptionalExtension};

use super::conn::Store;
use super::error::StoreError;

/// One stored baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineRow {
    pub name: String,
    pub asset: Option<String>,
    pub saved_at: i64,
    pub saved_by: String,
    pub json: String,
}

impl Store {
    /// Saves a baseline; `replace` allows overwriting one of the same name. Returns whether
    /// it was stored (false: the name is taken and `replace` was not given).
    pub fn put_baseline(&mut self, row: &BaselineRow, replace: bool) -> Result<bool, StoreError> {
        let verb = if replace {
            "INSERT OR REPLACE"
        } else {
            "INSERT OR IGNORE"
        };
        let n = self.conn.execute(
            &format!(
                "{verb} INTO baselines(name, asset, saved_at, saved_by, json) VALUES (?1, ?2, ?3, ?4, ?5)"
            ),
            params![row.name, row.asset, row.saved_at, row.saved_by, row.json],
        )?;
        Ok(n > 0)
    }

    /// Every baseline, by name.
    pub fn baselines(&self) -> Result<Vec<BaselineRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, asset, saved_at, saved_by, json FROM baselines ORDER BY name",
        )?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn baseline(&self, name: &str) -> Result<Option<BaselineRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, asset, saved_at, saved_by, json FROM baselines WHERE name = ?1",
        )?;
        Ok(stmt.query_row([name], row).optional()?)
    }

    /// Deletes a baseline; false when there was none of that name.
    pub fn delete_baseline(&mut self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM baselines WHERE name = ?1", [name])?
            > 0)
    }
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<BaselineRow> {
    Ok(BaselineRow {
        name: r.get(0)?,
        asset: r.get(1)?,
        saved_at: r.get(2)?,
        saved_by: r.get(3)?,
        json: r.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_are_saved_once_per_name_listed_and_deleted() {
        let dir = std::env::temp_dir().join(format!("kw-baselines-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Store::open(&dir.join("t.db")).unwrap();
        let row = |name: &str, json: &str| BaselineRow {
            name: name.into(),
            asset: Some("plant".into()),
            saved_at: 1,
            saved_by: "lin".into(),
            json: json.into(),
        };
        assert!(s.put_baseline(&row("b", "{}"), false).unwrap());
        assert!(s.put_baseline(&row("a", "{}"), false).unwrap());
        // A taken name is kept unless replacing.
        assert!(!s.put_baseline(&row("b", "{\"x\":1}"), false).unwrap());
        assert_eq!(s.baseline("b").unwrap().unwrap().json, "{}");
        assert!(s.put_baseline(&row("b", "{\"x\":1}"), true).unwrap());
        assert_eq!(s.baseline("b").unwrap().unwrap().json, "{\"x\":1}");
        let names: Vec<String> = s.baselines().unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(s.delete_baseline("a").unwrap());
        assert!(!s.delete_baseline("a").unwrap());
        assert_eq!(s.baseline("a").unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
