//! The `reports` table: reports the gateway made (on its schedule or on request), stored
//! whole so they can be listed and served later (see `report/`).

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::conn::Store;
use super::error::StoreError;

/// A stored report, without its body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    pub id: i64,
    /// `monthly` or `ghg`.
    pub kind: String,
    /// `2026-11` or `2026`.
    pub period: String,
    pub lang: String,
    /// `html` or `pdf`.
    pub format: String,
    /// ms since the epoch, UTC.
    pub created_at: i64,
    /// `schedule` or `request`.
    pub trigger: String,
    pub size: i64,
}

/// A report to store.
#[derive(Debug, Clone)]
pub struct NewReport<'a> {
    pub kind: &'a str,
    pub period: &'a str,
    pub lang: &'a str,
    pub format: &'a str,
    pub trigger: &'a str,
    pub created_at: i64,
    pub body: &'a [u8],
}

const COLUMNS: &str = "id, kind, period, lang, format, created_at, trigger, length(body)";

fn row(r: &Row<'_>) -> rusqlite::Result<ReportRow> {
    Ok(ReportRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        period: r.get(2)?,
        lang: r.get(3)?,
        format: r.get(4)?,
        created_at: r.get(5)?,
        trigger: r.get(6)?,
        size: r.get(7)?,
    })
}

impl Store {
    /// Stores a report, replacing one of the same kind, period, language and format (a
    /// report made again holds newer data). Returns its id.
    pub fn put_report(&mut self, r: &NewReport<'_>) -> Result<i64, StoreError> {
        let id = self.conn.query_row(
            "INSERT INTO reports(kind, period, lang, format, created_at, trigger, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(kind, period, lang, format) DO UPDATE SET
               created_at = excluded.created_at, trigger = excluded.trigger, body = excluded.body
             RETURNING id",
            params![
                r.kind,
                r.period,
                r.lang,
                r.format,
                r.created_at,
                r.trigger,
                r.body
            ],
            |row| row.get(0),
        )?;
        Ok(id)
    }

    /// Queues the stored report `body.report_id` for the email channels `channels` (the
    /// notification outbox; `key` once per report version).
    pub fn queue_report_mail(
        &mut self,
        channels: &[String],
        key: &str,
        body: &crate::notify::event::ReportMail,
    ) -> Result<usize, StoreError> {
        let json = serde_json::to_string(body)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let ids: Vec<&str> = channels.iter().map(String::as_str).collect();
        Ok(super::notify_outbox::enqueue_report(
            &self.conn, &ids, key, &json,
        )?)
    }

    /// Stored reports, newest period first.
    pub fn reports(&self, limit: usize) -> Result<Vec<ReportRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM reports ORDER BY period DESC, kind, lang, format LIMIT ?1"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map([limit], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether a report of this kind, period, language and format is stored.
    pub fn has_report(
        &self,
        kind: &str,
        period: &str,
        lang: &str,
        format: &str,
    ) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM reports WHERE kind = ?1 AND period = ?2 AND lang = ?3 AND format = ?4",
                params![kind, period, lang, format],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// One stored report with its body.
    pub fn report(&self, id: i64) -> Result<Option<(ReportRow, Vec<u8>)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS}, body FROM reports WHERE id = ?1"),
                [id],
                |r| Ok((row(r)?, r.get::<_, Vec<u8>>(8)?)),
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_reports_are_replaced_listed_and_served() {
        let dir = std::env::temp_dir().join(format!("kw-reports-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.db");
        let _ = std::fs::remove_file(&path);
        let mut s = Store::open(&path).unwrap();
        let new = |period, body: &'static [u8], at| NewReport {
            kind: "monthly",
            period,
            lang: "zh-TW",
            format: "pdf",
            trigger: "schedule",
            created_at: at,
            body,
        };
        let a = s.put_report(&new("2026-10", b"%PDF-old", 1)).unwrap();
        let b = s.put_report(&new("2026-11", b"%PDF-x", 2)).unwrap();
        // Made again: the same row, the newer body.
        let a2 = s.put_report(&new("2026-10", b"%PDF-newer", 3)).unwrap();
        assert_eq!(a, a2);
        assert_ne!(a, b);
        let list = s.reports(10).unwrap();
        assert_eq!(
            list.iter().map(|r| r.period.as_str()).collect::<Vec<_>>(),
            ["2026-11", "2026-10"]
        );
        let (row, body) = s.report(a).unwrap().unwrap();
        assert_eq!(
            (row.created_at, row.size, body.as_slice()),
            (3, 10, &b"%PDF-newer"[..])
        );
        assert!(s.has_report("monthly", "2026-11", "zh-TW", "pdf").unwrap());
        assert!(!s.has_report("monthly", "2026-11", "en", "pdf").unwrap());
        assert!(s.report(999).unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
