//! The annual greenhouse-gas summary's figures: scope 1 (fuels burnt, by source) and scope 2
//! (purchased electricity × the grid factor of its factor year, location-based), by month.
//! Market-based scope 2 has its place in the answer and is empty until contractual
//! instruments (certificates, supplier factors) are recorded.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;

use super::{midnight, ReportError};
use crate::enpi::assets::AssetSpec;
use crate::enpi::utility::Utility;
use crate::enpi::{self, Assets, Step};
use crate::store::Store;

#[derive(Debug, Clone, Serialize)]
pub struct Ghg {
    pub site: String,
    pub site_name: String,
    pub year: i32,
    pub timezone: String,
    /// The year is not over: figures to date.
    pub partial: bool,
    pub generated_at: DateTime<Utc>,
    pub scope1: Vec<Source>,
    /// Location-based scope 2: the grid's average factor.
    pub scope2_location: Vec<Source>,
    /// Market-based scope 2 (supplier factors, certificates): `None` until recorded.
    pub scope2_market: Option<Vec<Source>>,
    pub months: Vec<MonthLine>,
    pub scope1_kg: f64,
    pub scope2_location_kg: f64,
    pub grid_factors: Option<String>,
    pub grid_source: Option<String>,
}

/// One emission source with its activity and factor.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// An asset id (a boiler) or the plant's incomer.
    pub source: String,
    /// `natural_gas`, `diesel`, … or `electricity`.
    pub activity_kind: String,
    pub activity: Option<f64>,
    pub activity_unit: String,
    pub factor: Option<f64>,
    pub factor_unit: String,
    /// The year the factor was published for (grid factors); fuels use the IPCC defaults.
    pub factor_year: Option<i32>,
    pub kg_co2e: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MonthLine {
    pub month: NaiveDate,
    pub scope1_kg: f64,
    pub scope2_location_kg: f64,
}

pub fn gather(
    store: &Store,
    assets: &Assets,
    site_name: &str,
    year: i32,
    now: DateTime<Utc>,
) -> Result<Ghg, ReportError> {
    let tz = assets.timezone;
    let first = NaiveDate::from_ymd_opt(year, 1, 1)
        .ok_or_else(|| ReportError::Input(format!("{year} is not a year")))?;
    let next = NaiveDate::from_ymd_opt(year + 1, 1, 1)
        .ok_or_else(|| ReportError::Input(format!("{year} is not a year")))?;
    let (from, to) = (midnight(first, tz), midnight(next, tz));
    if from >= now.timestamp_millis() {
        return Err(ReportError::Input(format!(
            "{year} has not begun at the plant"
        )));
    }
    let mut months: BTreeMap<NaiveDate, MonthLine> = (1..=12)
        .filter_map(|m| NaiveDate::from_ymd_opt(year, m, 1))
        .map(|d| {
            (
                d,
                MonthLine {
                    month: d,
                    scope1_kg: 0.0,
                    scope2_location_kg: 0.0,
                },
            )
        })
        .collect();
    let month_of = |ts: DateTime<Utc>| {
        let d = ts.with_timezone(&tz).date_naive();
        d.with_day(1).unwrap_or(d)
    };
    let mut scope1 = Vec::new();
    let mut scope2 = Vec::new();
    for spec in &assets.list {
        match spec {
            AssetSpec::Utility(Utility::Boiler(b)) => {
                let Some(r) = enpi::read(store, assets, &b.id, Step::Month, from, to)? else {
                    continue;
                };
                let (unit, kg_per) = b.resolved.as_ref().map_or((String::new(), 0.0), |f| {
                    (f.unit.clone(), f.kg_co2e_per_unit)
                });
                let mut fuel = 0.0;
                for row in &r.rows {
                    let used = row.values.get("fuel_used").copied().unwrap_or(0.0);
                    fuel += used;
                    if let Some(m) = months.get_mut(&month_of(row.ts)) {
                        m.scope1_kg += used * kg_per;
                    }
                }
                scope1.push(Source {
                    source: b.id.clone(),
                    activity_kind: b.fuel.clone(),
                    activity: Some(fuel),
                    activity_unit: unit.clone(),
                    factor: Some(kg_per),
                    factor_unit: format!("kg CO2e/{unit}"),
                    factor_year: None,
                    kg_co2e: fuel * kg_per,
                });
            }
            AssetSpec::Plant(p) => {
                let Some(r) = enpi::read(store, assets, &p.id, Step::Month, from, to)? else {
                    continue;
                };
                // The plant's own fuel meters (`fuels`), as one source.
                if !p.fuels.is_empty() {
                    let mut kg = 0.0;
                    for row in &r.rows {
                        let v = row.values.get("co2e_scope1_kg").copied().unwrap_or(0.0);
                        kg += v;
                        if let Some(m) = months.get_mut(&month_of(row.ts)) {
                            m.scope1_kg += v;
                        }
                    }
                    let names: Vec<&str> = p.fuels.iter().map(|f| f.name.as_str()).collect();
                    scope1.push(Source {
                        source: p.id.clone(),
                        activity_kind: names.join(", "),
                        activity: None,
                        activity_unit: String::new(),
                        factor: None,
                        factor_unit: String::new(),
                        factor_year: None,
                        kg_co2e: kg,
                    });
                }
                // Electricity by factor year (a year's months share one, but a year without a
                // published factor uses the latest earlier one: the row says which).
                let mut by_year: BTreeMap<i32, (f64, f64, f64)> = BTreeMap::new();
                for row in &r.rows {
                    let kwh = row.values.get("energy_kwh").copied().unwrap_or(0.0);
                    let kg = row.values.get("co2e_scope2_kg").copied().unwrap_or(0.0);
                    let m = month_of(row.ts);
                    if let Some(line) = months.get_mut(&m) {
                        line.scope2_location_kg += kg;
                    }
                    let (factor, fy) = assets
                        .factors
                        .as_ref()
                        .map_or((0.0, m.year()), |f| f.factor(m.year()));
                    let e = by_year.entry(fy).or_insert((0.0, 0.0, factor));
                    e.0 += kwh;
                    e.1 += kg;
                }
                for (fy, (kwh, kg, factor)) in by_year {
                    scope2.push(Source {
                        source: p.id.clone(),
                        activity_kind: "electricity".into(),
                        activity: Some(kwh),
                        activity_unit: "kWh".into(),
                        factor: assets.factors.is_some().then_some(factor),
                        factor_unit: "kg CO2e/kWh".into(),
                        factor_year: Some(fy),
                        kg_co2e: kg,
                    });
                }
            }
            _ => {}
        }
    }
    Ok(Ghg {
        site: assets.site.clone(),
        site_name: site_name.to_owned(),
        year,
        timezone: tz.name().to_owned(),
        partial: to > now.timestamp_millis(),
        generated_at: now,
        scope1_kg: scope1.iter().map(|s| s.kg_co2e).sum(),
        scope2_location_kg: scope2.iter().map(|s| s.kg_co2e).sum(),
        scope1,
        scope2_location: scope2,
        scope2_market: None,
        months: months.into_values().collect(),
        grid_factors: assets.factors.as_ref().map(|f| f.name.clone()),
        grid_source: assets.factors.as_ref().and_then(|f| f.source.clone()),
    })
}
