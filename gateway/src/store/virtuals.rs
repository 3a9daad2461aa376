//! Virtual meters in the rollup engine (see virtual_meters/): each refresh recomputes the
//! virtual minutes whose sources' minutes it recomputed, in the same transaction.

use std::collections::{BTreeSet, HashMap};

use rusqlite::{params, OptionalExtension, Transaction};

use super::conn::Store;
use super::error::StoreError;
use super::rollup_rows::{put_rollup, row_agg, Touched};
use super::settings::StoreSettings;
use crate::rollup::{self, Agg};
use crate::virtual_meters::{self, Field, Input};

impl Store {
    /// The series ids of the virtual meters, in the plan's order, creating the series that do
    /// not exist yet; a new one has its sources' existing minutes marked, so that it is
    /// computed for the data stored before it was configured.
    pub(super) fn virtual_series(&mut self) -> Result<Vec<i64>, StoreError> {
        let plan = self.settings.virtuals.clone();
        let mut ids = Vec::with_capacity(plan.meters.len());
        let mut fresh = false;
        for m in &plan.meters {
            if let Some(id) = self.series.get(&plan.site, &m.id, &m.quantity) {
                ids.push(id);
                continue;
            }
            let existed: bool = self.conn.query_row(
                "SELECT count(*) > 0 FROM series WHERE site = ?1 AND device = ?2 AND quantity = ?3",
                params![plan.site, m.id, m.quantity],
                |r| r.get(0),
            )?;
            let id = self.ensure_series(&plan.site, &m.id, &m.quantity, m.unit)?;
            ids.push(id);
            if !existed {
                fresh = true;
            }
        }
        if fresh {
            // From the sources' stored minutes, not by marking them: raw samples past
            // retention are gone, and recomputing their minutes would drop their rollups.
            let minutes: BTreeSet<(i64, i64)> = self
                .conn
                .prepare("SELECT series_id, bucket FROM rollups WHERE res = 60")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            self.roll_virtuals(&ids, &minutes)?;
        }
        Ok(ids)
    }

    /// Recomputes the virtual minutes fed by `minutes` (already rolled up) and the coarser
    /// buckets above them, in one transaction: after a bulk load, or for a new virtual meter.
    pub(super) fn roll_virtuals(
        &mut self,
        ids: &[i64],
        minutes: &BTreeSet<(i64, i64)>,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut touched = Touched::new();
        roll(&tx, &self.settings, ids, minutes, &mut touched)?;
        super::rollup_rows::roll_coarser(&tx, &self.settings, &touched)?;
        tx.commit()?;
        if let Some(live) = &self.live {
            live.rollups().clear();
        }
        Ok(())
    }

    /// Minutes of a virtual meter in [from, to) that are missing, by reason.
    pub fn virtual_missing(
        &self,
        series: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT reason, count(*) FROM virtual_missing
             WHERE series_id = ?1 AND bucket >= ?2 AND bucket < ?3 GROUP BY reason ORDER BY 2 DESC",
        )?;
        let rows = stmt.query_map(params![series, from, to], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// A term of a virtual meter: its meter, coefficient, and series with the figure it adds.
type Source<'a> = (&'a str, f64, Option<(i64, Field)>);

/// Recomputes the 1-minute rollups of the virtual meters (series `ids`, in plan order) fed by
/// the recomputed `minutes`, adds the coarser buckets above them to `touched`, and returns
/// the virtual minutes written.
pub(super) fn roll(
    tx: &Transaction<'_>,
    settings: &StoreSettings,
    ids: &[i64],
    minutes: &BTreeSet<(i64, i64)>,
    touched: &mut Touched,
) -> rusqlite::Result<Vec<(i64, i64)>> {
    let plan = &settings.virtuals;
    let mut written = Vec::new();
    if plan.meters.is_empty() {
        return Ok(written);
    }
    let mut changed: HashMap<i64, Vec<i64>> = HashMap::new();
    for &(id, b) in minutes {
        changed.entry(id).or_default().push(b);
    }
    let mut find = tx.prepare_cached(
        "SELECT id FROM series WHERE site = ?1 AND device = ?2 AND quantity = ?3",
    )?;
    let mut minute = tx.prepare_cached(
        "SELECT count, avg, min, max, delta, integral, gaps, resets FROM rollups
         WHERE series_id = ?1 AND res = 60 AND bucket = ?2",
    )?;
    let mut missing = tx.prepare_cached(
        "INSERT INTO virtual_missing(series_id, bucket, reason) VALUES (?1, ?2, ?3)
         ON CONFLICT(series_id, bucket) DO UPDATE SET reason = excluded.reason",
    )?;
    let mut found =
        tx.prepare_cached("DELETE FROM virtual_missing WHERE series_id = ?1 AND bucket = ?2")?;
    for (m, &own) in plan.meters.iter().zip(ids) {
        // Each term's series and the figure it adds.
        let mut sources: Vec<Source<'_>> = Vec::new();
        for (name, coef) in &m.terms {
            let mut hit = None;
            for (quantity, field) in virtual_meters::source_series(m) {
                let id: Option<i64> = find
                    .query_row(params![plan.site, name, quantity], |r| r.get(0))
                    .optional()?;
                if let Some(id) = id {
                    hit = Some((id, field));
                    break;
                }
            }
            sources.push((name, *coef, hit));
        }
        let buckets: BTreeSet<i64> = sources
            .iter()
            .filter_map(|(_, _, s)| changed.get(&s.as_ref()?.0))
            .flatten()
            .copied()
            .collect();
        for &b in &buckets {
            let mut inputs = Vec::with_capacity(sources.len());
            for &(meter, coef, src) in &sources {
                let agg: Option<Agg> = match src {
                    Some((id, _)) => minute.query_row(params![id, b], row_agg).optional()?,
                    None => None,
                };
                inputs.push(Input {
                    meter,
                    coef,
                    field: src.map(|(_, f)| f),
                    agg,
                });
            }
            match virtual_meters::combine(&inputs) {
                Ok(agg) => {
                    put_rollup(tx, own, 60, b, &agg)?;
                    found.execute(params![own, b])?;
                }
                Err(why) => {
                    put_rollup(tx, own, 60, b, &Agg::default())?;
                    missing.execute(params![own, b, why.to_string()])?;
                }
            }
            written.push((own, b));
            for &res in &rollup::RESOLUTIONS[1..] {
                touched.insert((res, own, rollup::bucket_start(b, res, settings.timezone)));
            }
        }
        // Virtual meters computed from this one see its minutes as changed.
        changed.entry(own).or_default().extend(buckets);
    }
    Ok(written)
}
