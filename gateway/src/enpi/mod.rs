//! The EnPI engine: energy-performance indicators of compressors, chillers, the plant and the
//! utility assets (pumps, fans, boilers, cooling towers, chilled-water plants, heat recovery,
//! lighting: see `utility`),
//! defined on the assets of the site file and computed from the store's rollups.
//!
//! source (inputs: quarter-hour rollups) → transform (quarters: facts per quarter-hour; facts:
//! merge into hours, local days and billing months; indicators: ratios of merged facts) → sink
//! (the `enpi` table, read by the API, the CLI and the dashboard).

pub mod assets;
pub mod boiler;
pub mod chw_plant;
pub mod contract_bill;
pub mod cooling_tower;
pub mod defs;
pub mod emission;
pub mod facts;
pub mod fan;
pub mod fuels;
pub mod heat_recovery;
pub mod indicators;
pub mod inputs;
pub mod lighting;
pub mod power_factor;
pub mod pump;
pub mod quarters;
pub mod refresh;
pub mod series;
pub mod steam;
pub mod tariff;
pub mod utility;
pub mod utility_inputs;
pub mod why;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

pub use assets::Assets;
use facts::{Facts, StoredFacts};
use indicators::{Definition, Span};
use inputs::{Grid, Loader, QUARTER_MS};
pub use refresh::{recompute, recompute_units, refresh};

use crate::i18n::Msg;
use crate::store::{Store, StoreError};

/// Interval of an indicator row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Quarter,
    Hour,
    Day,
    Month,
}

impl Step {
    pub const ALL: [Step; 4] = [Step::Quarter, Step::Hour, Step::Day, Step::Month];

    pub fn code(self) -> &'static str {
        match self {
            Step::Quarter => "15m",
            Step::Hour => "1h",
            Step::Day => "1d",
            Step::Month => "1mo",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        use crate::when::Step as S;
        Ok(
            match crate::when::step(text, &[S::Quarter, S::Hour, S::Day, S::Month])? {
                S::Quarter => Step::Quarter,
                S::Hour => Step::Hour,
                S::Day => Step::Day,
                // Minute is not offered.
                S::Month | S::Minute => Step::Month,
            },
        )
    }

    /// Most rows one answer may hold.
    pub const MAX_ROWS: i64 = 200_000;

    /// Refuses a span of more than [`Self::MAX_ROWS`] steps (a month counted as 28 days).
    pub fn check_span(self, span_ms: i64) -> Result<(), String> {
        let per = match self {
            Step::Quarter => QUARTER_MS,
            Step::Hour => 3_600_000,
            Step::Day => 86_400_000,
            Step::Month => 28 * 86_400_000,
        };
        let rows = span_ms / per;
        if rows > Self::MAX_ROWS {
            return Err(format!(
                "{} over this range is {rows} rows, more than the limit of {}; use a coarser step or a shorter range",
                self.code(),
                Self::MAX_ROWS
            ));
        }
        Ok(())
    }

    /// The step that keeps a span readable: 15m up to 2 days, 1h up to 2 weeks, 1d up to
    /// 13 months, else 1mo.
    pub fn for_span(ms: i64) -> Self {
        let day = 86_400_000;
        if ms <= 2 * day {
            Step::Quarter
        } else if ms <= 14 * day {
            Step::Hour
        } else if ms <= 400 * day {
            Step::Day
        } else {
            Step::Month
        }
    }

    /// Start (ms) of the bucket holding `ts`: hours on the UTC grid like the rollups, days at
    /// plant-local midnight, months on the plant-local first day.
    pub fn bucket_start(self, ts: i64, tz: chrono_tz::Tz) -> i64 {
        match self {
            Step::Quarter => ts - ts.rem_euclid(QUARTER_MS),
            Step::Hour => ts - ts.rem_euclid(3_600_000),
            Step::Day => crate::rollup::bucket_start(ts, 86_400, tz),
            Step::Month => {
                let d = local_date(ts, tz);
                local_midnight(
                    NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d),
                    tz,
                )
            }
        }
    }

    pub fn bucket_end(self, start: i64, tz: chrono_tz::Tz) -> i64 {
        match self {
            Step::Quarter => start + QUARTER_MS,
            Step::Hour => start + 3_600_000,
            Step::Day => crate::rollup::bucket_end(start, 86_400, tz),
            Step::Month => {
                let d = local_date(start, tz);
                let (y, m) = if d.month() == 12 {
                    (d.year() + 1, 1)
                } else {
                    (d.year(), d.month() + 1)
                };
                local_midnight(NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d), tz)
            }
        }
    }
}

fn local_date(ts: i64, tz: chrono_tz::Tz) -> NaiveDate {
    tz.timestamp_millis_opt(ts)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

fn local_midnight(d: NaiveDate, tz: chrono_tz::Tz) -> i64 {
    tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
        .earliest()
        .map_or(0, |t| t.timestamp_millis())
}

fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// One interval's indicators.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub ts: DateTime<Utc>,
    /// The interval is not over yet (or the range cut it): its sums cover part of it.
    pub partial: bool,
    pub values: BTreeMap<String, f64>,
    /// Indicators without a value, and why.
    pub missing: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Summary {
    pub values: BTreeMap<String, f64>,
    pub missing: BTreeMap<String, String>,
}

/// Indicators of one asset over a range: the API's and the CLI's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub asset: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: Option<String>,
    pub step: &'static str,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub timezone: String,
    pub indicators: Vec<Definition>,
    pub rows: Vec<Row>,
    /// The whole range in one interval.
    pub summary: Summary,
    /// The gateway is still computing the indicators of all stored data (first start, or the
    /// assets, tariff or factors changed): rows may be missing or come from before the change.
    pub computing: bool,
    /// In English; `warning_messages` for any language.
    pub warnings: Vec<String>,
    pub warning_messages: Vec<Msg>,
}

/// Indicator values and reasons as shown to people.
pub fn split(values: Vec<(&str, indicators::V)>) -> Summary {
    let mut s = Summary::default();
    for (name, v) in values {
        match v {
            // Guard: nothing that is not a finite number leaves the engine.
            Ok(x) if x.is_finite() => {
                s.values.insert(name.to_owned(), x);
            }
            Ok(_) => {
                s.missing.insert(
                    name.to_owned(),
                    "not a finite number (a zero or missing input)".into(),
                );
            }
            Err(e) => {
                s.missing.insert(name.to_owned(), e.to_string());
            }
        }
    }
    s
}

fn span(step: Step, bucket: i64, f: &Facts, tz: chrono_tz::Tz) -> Span {
    Span {
        hours: f64::from(f.quarters) * 0.25,
        month: (step == Step::Month).then(|| local_date(bucket, tz)),
    }
}

/// The facts of every complete quarter-hour of asset `idx` in [from, to), quarters after
/// `now` left out.
pub fn compute_quarters(
    store: &Store,
    assets: &Assets,
    idx: usize,
    from: i64,
    to: i64,
    now: i64,
) -> Result<(Grid, Vec<Facts>), StoreError> {
    let start = from - from.rem_euclid(QUARTER_MS);
    let end = to.min(now - now.rem_euclid(QUARTER_MS));
    let n = usize::try_from((end - start).max(0) / QUARTER_MS).unwrap_or(0);
    let grid = Grid { start, n };
    let mut loader = Loader::new(store, &assets.site, grid);
    let facts = quarters::quarter_facts(&mut loader, assets, idx)?;
    Ok((grid, facts))
}

/// The facts of asset `idx` for the one quarter-hour starting at `quarter`, computed from
/// its rollups as they are now, and the stored series (ids) they were computed from.
pub fn quarter_with_inputs(
    store: &Store,
    assets: &Assets,
    idx: usize,
    quarter: i64,
) -> Result<(Facts, Vec<i64>), StoreError> {
    let grid = Grid {
        start: quarter - quarter.rem_euclid(QUARTER_MS),
        n: 1,
    };
    let mut loader = Loader::new(store, &assets.site, grid);
    let facts = quarters::quarter_facts(&mut loader, assets, idx)?
        .pop()
        .unwrap_or_else(Facts::quarter);
    Ok((facts, loader.loaded_series()))
}

/// Merges quarter facts into buckets of `step`: (bucket start, facts, partial).
pub fn roll(grid: Grid, facts: &[Facts], step: Step, tz: chrono_tz::Tz) -> Vec<(i64, Facts, bool)> {
    if step == Step::Quarter {
        return facts
            .iter()
            .enumerate()
            .map(|(i, f)| (grid.ts(i), f.clone(), false))
            .collect();
    }
    let mut out: Vec<(i64, Facts, bool)> = Vec::new();
    // Bucket bounds are looked up (time-zone arithmetic) only when a quarter leaves the
    // current bucket.
    let mut end = i64::MIN;
    for (i, f) in facts.iter().enumerate() {
        let ts = grid.ts(i);
        if ts >= end {
            let start = step.bucket_start(ts, tz);
            end = step.bucket_end(start, tz);
            out.push((start, f.clone(), false));
        } else if let Some((_, acc, _)) = out.last_mut() {
            acc.merge(f);
        }
    }
    for (b, _, partial) in &mut out {
        *partial = *b < grid.start || step.bucket_end(*b, tz) > grid.end();
    }
    out
}

/// One computed interval: step, bucket start, partial, merged facts.
pub type Computed = (Step, i64, bool, Facts);

/// The facts of asset `idx` at every step for [from, to), not stored.
pub fn compute_rows(
    store: &Store,
    assets: &Assets,
    idx: usize,
    from: i64,
    to: i64,
    now: i64,
) -> Result<Vec<Computed>, StoreError> {
    let tz = assets.timezone;
    let (grid, facts) = compute_quarters(store, assets, idx, from, to, now)?;
    let mut out = Vec::with_capacity(facts.len() * 5 / 4 + 64);
    for step in [Step::Hour, Step::Day, Step::Month] {
        for (bucket, f, partial) in roll(grid, &facts, step, tz) {
            out.push((step, bucket, partial, f));
        }
    }
    // The quarter-hours themselves, moved rather than copied.
    out.extend(
        facts
            .into_iter()
            .enumerate()
            .map(|(i, f)| (Step::Quarter, grid.ts(i), false, f)),
    );
    Ok(out)
}

/// The indicators of one computed interval of asset `idx`.
pub fn indicators_of<'a>(
    assets: &'a Assets,
    idx: usize,
    step: Step,
    bucket: i64,
    facts: &Facts,
) -> Vec<(&'a str, indicators::V)> {
    indicators::compute(
        assets,
        &assets.list[idx],
        facts,
        span(step, bucket, facts, assets.timezone),
    )
}

/// Reads stored indicators of one asset. `from`/`to` in ms; rows whose bucket starts in
/// [bucket of from, to).
pub fn read(
    store: &Store,
    assets: &Assets,
    asset: &str,
    step: Step,
    from: i64,
    to: i64,
) -> Result<Option<Report>, StoreError> {
    let Some((_, spec)) = assets.get(asset) else {
        return Ok(None);
    };
    let tz = assets.timezone;
    let start = step.bucket_start(from, tz);
    let stored = store.enpi_rows(asset, step.code(), start, to)?;
    let mut rows = Vec::with_capacity(stored.len());
    let mut merged = Facts::default();
    let mut month_sums: BTreeMap<&str, Result<f64, String>> = BTreeMap::new();
    let mut warnings = Vec::new();
    let idx = assets.get(asset).map_or(0, |(i, _)| i);
    for (bucket, partial, facts) in &stored {
        let stored_facts: StoredFacts = serde_json::from_str(facts).unwrap_or_default();
        let f = Facts::from(&stored_facts);
        merged.merge(&f);
        let v = split(indicators_of(assets, idx, step, *bucket, &f));
        // Only the plant asset is billed: other assets have no cost items to sum.
        if step == Step::Month && matches!(spec, assets::AssetSpec::Plant(_)) {
            for name in [
                "basic_charge",
                "over_contract_charge",
                "pf_adjustment",
                "total_cost",
            ] {
                let this = v
                    .values
                    .get(name)
                    .copied()
                    .ok_or_else(|| v.missing.get(name).cloned().unwrap_or_default());
                let acc = month_sums.entry(name).or_insert(Ok(0.0));
                *acc = match (acc.clone(), this) {
                    (Ok(a), Ok(b)) => Ok(a + b),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
            }
        }
        rows.push(Row {
            ts: utc(*bucket),
            partial: *partial,
            values: v.values,
            missing: v.missing,
        });
    }
    let mut summary = if merged.quarters == 0 {
        Summary::default()
    } else {
        split(indicators::compute(
            assets,
            spec,
            &merged,
            Span {
                hours: f64::from(merged.quarters) * 0.25,
                month: None,
            },
        ))
    };
    for (name, v) in month_sums {
        summary.missing.remove(name);
        summary.values.remove(name);
        match v {
            Ok(x) => {
                summary.values.insert(name.to_owned(), x);
            }
            Err(e) => {
                summary.missing.insert(name.to_owned(), e);
            }
        }
    }
    if start < from {
        let first = tz
            .timestamp_millis_opt(start)
            .single()
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        warnings.push(
            Msg::new("enpi-warn-whole-intervals")
                .arg(
                    "step",
                    Msg::new(match step {
                        Step::Quarter => "enpi-step-quarter",
                        Step::Hour => "enpi-step-hour",
                        Step::Day => "enpi-step-day",
                        Step::Month => "enpi-step-month",
                    }),
                )
                .arg("first", first)
                .arg("zone", tz.name()),
        );
    }
    let computing = !refresh::is_current(store, assets)?;
    if computing {
        warnings.push(Msg::new("enpi-warn-computing"));
    } else if rows.is_empty() {
        if store.rollup_span()?.is_some() {
            warnings.push(Msg::new("enpi-warn-no-rows").arg("asset", asset));
        } else {
            warnings.push(Msg::new("enpi-warn-no-data"));
        }
    }
    if let (assets::AssetSpec::Plant(_), Some(factors)) = (spec, &assets.factors) {
        let (y0, y1) = (local_date(start, tz).year(), local_date(to - 1, tz).year());
        for y in y0..=y1 {
            let (k, used) = factors.factor(y);
            if used != y {
                warnings.push(
                    Msg::new("enpi-warn-factor-year")
                        .arg("year", y.to_string())
                        .arg("factors", factors.name.as_str())
                        .arg("used", used.to_string())
                        .arg("factor", k.to_string()),
                );
            }
        }
    }
    Ok(Some(Report {
        asset: asset.to_owned(),
        kind: spec.kind(),
        name: spec.name().map(str::to_owned),
        step: step.code(),
        from: utc(from),
        to: utc(to),
        timezone: tz.name().to_owned(),
        indicators: indicators::definitions(assets, spec),
        rows,
        summary,
        computing,
        warnings: warnings.iter().map(Msg::en).collect(),
        warning_messages: warnings,
    }))
}

/// The assets and their indicator definitions (the API's answer without `asset=`).
#[derive(Debug, Serialize)]
pub struct AssetInfo {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: Option<String>,
    pub indicators: Vec<Definition>,
}

pub fn list(assets: &Assets) -> Vec<AssetInfo> {
    assets
        .list
        .iter()
        .map(|a| AssetInfo {
            id: a.id().to_owned(),
            kind: a.kind(),
            name: a.name().map(str::to_owned),
            indicators: indicators::definitions(assets, a),
        })
        .collect()
}

/// CSV of a report: `ts`, `partial`, one column per indicator (empty when missing), `notes`.
pub fn to_csv(report: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["ts".to_owned(), "partial".to_owned()];
    header.extend(report.indicators.iter().map(|d| {
        if d.unit.is_empty() {
            d.name.clone()
        } else {
            format!("{} [{}]", d.name, d.unit)
        }
    }));
    header.push("notes".into());
    let _ = w.write_record(&header);
    for r in &report.rows {
        let mut rec = vec![r.ts.to_rfc3339(), r.partial.to_string()];
        for d in &report.indicators {
            rec.push(
                r.values
                    .get(&d.name)
                    .map_or(String::new(), |v| format!("{v}")),
            );
        }
        let notes: Vec<String> = r.missing.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        rec.push(notes.join("; "));
        let _ = w.write_record(&rec);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod sim_utility_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod utility_tests;
