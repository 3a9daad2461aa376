//! Keeping the stored indicators current, split so the service can compute on a read-only
//! connection and write on the writer thread: [`due`] and [`month_rows`] only read; what they
//! return is written by `Store::put_enpi`, one asset-month per transaction, and
//! [`mark_current`]. [`refresh`] and [`recompute`] chain the steps on one connection, for
//! one-shot commands that have the database to themselves.

use super::facts::StoredFacts;
use super::{assets, compute_rows, utc, Assets, Step};
use crate::store::{Store, StoreError};

const FINGERPRINT_KEY: &str = "enpi_fingerprint";

/// One stored indicator row: step code, bucket start, partial, facts as JSON.
pub type EnpiRow = (&'static str, i64, bool, String);

/// What a refresh recomputes: the billing months from `from` to now; `full` when everything
/// is redone (then [`mark_current`] follows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub from: i64,
    pub full: bool,
}

/// The configured assets' ids: stored EnPIs of any other asset are deleted.
pub fn asset_ids(assets: &Assets) -> Vec<String> {
    assets
        .list
        .iter()
        .map(|a| assets::AssetSpec::id(a).to_owned())
        .collect()
}

/// Everything again when the assets, tariff or factors changed (or were never computed),
/// otherwise the current billing month (and the previous one during the first day of a
/// month). `None`: no assets, or no data yet.
pub fn due(store: &Store, assets: &Assets, now: i64) -> Result<Option<Due>, StoreError> {
    if assets.list.is_empty() {
        return Ok(None);
    }
    let Some((first, _)) = store.rollup_span()? else {
        return Ok(None);
    };
    let full = !is_current(store, assets)?;
    if full {
        tracing::info!(
            from = %utc(first),
            "computing energy-performance indicators for all stored data (new or changed assets, tariff or emission factors)"
        );
        return Ok(Some(Due { from: first, full }));
    }
    Ok(Some(Due {
        from: (now - 86_400_000).max(first),
        full,
    }))
}

/// The asset-months overlapping [from, to): (asset index, month start, month end), asset by
/// asset.
pub fn months(assets: &Assets, from: i64, to: i64) -> Vec<(usize, i64, i64)> {
    let tz = assets.timezone;
    let mut out = Vec::new();
    for idx in 0..assets.list.len() {
        let mut m = Step::Month.bucket_start(from, tz);
        while m < to {
            let end = Step::Month.bucket_end(m, tz);
            out.push((idx, m, end));
            m = end;
        }
    }
    out
}

/// The rows of asset `idx` for the billing month [m, end) (whole months, so hourly, daily and
/// monthly rows are complete), computed, not stored.
pub fn month_rows(
    store: &Store,
    assets: &Assets,
    idx: usize,
    (m, end): (i64, i64),
    now: i64,
) -> Result<Vec<EnpiRow>, StoreError> {
    Ok(compute_rows(store, assets, idx, m, end, now)?
        .into_iter()
        .map(|(step, bucket, partial, f)| {
            (
                step.code(),
                bucket,
                partial,
                serde_json::to_string(&StoredFacts::from(&f)).unwrap_or_default(),
            )
        })
        .collect())
}

/// Whether the stored EnPIs follow the current assets, tariff and factors. While they do not
/// (the first start, or a change), the full refresh is writing them month by month and a read
/// may find a range not yet computed.
pub fn is_current(store: &Store, assets: &Assets) -> Result<bool, StoreError> {
    Ok(store.meta(FINGERPRINT_KEY)?.as_deref() == Some(assets.fingerprint.as_str()))
}

/// Records that the stored EnPIs follow the current assets, tariff and factors.
pub fn mark_current(store: &mut Store, assets: &Assets) -> Result<(), StoreError> {
    store.set_meta(FINGERPRINT_KEY, &assets.fingerprint)
}

/// Recomputes and stores the EnPI facts of every asset for the billing months overlapping
/// [from, to). `tick` is called after each asset-month. Returns the rows written.
pub fn recompute(
    store: &mut Store,
    assets: &Assets,
    from: i64,
    to: i64,
    now: i64,
    mut tick: impl FnMut(),
) -> Result<usize, StoreError> {
    let mut written = 0;
    for (idx, m, end) in months(assets, from, to.min(now)) {
        let rows = month_rows(store, assets, idx, (m, end), now)?;
        written += rows.len();
        store.put_enpi(assets.list[idx].id(), &rows)?;
        tick();
    }
    Ok(written)
}

/// How many asset-months [`recompute`] will work through (for a progress bar).
pub fn recompute_units(assets: &Assets, from: i64, to: i64) -> u64 {
    let tz = assets.timezone;
    let mut months = 0;
    let mut m = Step::Month.bucket_start(from, tz);
    while m < to {
        months += 1;
        m = Step::Month.bucket_end(m, tz);
    }
    months * assets.list.len() as u64
}

/// Keeps stored EnPIs current on one connection (see [`due`]). Returns the rows written.
pub fn refresh(store: &mut Store, assets: &Assets, now: i64) -> Result<usize, StoreError> {
    let ids = asset_ids(assets);
    store.retain_enpi_assets(&ids.iter().map(String::as_str).collect::<Vec<_>>())?;
    let Some(due) = due(store, assets, now)? else {
        return Ok(0);
    };
    let n = recompute(store, assets, due.from, now, now, || {})?;
    if due.full {
        mark_current(store, assets)?;
        tracing::info!(rows = n, "energy-performance indicators computed");
    }
    Ok(n)
}
