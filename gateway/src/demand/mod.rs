//! Demand management (需量抑低): the plant's 15-minute demand profile by tariff period and day
//! type, the top demand events with each sub-meter's share, and the load that would have to move
//! to cut the peak by X kW. All from the stored quarter-hour rollups of the plant asset's
//! incomers (the demand the EnPI engine bills) and of the meters hung directly below them.

pub mod events;
pub mod profile;
pub mod shave;

#[cfg(test)]
mod tests;

use chrono::{NaiveDateTime, TimeZone};
use kilowatch_site::config::MeterTree;
use serde::Serialize;

use crate::enpi::assets::AssetSpec;
use crate::enpi::facts::F;
use crate::enpi::inputs::{Grid, Loader, QUARTER_MS};
use crate::enpi::quarters::quarter_facts;
use crate::enpi::Assets;
use crate::store::{Store, StoreError};
pub use events::{top_events, Event};
pub use profile::{profile, Profile};
pub use shave::{shave, Shave};

/// The range analysed when none is given: 30 days.
pub const DEFAULT_SPAN_MS: i64 = 30 * 24 * 3_600_000;

/// Day types as tariffs bill them (index = [`crate::enpi::tariff::Tariff::day_type`]).
pub const DAY_TYPES: [&str; 3] = ["weekday", "saturday", "sunday_holiday"];

/// One quarter-hour of plant demand: its start (UTC ms) and average kW.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quarter {
    pub ts: i64,
    pub kw: f64,
}

/// A meter directly below the plant's incomers: its share of an event is its own demand.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SubMeter {
    pub id: String,
    pub name: Option<String>,
}

/// The plant-local time of a UTC instant (`None` in a gap that cannot happen for a UTC
/// instant, kept so no input panics).
pub fn local(tz: chrono_tz::Tz, ts: i64) -> Option<NaiveDateTime> {
    tz.timestamp_millis_opt(ts)
        .single()
        .map(|t| t.naive_local())
}

/// The plant asset's incomer devices, when the site has a plant asset.
pub fn incomers(assets: &Assets) -> Option<&[String]> {
    assets.list.iter().find_map(|a| match a {
        AssetSpec::Plant(p) => Some(p.power.as_slice()),
        _ => None,
    })
}

/// The physical meters whose parent is an incomer, in file order. Virtual meters and deeper
/// meters are left out: they would count the same load twice.
pub fn sub_meters(tree: &MeterTree, incomers: &[String]) -> Vec<SubMeter> {
    tree.nodes
        .iter()
        .filter(|n| !n.is_virtual && n.parent.as_ref().is_some_and(|p| incomers.contains(p)))
        .map(|n| SubMeter {
            id: n.id.clone(),
            name: n.name.clone(),
        })
        .collect()
}

/// The plant demand of each quarter-hour of `[from, to)` that has one (each quarter's energy ÷
/// 0.25 h, as the EnPI engine computes it). `Ok(None)`: the site has no plant asset.
pub fn plant_quarters(
    store: &Store,
    assets: &Assets,
    (from, to): (i64, i64),
) -> Result<Option<Vec<Quarter>>, StoreError> {
    let Some(idx) = assets
        .list
        .iter()
        .position(|a| matches!(a, AssetSpec::Plant(_)))
    else {
        return Ok(None);
    };
    let start = from.div_euclid(QUARTER_MS) * QUARTER_MS;
    let n = ((to - start) / QUARTER_MS).max(0) as usize;
    let grid = Grid { start, n };
    let mut loader = Loader::new(store, &assets.site, grid);
    let facts = quarter_facts(&mut loader, assets, idx)?;
    Ok(Some(
        facts
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                f.get(F::DEMAND_KW)
                    .ok()
                    .map(|kw| Quarter { ts: grid.ts(i), kw })
            })
            .collect(),
    ))
}

/// Each sub-meter's average kW over the quarter-hour starting `ts` (`None`: no data).
pub fn meter_kw(
    store: &Store,
    site: &str,
    meters: &[SubMeter],
    ts: i64,
) -> Result<Vec<Option<f64>>, StoreError> {
    let mut loader = Loader::new(store, site, Grid { start: ts, n: 1 });
    meters
        .iter()
        .map(|m| {
            Ok(loader
                .energy(&m.id)?
                .first()
                .and_then(|v| v.as_ref().ok())
                .map(|kwh| kwh / 0.25))
        })
        .collect()
}

/// Everything `demand events` answers: the top events with each sub-meter's kW filled in.
pub fn events_from_store(
    store: &Store,
    assets: &Assets,
    tree: &MeterTree,
    range: (i64, i64),
    n: usize,
) -> Result<Option<Vec<Event>>, StoreError> {
    let (Some(tariff), Some(inc)) = (&assets.tariff, incomers(assets)) else {
        return Ok(None);
    };
    let Some(quarters) = plant_quarters(store, assets, range)? else {
        return Ok(None);
    };
    let meters = sub_meters(tree, inc);
    let mut out = Vec::new();
    for q in events::peaks(assets.timezone, &quarters, n) {
        let kw = meter_kw(store, &assets.site, &meters, q.ts)?;
        out.push(events::event(tariff, assets.timezone, q, &meters, &kw));
    }
    Ok(Some(out))
}
