//! Tracking a saved baseline: the M&V engine run with the baseline's period and form against
//! everything after it, grouped by month: actual, expected, SEnPI, CUSUM and the improvement
//! over the same month a year before; then the target's progress.

use std::collections::HashMap;

use serde::Serialize;

use super::fit::mv_request;
use super::target::{progress, Progress, Row};
use super::{BaselineError, Record};
use crate::enpi::Assets;
use crate::i18n::Msg;
use crate::mv::analysis::usable;
use crate::mv::frame::{aggregate, Frame, Granularity, Raw, VarAgg, Zone};
use crate::mv::input::{read_store, StoreQuery};
use crate::mv::model::Spec;
use crate::store::Store;

/// How SEnPI is defined in every answer.
pub const SENPI: &str =
    "actual / expected (ISO 50006 ratio, below 1 is better); improvement = 1 − SEnPI";

#[derive(Debug, Clone, Serialize)]
pub struct Tracking {
    pub baseline: Record,
    pub senpi_definition: &'static str,
    pub time_zone: String,
    pub energy_unit: String,
    /// The end of the range tracked (RFC 3339).
    pub tracked_to: String,
    pub months: Vec<Month>,
    pub target: Option<Progress>,
    /// In English; `warning_messages` for any language.
    pub warnings: Vec<String>,
    pub warning_messages: Vec<Msg>,
}

/// One month (or the part of one in the baseline or after it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Month {
    /// `YYYY-MM`, plant-local.
    pub month: String,
    /// In the baseline period (the model's fit) rather than after it.
    pub baseline: bool,
    pub periods: usize,
    pub actual: f64,
    pub expected: f64,
    pub senpi: Option<f64>,
    pub improvement_percent: Option<f64>,
    /// Running sum of actual − expected from the baseline's start (as the M&V report's chart):
    /// flat near zero over the baseline, falling while energy is saved.
    pub cusum: f64,
    /// 1 − SEnPI / SEnPI of the same month a year before, percent.
    pub yoy_improvement_percent: Option<f64>,
    pub production: Option<f64>,
}

impl Tracking {
    fn warn(&mut self, m: Msg) {
        self.warnings.push(m.en());
        self.warning_messages.push(m);
    }
}

impl Record {
    fn query(&self) -> StoreQuery {
        StoreQuery {
            asset: self.asset.clone(),
            energy: self.energy.clone(),
            temp: self.temp.clone(),
            vars: self.vars.clone(),
            no_temp: self.no_temp,
        }
    }
}

/// The production variable: `production` (an asset's counter) else the first summed one.
fn production_index(raw: &Raw) -> Option<usize> {
    raw.vars
        .iter()
        .position(|v| v.name == "production")
        .or_else(|| raw.vars.iter().position(|v| v.agg == VarAgg::Sum))
}

/// Tracks `rec` up to `to_ms`; the target's year is `year`, else the last tracked one.
pub fn track(
    store: &Store,
    assets: &Assets,
    rec: &Record,
    to_ms: i64,
    year: Option<i32>,
) -> Result<Tracking, BaselineError> {
    let input = BaselineError::Input;
    let zone = Zone::Named(assets.timezone);
    let g = Granularity::parse(&rec.model.granularity).map_err(input)?;
    let spec = Spec::parse(&rec.model.form).map_err(input)?;
    let to = to_ms.max(rec.to_ms);
    if (to - rec.from_ms) / g.nominal_ms() > crate::mv::MAX_PERIODS {
        return Err(input(format!(
            "more than {} {}s to track; give an earlier end",
            crate::mv::MAX_PERIODS,
            g.code()
        )));
    }
    let (raw, _) = read_store(store, assets, &rec.query(), rec.from_ms, to).map_err(input)?;
    let req = mv_request(
        g,
        (rec.from_ms, rec.to_ms),
        (rec.to_ms, to),
        Some(spec),
        assets,
    );
    let mut out = Tracking {
        baseline: rec.clone(),
        senpi_definition: SENPI,
        time_zone: zone.name(),
        energy_unit: rec.model.energy_unit.clone(),
        tracked_to: zone.format(to),
        months: vec![],
        target: None,
        warnings: vec![],
        warning_messages: vec![],
    };
    let after = aggregate(&raw, g, rec.to_ms, to).map_err(input)?;
    if after.expected == 0 || usable(&after, &raw, &req, None).0.energy.is_empty() {
        let step = Msg::new(match g {
            Granularity::Hour => "bl-step-hour",
            Granularity::Day => "bl-step-day",
            Granularity::Week => "bl-step-week",
            Granularity::Month => "bl-step-month",
        });
        out.warn(Msg::new("bl-warn-nothing-to-track").arg("step", step));
        return Ok(out);
    }
    let report = crate::mv::analyse(&raw, &req)?;
    let stored: Vec<(&str, Option<f64>)> = rec
        .model
        .coefficients
        .iter()
        .map(|c| (c.name.as_str(), c.value))
        .collect();
    let same = report.model.coefficients.0.len() == stored.len()
        && report
            .model
            .coefficients
            .0
            .iter()
            .zip(&stored)
            .all(|((n, v), (m, w))| {
                n == m
                    && match (v, w) {
                        (Some(a), Some(b)) => (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                        (a, b) => a == b,
                    }
            });
    if !same {
        out.warn(Msg::new("bl-warn-data-changed"));
    }
    for w in &report.warning_messages {
        out.warn(w.clone());
    }
    let before = aggregate(&raw, g, rec.from_ms, rec.to_ms).map_err(input)?;
    let prod = production_index(&raw);
    let facts: HashMap<i64, (i64, Option<f64>)> = [&before, &after]
        .into_iter()
        .flat_map(|f: &Frame| f.periods.iter())
        .map(|p| (p.start, (p.end, prod.and_then(|j| p.vars[j]))))
        .collect();
    let rows: Vec<(Row, f64)> = report
        .series
        .iter()
        .map(|p| {
            let (end, production) = facts
                .get(&p.ms)
                .copied()
                .unwrap_or((p.ms + g.nominal_ms(), None));
            let row = Row {
                start: p.ms,
                end,
                actual: p.actual,
                expected: p.modelled,
                production,
                baseline: !p.reporting,
            };
            (row, p.cusum)
        })
        .collect();
    out.months = months(&rows, zone);
    if let Some(target) = rec.target {
        let plain: Vec<Row> = rows.iter().map(|(r, _)| r.clone()).collect();
        let last = plain.last().map_or(rec.to_ms, |r| r.start);
        let year = year.unwrap_or_else(|| chrono::Datelike::year(&zone.date(last)));
        let base_year = chrono::Datelike::year(&zone.date(rec.to_ms - 1));
        out.target = Some(progress(target, &plain, zone, year, base_year));
    }
    Ok(out)
}

/// Groups the periods by month and phase (a month the baseline ends in has two rows).
fn months(rows: &[(Row, f64)], zone: Zone) -> Vec<Month> {
    let mut out: Vec<Month> = Vec::new();
    for (r, cusum) in rows {
        let month = zone.local(r.start).format("%Y-%m").to_string();
        let fresh = out
            .last()
            .is_none_or(|m| m.month != month || m.baseline != r.baseline);
        if fresh {
            out.push(Month {
                month,
                baseline: r.baseline,
                periods: 0,
                actual: 0.0,
                expected: 0.0,
                senpi: None,
                improvement_percent: None,
                cusum: 0.0,
                yoy_improvement_percent: None,
                production: Some(0.0),
            });
        }
        let m = out.last_mut().expect("pushed above");
        m.periods += 1;
        m.actual += r.actual;
        m.expected += r.expected;
        m.cusum = *cusum;
        m.production = m.production.zip(r.production).map(|(a, b)| a + b);
    }
    // Both phases of a month count for the comparison a year later.
    let mut by_month: HashMap<String, (f64, f64)> = HashMap::new();
    for m in &mut out {
        m.senpi = (m.expected > 0.0).then(|| m.actual / m.expected);
        m.improvement_percent = m.senpi.map(|s| 100.0 * (1.0 - s));
        let e = by_month.entry(m.month.clone()).or_default();
        e.0 += m.actual;
        e.1 += m.expected;
    }
    for m in &mut out {
        let year_before = m
            .month
            .split_once('-')
            .and_then(|(y, mm)| Some(format!("{}-{mm}", y.parse::<i32>().ok()? - 1)));
        let prev = year_before
            .and_then(|k| by_month.get(&k))
            .filter(|(_, e)| *e > 0.0)
            .map(|(a, e)| a / e)
            .filter(|s| *s > 0.0);
        m.yoy_improvement_percent = m.senpi.zip(prev).map(|(s, p)| 100.0 * (1.0 - s / p));
    }
    out
}
