//! The monthly energy-management report's figures: gathered from the store (the plant's EnPI
//! rows, saved baselines, alarms, M&V plan results) for one plant-local billing month.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;

use super::{month_range, ReportError};
use crate::baseline::{self, Record};
use crate::enpi::assets::AssetSpec;
use crate::enpi::{self, Assets, Step};
use crate::store::{AlarmFilter, Store};

/// One billing month's figures, in no language: the renderers word them.
#[derive(Debug, Clone, Serialize)]
pub struct Monthly {
    pub site: String,
    pub site_name: String,
    /// First plant-local day of the month.
    pub month: NaiveDate,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub timezone: String,
    /// The month is not over (or its indicators are still being computed): figures to date.
    pub partial: bool,
    pub generated_at: DateTime<Utc>,
    pub plant: Result<PlantMonth, String>,
    /// Electricity by plant-local day, for the chart.
    pub daily_kwh: Vec<(NaiveDate, f64)>,
    pub significant: Significant,
    pub baselines: Vec<BaselineLine>,
    pub alarms: Vec<AlarmLine>,
    pub savings: Vec<PlanLine>,
    /// The contract capacities that would have cost least over the twelve months to the
    /// report's end (`None`: no tariff or plant asset; `Err`: why there is no optimum).
    pub contract: Option<Result<ContractLine, String>>,
}

/// The plant asset's monthly indicators (`energy_kwh`, `kwh_<period>`, `cost_<period>`,
/// `demand_kw`, `power_factor`, `co2e_scope1_kg`, …) and why any is missing.
#[derive(Debug, Clone, Serialize)]
pub struct PlantMonth {
    pub asset: String,
    pub currency: String,
    pub production_unit: String,
    /// The tariff's time-of-use periods, in its order.
    pub periods: Vec<String>,
    pub values: BTreeMap<String, f64>,
    pub missing: BTreeMap<String, String>,
}

impl PlantMonth {
    pub fn get(&self, name: &str) -> Result<f64, &str> {
        self.values.get(name).copied().ok_or_else(|| {
            self.missing
                .get(name)
                .map_or("not computed", String::as_str)
        })
    }
}

/// The energy review's significant energy uses, or why the report has none.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Significant {
    Uses {
        total_kwh: f64,
        uses: Vec<UseLine>,
    },
    /// A catalogue key saying why (so each language words it).
    Unavailable {
        reason_key: &'static str,
        detail: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct UseLine {
    pub rank: usize,
    pub name: String,
    pub kwh: f64,
    pub percent: f64,
    pub cumulative_percent: f64,
    pub significant: bool,
    pub drivers: Vec<String>,
}

/// A saved baseline tracked over the month, with its target's progress.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineLine {
    pub name: String,
    pub asset: Option<String>,
    pub unit: String,
    pub actual: Option<f64>,
    pub expected: Option<f64>,
    pub senpi: Option<f64>,
    pub cusum: Option<f64>,
    pub yoy_improvement_percent: Option<f64>,
    pub target: Option<TargetLine>,
    /// Why the baseline could not be tracked.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetLine {
    pub target_value: f64,
    pub unit: String,
    pub achieved: Option<f64>,
    pub forecast: Option<f64>,
    pub on_track: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlarmLine {
    pub raised_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub alarm: String,
    pub severity: String,
    pub subject: String,
    pub state: String,
    pub message: String,
}

/// One contract year of an M&V plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanLine {
    pub plan: String,
    pub year: u32,
    pub status: String,
    pub through: Option<String>,
    pub avoided_kwh: Option<f64>,
    pub guarantee_kwh: Option<f64>,
    pub confidence: Option<f64>,
    pub money: Option<f64>,
    pub currency: Option<String>,
}

/// The contract-capacity optimum over the year ending with the report's month.
#[derive(Debug, Clone, Serialize)]
pub struct ContractLine {
    /// `YYYY-MM` of the first and last month with demand.
    pub first_month: String,
    pub last_month: String,
    pub months: usize,
    pub currency: String,
    /// Capacities per contract kind (regular, half_peak, saturday_half_peak, off_peak), kW.
    pub current: Option<[f64; 4]>,
    pub best: [f64; 4],
    /// The year's basic plus over-contract charges.
    pub current_total: Option<f64>,
    pub best_total: f64,
    pub saving: Option<f64>,
    /// Months and kinds where the optimal contracts would have been exceeded.
    pub exceeded: usize,
}

/// Most alarms one report lists (the rest are counted).
pub const MAX_ALARMS: usize = 200;

/// Gathers the report of the month starting on `month` (its first day). `significant` is the
/// energy review's answer for the month, computed by the caller.
pub fn gather(
    store: &Store,
    assets: &Assets,
    site_name: &str,
    month: NaiveDate,
    now: DateTime<Utc>,
    significant: Significant,
) -> Result<Monthly, ReportError> {
    let tz = assets.timezone;
    let (from, to) = month_range(month, tz)?;
    if from >= now.timestamp_millis() {
        return Err(ReportError::Input(format!(
            "{}-{:02} has not begun at the plant",
            month.year(),
            month.month()
        )));
    }
    let (plant, partial, daily_kwh) = plant_month(store, assets, from, to)?;
    Ok(Monthly {
        site: assets.site.clone(),
        site_name: site_name.to_owned(),
        month,
        from: super::utc(from),
        to: super::utc(to),
        timezone: tz.name().to_owned(),
        partial: partial || to > now.timestamp_millis(),
        generated_at: now,
        plant,
        daily_kwh,
        significant,
        baselines: baselines(store, assets, month, to)?,
        alarms: alarms(store, from, to)?,
        savings: savings(store, assets)?,
        contract: contract(store, assets, to)?,
    })
}

fn contract(
    store: &Store,
    assets: &Assets,
    to: i64,
) -> Result<Option<Result<ContractLine, String>>, ReportError> {
    use crate::enpi::contract_bill::capacities;
    let (Some(tariff), Some(months)) = (
        &assets.tariff,
        crate::contract::months_from_store(
            store,
            assets,
            crate::contract::last_year(assets.timezone, to),
        )?,
    ) else {
        return Ok(None);
    };
    let o = match crate::contract::optimise(tariff, months, assets.contracts.as_ref()) {
        Ok(o) => o,
        Err(e) => return Ok(Some(Err(e.to_string()))),
    };
    Ok(Some(Ok(ContractLine {
        first_month: o
            .months
            .first()
            .map(|m| m.month.clone())
            .unwrap_or_default(),
        last_month: o.months.last().map(|m| m.month.clone()).unwrap_or_default(),
        months: o.months.len(),
        currency: o.currency.clone(),
        current: o.current.as_ref().map(|c| capacities(&c.capacities)),
        best: capacities(&o.best.capacities),
        current_total: o.current.as_ref().map(|c| c.total),
        best_total: o.best.total,
        saving: o.saving,
        exceeded: o.exceeded.len(),
    })))
}

type PlantParts = (Result<PlantMonth, String>, bool, Vec<(NaiveDate, f64)>);

fn plant_month(
    store: &Store,
    assets: &Assets,
    from: i64,
    to: i64,
) -> Result<PlantParts, ReportError> {
    let Some(spec) = assets.list.iter().find_map(|a| match a {
        AssetSpec::Plant(p) => Some(p),
        _ => None,
    }) else {
        return Ok((Err("no-plant".into()), false, Vec::new()));
    };
    let Some(month) = enpi::read(store, assets, &spec.id, Step::Month, from, to)? else {
        return Ok((Err("no-plant".into()), false, Vec::new()));
    };
    let days = enpi::read(store, assets, &spec.id, Step::Day, from, to)?;
    let daily = days
        .map(|r| {
            r.rows
                .iter()
                .filter_map(|row| {
                    let d = row.ts.with_timezone(&assets.timezone).date_naive();
                    Some((d, *row.values.get("energy_kwh")?))
                })
                .collect()
        })
        .unwrap_or_default();
    let Some(row) = month.rows.into_iter().next() else {
        return Ok((Err("no-data".into()), true, daily));
    };
    let partial = row.partial || month.computing;
    Ok((
        Ok(PlantMonth {
            asset: spec.id.clone(),
            currency: assets
                .tariff
                .as_ref()
                .map_or_else(String::new, |t| t.currency.clone()),
            production_unit: spec.production_unit.clone(),
            periods: assets
                .tariff
                .as_ref()
                .map(|t| t.period_names().into_iter().map(str::to_owned).collect())
                .unwrap_or_default(),
            values: row.values,
            missing: row.missing,
        }),
        partial,
        daily,
    ))
}

fn baselines(
    store: &Store,
    assets: &Assets,
    month: NaiveDate,
    to: i64,
) -> Result<Vec<BaselineLine>, ReportError> {
    let key = format!("{}-{:02}", month.year(), month.month());
    let mut out = Vec::new();
    for row in store.baselines()? {
        let line = |error: Option<String>| BaselineLine {
            name: row.name.clone(),
            asset: row.asset.clone(),
            unit: "kWh".into(),
            actual: None,
            expected: None,
            senpi: None,
            cusum: None,
            yoy_improvement_percent: None,
            target: None,
            error,
        };
        let tracked = Record::from_row(&row)
            .and_then(|rec| baseline::track(store, assets, &rec, to, Some(month.year())));
        let t = match tracked {
            Ok(t) => t,
            Err(e) => {
                out.push(line(Some(e.to_string())));
                continue;
            }
        };
        let mut l = line(None);
        l.unit = t.energy_unit.clone();
        if let Some(m) = t.months.iter().find(|m| m.month == key) {
            l.actual = Some(m.actual);
            l.expected = Some(m.expected);
            l.senpi = m.senpi;
            l.cusum = Some(m.cusum);
            l.yoy_improvement_percent = m.yoy_improvement_percent;
        }
        l.target = t.target.map(|p| TargetLine {
            target_value: p.target_value,
            unit: p.unit.to_owned(),
            achieved: p.achieved,
            forecast: p.forecast,
            on_track: p.on_track,
        });
        out.push(l);
    }
    Ok(out)
}

fn alarms(store: &Store, from: i64, to: i64) -> Result<Vec<AlarmLine>, ReportError> {
    let rows = store.alarms(&AlarmFilter {
        state: None,
        since: Some(from),
        limit: 10_000,
    })?;
    let mut out: Vec<AlarmLine> = rows
        .into_iter()
        .filter(|a| {
            let t = a.raised_at.timestamp_millis();
            (from..to).contains(&t)
        })
        .map(|a| AlarmLine {
            raised_at: a.raised_at,
            cleared_at: a.cleared_at,
            alarm: a.id,
            severity: a.severity,
            subject: a.subject,
            state: a.state,
            message: a.message,
        })
        .collect();
    out.sort_by_key(|a| a.raised_at);
    Ok(out)
}

fn savings(store: &Store, assets: &Assets) -> Result<Vec<PlanLine>, ReportError> {
    let mut out = Vec::new();
    for plan in &assets.plans {
        let status = crate::mv::guarantee::plan_status(store, plan)?;
        for y in status.years {
            out.push(PlanLine {
                plan: status.name.clone().unwrap_or_else(|| status.id.clone()),
                year: y.year,
                status: y.status.to_owned(),
                through: y.through,
                avoided_kwh: y.avoided_kwh,
                guarantee_kwh: y.guarantee_kwh,
                confidence: y.confidence,
                money: y.shortfall_money,
                currency: y.currency,
            });
        }
    }
    Ok(out)
}
