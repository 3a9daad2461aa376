//! The `mv_results` table: M&V plan results per plan and period, with the fingerprint of the
//! plan and data they were computed from (see `mv::plan_eval`).

use rusqlite::params;

use super::conn::Store;
use super::error::StoreError;

/// One stored result.
#[derive(Debug, Clone, PartialEq)]
pub struct MvResultRow {
    pub plan_id: String,
    pub period_from: i64,
    pub period_to: i64,
    pub computed_at: i64,
    pub fingerprint: String,
    pub json: String,
}

impl Store {
    /// Inserts or replaces the results of one plan's periods (and with InfluxDB configured,
    /// queues their `savings` points in the same transaction).
    pub fn put_mv_results(&mut self, rows: &[MvResultRow]) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut lines = String::new();
        {
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO mv_results(plan_id, period_from, period_to, computed_at, fingerprint, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for r in rows {
                put.execute(params![
                    r.plan_id,
                    r.period_from,
                    r.period_to,
                    r.computed_at,
                    r.fingerprint,
                    r.json
                ])?;
                if self.settings.influx {
                    crate::derived_lines::savings_line(&self.settings.site, r, &mut lines);
                }
            }
        }
        if !lines.is_empty() {
            tx.prepare_cached("INSERT INTO influx_outbox(lines) VALUES (?1)")?
                .execute([&lines])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The stored results of one plan, by period start then end.
    pub fn mv_results(&self, plan_id: &str) -> Result<Vec<MvResultRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT plan_id, period_from, period_to, computed_at, fingerprint, json FROM mv_results
             WHERE plan_id = ?1 ORDER BY period_from, period_to",
        )?;
        let rows = stmt.query_map([plan_id], |r| {
            Ok(MvResultRow {
                plan_id: r.get(0)?,
                period_from: r.get(1)?,
                period_to: r.get(2)?,
                computed_at: r.get(3)?,
                fingerprint: r.get(4)?,
                json: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes the results of plans no longer configured, and of periods a plan no longer has.
    pub fn retain_mv_results(
        &mut self,
        keep: &[(String, Vec<(i64, i64)>)],
    ) -> Result<usize, StoreError> {
        let stored: Vec<(String, i64, i64)> = {
            let mut stmt = self
                .conn
                .prepare("SELECT plan_id, period_from, period_to FROM mv_results")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut n = 0;
        for (plan, from, to) in stored {
            let wanted = keep
                .iter()
                .any(|(id, periods)| *id == plan && periods.contains(&(from, to)));
            if !wanted {
                n += self.conn.execute(
                    "DELETE FROM mv_results WHERE plan_id = ?1 AND period_from = ?2 AND period_to = ?3",
                    params![plan, from, to],
                )?;
            }
        }
        Ok(n)
    }

    /// A digest of the 15-minute rollups of every series of `devices` (at `site`) in
    /// [from, to): changes when data in the range arrives, is repaired or is deleted.
    pub fn rollup_digest(
        &self,
        site: &str,
        devices: &[String],
        from: i64,
        to: i64,
    ) -> Result<String, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.quantity, count(*), total(r.delta), total(r.integral), total(r.avg), total(r.gaps)
             FROM rollups r JOIN series s ON s.id = r.series_id
             WHERE s.site = ?1 AND s.device = ?2 AND r.res = 900 AND r.bucket >= ?3 AND r.bucket < ?4
             GROUP BY s.quantity ORDER BY s.quantity",
        )?;
        let mut out = String::new();
        for d in devices {
            let rows = stmt.query_map(params![site, d, from, to], |r| {
                Ok(format!(
                    "{d}/{}:{}:{:.6e}:{:.6e}:{:.6e}:{};",
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, f64>(4)?,
                    r.get::<_, f64>(5)?,
                ))
            })?;
            for r in rows {
                out.push_str(&r?);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(from: i64, fp: &str) -> MvResultRow {
        MvResultRow {
            plan_id: "p".into(),
            period_from: from,
            period_to: from + 10,
            computed_at: 1,
            fingerprint: fp.into(),
            json: "{}".into(),
        }
    }

    #[test]
    fn a_v4_database_gains_the_table_and_results_are_replaced_and_retained() {
        let dir = std::env::temp_dir().join(format!("kw-mv-results-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        // A database as version 4 left it: no mv_results table.
        drop(Store::open(&path).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE mv_results; UPDATE meta SET value = '4' WHERE key = 'schema_version';",
        )
        .unwrap();
        drop(conn);
        let mut s = Store::open(&path).unwrap();
        // Migrated to the current version (v6 added the counters).
        let current = super::super::schema::SCHEMA_VERSION.to_string();
        assert_eq!(s.meta("schema_version").unwrap(), Some(current));
        s.put_mv_results(&[row(0, "a"), row(10, "a")]).unwrap();
        s.put_mv_results(&[row(10, "b")]).unwrap();
        let rows = s.mv_results("p").unwrap();
        assert_eq!(rows, [row(0, "a"), row(10, "b")]);
        // Only the configured plan's listed periods stay.
        assert_eq!(
            s.retain_mv_results(&[("p".into(), vec![(10, 20)])])
                .unwrap(),
            1
        );
        assert_eq!(s.mv_results("p").unwrap(), [row(10, "b")]);
        assert_eq!(s.retain_mv_results(&[]).unwrap(), 1);
        assert!(s.mv_results("p").unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
