//! Demand-response verification (需量反應): for each dated event, the customer baseline load
//! by the programme's rule, the delivered reduction per quarter-hour and in total, and a
//! verdict against the committed kW (see [`cbl`]). Events come from the site file
//! (`[[demand_response]]`) and from the API or CLI (stored in the `dr_events` table); results
//! are recomputed from the store on every read, so late data change them, and stored.

pub mod cbl;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use chrono::Duration;
use kilowatch_site::config::DrEvent;

use crate::demand::plant_quarters;
use crate::enpi::inputs::QUARTER_MS;
use crate::enpi::Assets;
use crate::store::{DrRow, Store, StoreError};
pub use cbl::{verify, Calendar, Verification};

/// Where an event was entered.
pub const SITE: &str = "site";
pub const API: &str = "api";

/// Every event: the site file's, then the stored ones whose ids the site file does not use,
/// by date and start.
pub fn events(assets: &Assets, rows: &[DrRow]) -> Vec<(DrEvent, &'static str)> {
    let mut out: Vec<(DrEvent, &'static str)> = assets
        .demand_response
        .iter()
        .map(|e| (e.clone(), SITE))
        .collect();
    for r in rows.iter().filter(|r| r.source == API) {
        if let Ok(e) = serde_json::from_str::<DrEvent>(&r.event) {
            if !out.iter().any(|(o, _)| o.id == e.id) {
                out.push((e, API));
            }
        }
    }
    out.sort_by(|(a, _), (b, _)| (a.date, &a.start, &a.id).cmp(&(b.date, &b.start, &b.id)));
    out
}

/// Verifies each of `events` on the store's plant demand of the quarter-hours over by `now`
/// (UTC ms: one in progress would count as a low reading). `Ok(None)`: no plant asset.
pub fn verify_all(
    store: &Store,
    assets: &Assets,
    events: &[(DrEvent, &'static str)],
    now: i64,
) -> Result<Option<Vec<Verification>>, StoreError> {
    let days: HashSet<_> = events.iter().map(|(e, _)| e.date).collect();
    let mut out = Vec::new();
    for (e, source) in events {
        let mut others = days.clone();
        // An event's own day is not one of its baseline candidates anyway; other events on
        // the same day do not change that.
        others.remove(&e.date);
        let cal = Calendar {
            tz: assets.timezone,
            tariff: assets.tariff.as_ref(),
            event_days: &others,
        };
        let from = cal.at(e.date - Duration::days(cbl::LOOKBACK_DAYS + 1), 0);
        let to = cal.at(e.date + Duration::days(1), 0);
        let (Some(from), Some(to)) = (from, to) else {
            continue;
        };
        let Some(q) = plant_quarters(store, assets, (from, to))? else {
            return Ok(None);
        };
        let demand: HashMap<i64, f64> = q
            .iter()
            .filter(|q| q.ts + QUARTER_MS <= now)
            .map(|q| (q.ts, q.kw))
            .collect();
        out.push(verify(e, source, &cal, &demand));
    }
    Ok(Some(out))
}

/// The stored rows (to store changed results against) and every event verified.
pub type Verified = (Vec<DrRow>, Vec<Verification>);

/// Reads the stored events and verifies them all: the rows (to store changed results) and the
/// verifications. `Ok(None)`: no plant asset.
pub fn verify_stored(
    store: &Store,
    assets: &Assets,
    now: i64,
) -> Result<Option<Verified>, StoreError> {
    let rows = store.dr_events()?;
    let all = events(assets, &rows);
    Ok(verify_all(store, assets, &all, now)?.map(|v| (rows, v)))
}

/// The rows to write so the stored results match `verified` (unchanged ones left out).
pub fn changed_results(rows: &[DrRow], verified: &[Verification]) -> Vec<DrRow> {
    verified
        .iter()
        .filter_map(|v| {
            let result = serde_json::to_string(v).ok()?;
            let event = serde_json::to_string(&v.event).ok()?;
            let stored = rows
                .iter()
                .find(|r| r.id == v.event.id && r.source == v.source);
            if stored.is_some_and(|r| r.result.as_deref() == Some(result.as_str())) {
                return None;
            }
            Some(DrRow {
                id: v.event.id.clone(),
                source: v.source.clone(),
                event,
                created_at: stored.map_or(0, |r| r.created_at),
                result: Some(result),
                computed_at: None,
            })
        })
        .collect()
}

/// Whether the site lacks the plant asset whose demand is verified.
pub fn incomers_missing(assets: &Assets) -> bool {
    crate::demand::incomers(assets).is_none()
}
