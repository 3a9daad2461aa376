//! Savings verification (M&V, IPMVP Options B and C, ASHRAE Guideline 14): source (CSV rows or
//! store quarter-hours, aggregated into periods) → baseline model (candidates, qualification,
//! selection) → adjusted baseline and savings with their uncertainty → JSON or an HTML report.

pub mod analysis;
pub mod changepoint;
pub mod dist;
pub mod frame;
pub mod guarantee;
pub mod html;
pub mod input;
pub mod model;
pub mod ols;
pub mod plan;
pub mod plan_eval;
pub mod plan_html;
pub mod savings;
pub mod svg;
#[cfg(test)]
mod tests;

pub use analysis::{analyse, MvError, Report, Request};

use frame::{parse_range, Granularity, Raw, Zone};
use model::{Form, TempUnit};
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
            .map(Form::parse)
            .transpose()
            .map_err(|e| input(format!("model: {e}")))?,
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
    analyse(&raw, &req)
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
    let req = Request { source, ..probe };
    analyse(&raw, &req)
}
