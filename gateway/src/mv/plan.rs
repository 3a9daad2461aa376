//! `[[mv_plans]]` of the site file: a measurement and verification plan with a savings
//! guarantee (an energy-performance contract), checked like the rest of the site file. The
//! gateway evaluates each plan every completed billing month (see `plan_eval`).
//!
//! ```toml
//! [[mv_plans]]
//! id = "chiller-retrofit"
//! measure = "high-efficiency chiller"
//! asset = "chiller"                 # or meters = ["chiller-1", "chw-pump"]
//! baseline = "2025-11-01..2026-10-31"
//! reporting_start = "2026-11-01"
//! guarantee = { percent = 10 }      # or { kwh_per_year = 50000 }
//! contract_years = 2
//! ```

use chrono::{Datelike, Months, NaiveDate, NaiveTime};
use kilowatch_site::config::{ConfigError, SiteConfig};
use serde::Deserialize;

use super::frame::{parse_range, Granularity, Zone};
use super::model::Form;
use super::query::StoreQuery;
use super::savings::Adjustment;

/// Longest contract a plan may describe.
pub const MAX_CONTRACT_YEARS: u32 = 30;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GuaranteeSpec {
    percent: Option<f64>,
    kwh_per_year: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanSpec {
    id: String,
    name: Option<String>,
    measure: Option<String>,
    asset: Option<String>,
    #[serde(default)]
    meters: Vec<String>,
    baseline: String,
    /// A TOML date or a `YYYY-MM-DD` string.
    reporting_start: toml::Value,
    granularity: Option<String>,
    model: Option<String>,
    temp: Option<String>,
    #[serde(default)]
    no_temp: bool,
    #[serde(default)]
    vars: Vec<String>,
    #[serde(default)]
    adjustments: Vec<String>,
    schedule: Option<String>,
    billing_day: Option<u32>,
    guarantee: GuaranteeSpec,
    contract_years: u32,
    #[serde(default = "yes")]
    price: bool,
}

fn yes() -> bool {
    true
}

/// What the contractor guarantees per contract year.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Guarantee {
    /// Savings of at least this percent of the adjusted baseline.
    Percent(f64),
    /// At least this many kWh avoided per contract year (prorated for a partial year).
    KwhPerYear(f64),
}

/// A checked plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub name: Option<String>,
    pub measure: Option<String>,
    /// The measurement boundary and drivers, as the `mv` command takes them.
    pub query: StoreQuery,
    /// `FROM..TO` as written, and as instants [from, to).
    pub baseline_text: String,
    pub baseline: (i64, i64),
    pub reporting_start: NaiveDate,
    pub granularity: Option<String>,
    pub model: Option<String>,
    pub adjustments: Vec<String>,
    /// Billing months start on this day of the month (1-28).
    pub billing_day: u32,
    pub guarantee: Guarantee,
    pub contract_years: u32,
    /// Show the shortfall in money where the report prices the savings.
    pub price: bool,
    pub zone: chrono_tz::Tz,
    /// A digest of the plan and the site knowledge it uses: stored results are recomputed
    /// when it changes.
    pub fingerprint: String,
}

/// One billing month of a contract (cut at contract-year boundaries): dates [from, to).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Contract year, from 1.
    pub year: u32,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

pub(crate) fn fnv(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")
}

fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check_series(text: &str) -> Result<(), String> {
    let (_, quantity) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}`: write device/quantity, e.g. weather/outdoor_temp"))?;
    kilowatch_site::vocab::quantity(quantity)
        .map(|_| ())
        .map_err(|e| format!("`{text}`: {e}"))
}

/// What plans are checked against: the site's zone, its `[[assets]]` ids and the digest of
/// everything that changes results (the EnPI assets own these; plans only read them).
pub struct PlanContext<'a> {
    pub timezone: chrono_tz::Tz,
    pub asset_ids: Vec<&'a str>,
    pub fingerprint: &'a str,
}

impl Plan {
    /// Reads and checks every `[[mv_plans]]` of a site file against its devices and assets.
    pub fn from_site(
        config: &SiteConfig,
        file: &str,
        assets: &PlanContext,
    ) -> Result<Vec<Plan>, ConfigError> {
        let mut plans: Vec<Plan> = Vec::new();
        for (i, table) in config.mv_plans.iter().enumerate() {
            let plan = Self::one(config, file, assets, i, table).map_err(|e| config.locate(e))?;
            if plans.iter().any(|p| p.id == plan.id) {
                return Err(config.locate(ConfigError {
                    problem: Default::default(),
                    file: file.to_owned(),
                    key: Some(format!("mv_plans[{i}].id")),
                    what: format!("`{}` is used by two plans", plan.id),
                    line: None,
                }));
            }
            plans.push(plan);
        }
        Ok(plans)
    }

    fn one(
        config: &SiteConfig,
        file: &str,
        assets: &PlanContext,
        i: usize,
        table: &toml::Table,
    ) -> Result<Plan, ConfigError> {
        let err = |key: &str, what: String| ConfigError {
            problem: Default::default(),
            file: file.to_owned(),
            key: Some(if key.is_empty() {
                format!("mv_plans[{i}]")
            } else {
                format!("mv_plans[{i}].{key}")
            }),
            what,
            line: None,
        };
        let spec: PlanSpec = serde_path_to_error::deserialize(toml::Value::Table(table.clone()))
            .map_err(|e| {
                let path = e.path().to_string();
                let key = if path == "." { String::new() } else { path };
                err(&key, e.into_inner().message().trim().to_owned())
            })?;
        if !is_id(&spec.id) {
            return Err(err(
                "id",
                format!("`{}` must be letters, digits, `-` or `_`", spec.id),
            ));
        }
        let zone = Zone::Named(assets.timezone);
        match (&spec.asset, spec.meters.is_empty()) {
            (Some(_), false) => {
                return Err(err(
                    "meters",
                    "give the boundary as `asset` or as `meters`, not both".into(),
                ))
            }
            (None, true) => {
                return Err(err(
                    "",
                    "no boundary: give `asset = \"ID\"` (an [[assets]] id) or `meters = [\"DEVICE\", …]`"
                        .into(),
                ))
            }
            (Some(a), true) if !assets.asset_ids.contains(&a.as_str()) => {
                let known = &assets.asset_ids;
                return Err(err(
                    "asset",
                    format!(
                        "no asset `{a}` in [[assets]] (assets: {})",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
            _ => {}
        }
        for (k, m) in spec.meters.iter().enumerate() {
            if !config.devices.iter().any(|d| &d.id == m) {
                return Err(err(
                    &format!("meters[{k}]"),
                    format!("no device `{m}` in [[devices]]"),
                ));
            }
            if spec.meters[..k].contains(m) {
                return Err(err(
                    &format!("meters[{k}]"),
                    format!("`{m}` is listed twice"),
                ));
            }
        }
        let baseline = parse_range(&spec.baseline, zone).map_err(|e| err("baseline", e))?;
        let start_text = match &spec.reporting_start {
            toml::Value::String(s) => s.clone(),
            toml::Value::Datetime(d) => d.to_string(),
            other => other.to_string(),
        };
        let reporting_start = NaiveDate::parse_from_str(start_text.trim(), "%Y-%m-%d")
            .ok()
            .filter(|d| (1..=9000).contains(&d.year()))
            .ok_or_else(|| {
                err(
                    "reporting_start",
                    format!("`{start_text}` is not a date (e.g. 2026-11-01)"),
                )
            })?;
        let start_ms = zone.instant(reporting_start.and_time(NaiveTime::MIN));
        if baseline.0 >= start_ms {
            return Err(err(
                "reporting_start",
                format!(
                    "{reporting_start} is not after the baseline ({}): the baseline comes before the measure",
                    spec.baseline
                ),
            ));
        }
        if start_ms < baseline.1 {
            return Err(err(
                "reporting_start",
                format!(
                    "{reporting_start} is before the baseline ends ({}): the baseline and reporting periods overlap",
                    spec.baseline
                ),
            ));
        }
        if let Some(g) = &spec.granularity {
            Granularity::parse(g).map_err(|e| err("granularity", e))?;
        }
        if let Some(m) = &spec.model {
            Form::parse(m).map_err(|e| err("model", e))?;
        }
        if let Some(t) = &spec.temp {
            if spec.no_temp {
                return Err(err("temp", "`temp` and `no_temp = true` contradict".into()));
            }
            check_series(t).map_err(|e| err("temp", e))?;
        }
        for (k, v) in spec.vars.iter().enumerate() {
            check_series(v).map_err(|e| err(&format!("vars[{k}]"), e))?;
        }
        for (k, a) in spec.adjustments.iter().enumerate() {
            Adjustment::parse(a, zone).map_err(|e| err(&format!("adjustments[{k}]"), e))?;
        }
        match spec.schedule.as_deref() {
            None | Some("monthly") => {}
            Some(s) => {
                return Err(err(
                    "schedule",
                    format!("`{s}`: the only schedule is \"monthly\" (billing months)"),
                ))
            }
        }
        let billing_day = spec.billing_day.unwrap_or(1);
        if !(1..=28).contains(&billing_day) {
            return Err(err(
                "billing_day",
                format!("{billing_day}: use a day from 1 to 28 (every month has it)"),
            ));
        }
        let guarantee = match (spec.guarantee.percent, spec.guarantee.kwh_per_year) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "guarantee",
                    "give `percent` or `kwh_per_year`, not both".into(),
                ))
            }
            (None, None) => {
                return Err(err(
                    "guarantee",
                    "no unit: write { percent = 10 } or { kwh_per_year = 50000 }".into(),
                ))
            }
            (Some(p), None) if !(p > 0.0 && p <= 100.0) => {
                return Err(err(
                    "guarantee.percent",
                    format!("{p}: use a percent above 0, at most 100"),
                ))
            }
            (None, Some(k)) if !(k > 0.0 && k.is_finite()) => {
                return Err(err(
                    "guarantee.kwh_per_year",
                    format!("{k}: must be above 0"),
                ))
            }
            (Some(p), None) => Guarantee::Percent(p),
            (None, Some(k)) => Guarantee::KwhPerYear(k),
        };
        if !(1..=MAX_CONTRACT_YEARS).contains(&spec.contract_years) {
            return Err(err(
                "contract_years",
                format!(
                    "{}: use 1 to {MAX_CONTRACT_YEARS} years",
                    spec.contract_years
                ),
            ));
        }
        Ok(Plan {
            query: StoreQuery {
                asset: spec.asset.clone(),
                energy: spec.meters.clone(),
                temp: spec.temp.clone(),
                vars: spec.vars.clone(),
                no_temp: spec.no_temp,
            },
            id: spec.id,
            name: spec.name,
            measure: spec.measure,
            baseline_text: spec.baseline,
            baseline,
            reporting_start,
            granularity: spec.granularity,
            model: spec.model,
            adjustments: spec.adjustments,
            billing_day,
            guarantee,
            contract_years: spec.contract_years,
            price: spec.price,
            zone: assets.timezone,
            fingerprint: fnv(&format!("{table}{}", assets.fingerprint)),
        })
    }

    /// Plant-local midnight of a date, in ms.
    pub fn instant(&self, d: NaiveDate) -> i64 {
        Zone::Named(self.zone).instant(d.and_time(NaiveTime::MIN))
    }

    /// Contract year `year` (from 1): dates [from, to).
    pub fn year_dates(&self, year: u32) -> (NaiveDate, NaiveDate) {
        let at = |k: u32| {
            self.reporting_start
                .checked_add_months(Months::new(12 * k))
                .unwrap_or(NaiveDate::MAX)
        };
        (at(year - 1), at(year))
    }

    /// Every billing month of the contract, cut at contract-year boundaries.
    pub fn segments(&self) -> Vec<Segment> {
        let mut out = Vec::new();
        for year in 1..=self.contract_years {
            let (from, end) = self.year_dates(year);
            let mut cur = from;
            while cur < end {
                let next = next_billing_day(cur, self.billing_day).min(end);
                out.push(Segment {
                    year,
                    from: cur,
                    to: next,
                });
                cur = next;
            }
        }
        out
    }

    /// The boundary as text.
    pub fn boundary(&self) -> String {
        match &self.query.asset {
            Some(a) => format!("asset {a}"),
            None => format!("meters {}", self.query.energy.join(" + ")),
        }
    }
}

/// The first billing day strictly after `d`.
fn next_billing_day(d: NaiveDate, day: u32) -> NaiveDate {
    let this = d.with_day(day).unwrap_or(d);
    if this > d {
        return this;
    }
    this.checked_add_months(Months::new(1))
        .unwrap_or(NaiveDate::MAX)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
