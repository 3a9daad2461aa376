//! The maintenance loop's heavy refreshes: EnPIs and M&V plan results read months of rollups
//! and run the savings engine on a read-only connection (on the blocking pool), and hand the
//! rows to the writer thread, one short transaction per asset-month or plan, so ingest's
//! batches go in between and nothing else in the service writes to the database.

use std::sync::Arc;

use crate::enpi::{self, Assets};
use crate::mv::plan_eval::{self, Outcome};
use crate::store::{Readers, StoreError, StoreWriter};

/// Keeps the stored EnPIs current (see [`enpi::refresh::due`]). Returns the rows written.
pub async fn enpi(
    writer: &StoreWriter,
    reader: &Arc<Readers>,
    assets: &Arc<Assets>,
    now: i64,
) -> Result<usize, StoreError> {
    let ids = enpi::refresh::asset_ids(assets);
    writer
        .call(move |s| s.retain_enpi_assets(&ids.iter().map(String::as_str).collect::<Vec<_>>()))
        .await?;
    let a = assets.clone();
    let Some(due) = reader.read(move |s| enpi::refresh::due(s, &a, now)).await? else {
        return Ok(0);
    };
    let mut n = 0;
    for (idx, m, end) in enpi::refresh::months(assets, due.from, now) {
        let a = assets.clone();
        let rows = reader
            .read(move |s| enpi::refresh::month_rows(s, &a, idx, (m, end), now))
            .await?;
        n += rows.len();
        let id = assets.list[idx].id().to_owned();
        let a = assets.clone();
        writer
            .call(move |s| {
                let line = move |row: (&str, i64, bool, &str), out: &mut String| {
                    crate::derived_lines::enpi_line(&a, idx, row, out)
                };
                s.put_enpi_lines(&id, &rows, Some(&line))
            })
            .await?;
    }
    if due.full {
        let a = assets.clone();
        writer
            .call(move |s| enpi::refresh::mark_current(s, &a))
            .await?;
        tracing::info!(rows = n, "energy-performance indicators computed");
    }
    Ok(n)
}

/// Evaluates the site's M&V plans (at most `budget` periods in all) and deletes results of
/// plans or periods no longer configured.
pub async fn plans(
    writer: &StoreWriter,
    reader: &Arc<Readers>,
    assets: &Arc<Assets>,
    now: i64,
    budget: usize,
) -> Result<Outcome, StoreError> {
    let keep = plan_eval::retained(assets);
    writer.call(move |s| s.retain_mv_results(&keep)).await?;
    let mut total = Outcome::default();
    for i in 0..assets.plans.len() {
        let (a, left) = (assets.clone(), budget.saturating_sub(total.computed));
        let (rows, o) = reader
            .read(move |s| plan_eval::compute(s, &a, &a.plans[i], now, left))
            .await?;
        if !rows.is_empty() {
            writer.call(move |s| s.put_mv_results(&rows)).await?;
        }
        total.add(o);
    }
    Ok(total)
}

#[cfg(test)]
mod tests;
