//! Savings verification (M&V, IPMVP Options B and C, ASHRAE Guideline 14): source (CSV rows or
//! store quarter-hours, aggregated into periods) → baseline model (candidates, qualification,
//! selection) → adjusted baseline and savings with their uncertainty → JSON or an HTML report.

pub mod analysis;
pub mod billing;
pub mod billing_input;
pub mod billing_model;
#[cfg(test)]
mod billing_tests;
pub mod calendar;
pub mod changepoint;
pub mod checks;
pub mod dist;
pub mod form;
pub mod frame;
pub mod guarantee;
pub mod html;
mod html_extras;
pub mod html_text;
pub mod input;
pub mod model;
pub mod normal;
pub mod ols;
pub mod placebo;
pub mod plan;
pub mod plan_eval;
pub mod plan_html;
pub mod price;
pub mod query;
pub mod report;
pub mod savings;
pub mod select;
mod site_price;
pub mod svg;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_recovery;
pub mod verdict;
pub mod verify;

pub use analysis::{MvError, Request};
pub use report::Report;
pub use verify::analyse;

use frame::{parse_range, Granularity, Raw, Zone};
use model::{Spec, TempUnit};
use savings::Adjustment;

/// The options shared by the CLI and the API, as text.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Options {
    /// `FROM..TO`: dates (both days included) or RFC 3339 instants.
    pub baseline: String,
    pub reporting: String,
    /// hour, day (default), week or month.
    pub granularity: Option<String>,
    /// Force one form instead of selecting.
    pub model: Option<String>,
    /// `FROM..TO=ENERGY:REASON`, repeatable.
    #[serde(default)]
    pub adjust: Vec<String>,
    /// C (default) or F.
    pub temp_unit: Option<String>,
    /// The energy column's unit for CSV input (default kWh).
    pub energy_unit: Option<String>,
    /// The plant's holidays as dates (CSV input; the store's come from `site.holidays`).
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Accept reporting conditions outside the baseline's (their uncertainty is counted).
    #[serde(default)]
    pub accept_extrapolation: bool,
    /// Run the placebo back-test on the baseline.
    #[serde(default)]
    pub placebo: bool,
    /// Tariff, emission factors and contract that price a CSV run (the store uses the site's).
    #[serde(skip)]
    pub pricing: price::Pricing,
    /// The typical weather year for normalized savings (default: the built-in Taipei normals,
    /// for data in Asia/Taipei).
    #[serde(skip)]
    pub normal_weather: Option<normal::NormalYear>,
}

/// Most periods one range may hold (a hundred thousand hours is over eleven years).
pub const MAX_PERIODS: i64 = 100_000;

fn request(o: &Options, zone: Zone, source: String) -> Result<Request, MvError> {
    let input = |e: String| MvError::Input(e);
    let baseline = parse_range(&o.baseline, zone).map_err(|e| input(format!("baseline: {e}")))?;
    let reporting =
        parse_range(&o.reporting, zone).map_err(|e| input(format!("reporting: {e}")))?;
    let granularity = o
        .granularity
        .as_deref()
        .map(Granularity::parse)
        .transpose()
        .map_err(|e| input(format!("granularity: {e}")))?
        .unwrap_or(Granularity::Day);
    for (name, (from, to)) in [("baseline", baseline), ("reporting", reporting)] {
        let periods = (to - from) / granularity.nominal_ms();
        if periods > MAX_PERIODS {
            return Err(input(format!(
                "{name}: {periods} {}s, more than the limit of {MAX_PERIODS}; use a shorter range or a coarser granularity",
                granularity.code()
            )));
        }
    }
    Ok(Request {
        source,
        energy_unit: "kWh".into(),
        temp_unit: o
            .temp_unit
            .as_deref()
            .map(TempUnit::parse)
            .transpose()
            .map_err(|e| input(format!("temperature unit: {e}")))?
            .unwrap_or(TempUnit::C),
        granularity,
        baseline,
        reporting,
        model: o
            .model
            .as_deref()
            .map(Spec::parse)
            .transpose()
            .map_err(|e| input(format!("model: {e}")))?,
        holidays: {
            let mut days = o
                .holidays
                .iter()
                .map(|d| {
                    chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                        .map_err(|_| input(format!("holiday `{d}`: write a date as YYYY-MM-DD")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            days.sort();
            days.dedup();
            days
        },
        accept_extrapolation: o.accept_extrapolation,
        placebo: o.placebo,
        adjustments: o
            .adjust
            .iter()
            .map(|a| Adjustment::parse(a, zone))
            .collect::<Result<_, _>>()
            .map_err(|e| input(format!("adjustment: {e}")))?,
    })
}

/// Verification of data read from a CSV file.
pub fn from_csv(
    path: &std::path::Path,
    cols: &input::CsvColumns,
    tz: Option<chrono_tz::Tz>,
    o: &Options,
) -> Result<Report, MvError> {
    let raw: Raw = input::read_csv(path, cols, tz).map_err(MvError::Input)?;
    let mut req = request(o, raw.zone, path.display().to_string())?;
    // The column's unit is the user's; reports call it kWh unless told otherwise.
    if let Some(unit) = &o.energy_unit {
        req.energy_unit = unit.clone();
    }
    let report = analyse(&raw, &req)?;
    extras(report, &raw, &req, &o.pricing, o)
}

/// Verification of data in the store.
pub fn from_store(
    store: &crate::store::Store,
    assets: &crate::enpi::Assets,
    q: &input::StoreQuery,
    o: &Options,
) -> Result<Report, MvError> {
    let zone = Zone::Named(assets.timezone);
    let probe = request(o, zone, String::new())?;
    let from = probe.baseline.0.min(probe.reporting.0);
    let to = probe.baseline.1.max(probe.reporting.1);
    let (raw, source) = input::read_store(store, assets, q, from, to).map_err(MvError::Input)?;
    let mut req = Request { source, ..probe };
    req.holidays.extend(&assets.holidays);
    req.holidays.sort();
    req.holidays.dedup();
    let report = analyse(&raw, &req)?;
    let pricing = site_price::pricing(store, assets, q, req.reporting);
    extras(report, &raw, &req, &pricing, o)
}

/// Priced and normalized savings, added to the report.
fn extras(
    mut report: Report,
    raw: &Raw,
    req: &Request,
    pricing: &price::Pricing,
    o: &Options,
) -> Result<Report, MvError> {
    if pricing.tariff.is_some() {
        if req.energy_unit != "kWh" {
            return Err(MvError::Input(format!(
                "a tariff prices kWh: the energy is in {} (drop the tariff or convert)",
                req.energy_unit
            )));
        }
        let ends: std::collections::HashMap<i64, i64> =
            frame::aggregate(raw, req.granularity, req.reporting.0, req.reporting.1)
                .map_err(MvError::Input)?
                .periods
                .iter()
                .map(|p| (p.start, p.end))
                .collect();
        let periods: Vec<price::Avoided> = report
            .series
            .iter()
            .filter(|p| p.reporting)
            .filter_map(|p| {
                Some(price::Avoided {
                    start: p.ms,
                    end: *ends.get(&p.ms)?,
                    actual: p.actual,
                    adjusted: p.modelled,
                })
            })
            .collect();
        report.priced = price::price(raw, req.granularity, &periods, pricing);
    }
    // The built-in normals are Taipei's: only data on Taipei time gets them by default.
    let builtin =
        (raw.zone == Zone::Named(chrono_tz::Asia::Taipei)).then(normal::NormalYear::builtin);
    let year = o.normal_weather.as_ref().or(builtin.as_ref());
    report.normalized = Some(normal::normalize(raw, req, &report, year));
    Ok(report)
}
