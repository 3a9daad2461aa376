//! Rollup rows: reading and writing one, and recomputing coarser buckets from finer ones;
//! shared by the rollup engine (rollups.rs) and the virtual meters (virtuals.rs).

use std::collections::BTreeSet;

use rusqlite::{params, Transaction};

use super::settings::StoreSettings;
use crate::rollup::{self, Agg};

pub(super) fn row_agg(r: &rusqlite::Row<'_>) -> rusqlite::Result<Agg> {
    Ok(Agg {
        count: r.get(0)?,
        avg: r.get(1)?,
        min: r.get(2)?,
        max: r.get(3)?,
        delta: r.get(4)?,
        integral: r.get(5)?,
        gaps: r.get(6)?,
        resets: r.get(7)?,
    })
}

/// Coarser buckets to recompute: (res, series, bucket start), ordered by resolution.
pub(super) type Touched = BTreeSet<(i64, i64, i64)>;

/// Writes one rollup row; an empty bucket has none.
pub(super) fn put_rollup(
    tx: &Transaction<'_>,
    id: i64,
    res: i64,
    bucket: i64,
    a: &Agg,
) -> rusqlite::Result<()> {
    if a.count == 0 {
        tx.prepare_cached("DELETE FROM rollups WHERE series_id = ?1 AND res = ?2 AND bucket = ?3")?
            .execute(params![id, res, bucket])?;
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO rollups(series_id, res, bucket, count, avg, min, max, delta, integral, gaps, resets)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT(series_id, res, bucket) DO UPDATE SET count = excluded.count,
           avg = excluded.avg, min = excluded.min, max = excluded.max, delta = excluded.delta,
           integral = excluded.integral, gaps = excluded.gaps, resets = excluded.resets",
    )?
    .execute(params![
        id, res, bucket, a.count, a.avg, a.min, a.max, a.delta, a.integral, a.gaps, a.resets
    ])?;
    Ok(())
}

/// Recomputes the `touched` coarser buckets, each level from the one below, in order.
pub(super) fn roll_coarser(
    tx: &Transaction<'_>,
    settings: &StoreSettings,
    touched: &Touched,
) -> rusqlite::Result<()> {
    let tz = settings.timezone;
    for (i, &res) in rollup::RESOLUTIONS.iter().enumerate().skip(1) {
        let finer = rollup::RESOLUTIONS[i - 1];
        let mut parts = tx.prepare_cached(
            "SELECT count, avg, min, max, delta, integral, gaps, resets FROM rollups
             WHERE series_id = ?1 AND res = ?2 AND bucket >= ?3 AND bucket < ?4",
        )?;
        for &(_, id, b) in touched.range((res, i64::MIN, i64::MIN)..(res + 1, i64::MIN, i64::MIN)) {
            let end = rollup::bucket_end(b, res, tz);
            let aggs: Vec<Agg> = parts
                .query_map(params![id, finer, b, end], row_agg)?
                .collect::<Result<_, _>>()?;
            put_rollup(tx, id, res, b, &rollup::combine(&aggs))?;
        }
    }
    Ok(())
}
