//! What prices savings read from the store: the site's tariff, emission factors and contract,
//! and the power factor measured at the plant's meters.

use std::collections::BTreeMap;

use chrono::Datelike;

use super::input::{meters, StoreQuery};
use super::price::Pricing;
use crate::enpi::assets::AssetSpec;
use crate::enpi::inputs::{Grid, Loader, QUARTER_MS};
use crate::enpi::Assets;
use crate::i18n::Msg;
use crate::store::Store;

pub fn pricing(store: &Store, assets: &Assets, q: &StoreQuery, reporting: (i64, i64)) -> Pricing {
    let queried = q
        .asset
        .as_deref()
        .and_then(|id| assets.get(id))
        .map(|(_, a)| a);
    let plant = match queried {
        Some(AssetSpec::Plant(p)) if q.energy.is_empty() => Some(p),
        _ => None,
    };
    // The bill's power factor is the site's: the plant asset's meters, whichever asset is priced.
    let site_meters = queried
        .filter(|a| matches!(a, AssetSpec::Plant(_)))
        .or_else(|| {
            assets
                .list
                .iter()
                .find(|a| matches!(a, AssetSpec::Plant(_)))
        })
        .map(|a| meters(a).0);
    Pricing {
        tariff: assets.tariff.clone(),
        factors: assets.factors.clone(),
        contract_kw: plant
            .and_then(|p| p.contract_kw)
            .or(assets.contracts.map(|c| c.regular)),
        no_demand: plant.is_none().then(|| Msg::new("mvr-as-plant-only")),
        power_factor: site_meters.and_then(|m| measured_pf(store, assets, &m, reporting)),
    }
}

/// Monthly power factor, Σ kWh ÷ Σ kVAh over the quarter-hours with both; `None` when the
/// meters give no apparent or reactive energy.
fn measured_pf(
    store: &Store,
    assets: &Assets,
    devices: &[String],
    (from, to): (i64, i64),
) -> Option<BTreeMap<String, f64>> {
    let start = from.div_euclid(QUARTER_MS) * QUARTER_MS;
    let n = ((to - start) / QUARTER_MS).max(0) as usize;
    let mut loader = Loader::new(store, &assets.site, Grid { start, n });
    let (kwh, kvah) = crate::enpi::power_factor::sum(&mut loader, devices).ok()?;
    let mut months: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (i, (p, s)) in kwh.iter().zip(&kvah).enumerate() {
        if let (Ok(p), Ok(s)) = (p, s) {
            let local = chrono::DateTime::from_timestamp_millis(loader.grid.ts(i))?
                .with_timezone(&assets.timezone)
                .date_naive();
            let m = months
                .entry(format!("{:04}-{:02}", local.year(), local.month()))
                .or_default();
            m.0 += p;
            m.1 += s;
        }
    }
    let pf: BTreeMap<String, f64> = months
        .into_iter()
        .filter(|(_, (_, s))| *s > 0.0)
        .map(|(m, (p, s))| (m, (p / s).clamp(0.0, 1.0)))
        .collect();
    (!pf.is_empty()).then_some(pf)
}
