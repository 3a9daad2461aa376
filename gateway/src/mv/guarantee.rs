//! The savings guarantee by contract year, from stored plan results: avoided kWh, the
//! guaranteed kWh, met or shortfall, and the confidence that the guarantee is met.
//!
//! Confidence: the true savings are taken as normal around the reported savings S with the
//! standard error SE = U₉₀ / t(0.95, n − p) (Guideline 14's 90 % uncertainty is t·SE), so
//! P(true savings ≥ G) = Φ((S − G) / SE). A normal, not a t, approximation: with the usual
//! hundreds of baseline days the two differ in the third decimal.
//!
//! A guarantee is never called met when the engine did not verify the savings: the status is
//! then "not established", with the engine's verdict as the reason.

use chrono::NaiveDate;
use serde::Serialize;

use super::dist::t_quantile;
use super::plan::{Guarantee, Plan};
use super::plan_eval::PeriodResult;
use crate::i18n::{Arg, Msg};
use crate::store::{Store, StoreError};

/// Φ, the standard normal distribution function (Numerical Recipes' erfc, |error| < 1.2e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x);
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if z >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

/// One contract year (to date while it runs).
#[derive(Debug, Clone, Serialize)]
pub struct YearStatus {
    pub year: u32,
    /// Dates [from, to) of the contract year, and the end of the months evaluated.
    pub from: String,
    pub to: String,
    pub through: Option<String>,
    pub complete: bool,
    /// met, shortfall (complete year); on track, behind (year to date); not established;
    /// pending (no completed month yet).
    pub status: &'static str,
    /// In English; `explanation_message` for any language.
    pub explanation: String,
    pub explanation_message: Msg,
    pub avoided_kwh: Option<f64>,
    pub adjusted_baseline_kwh: Option<f64>,
    pub guarantee_kwh: Option<f64>,
    pub shortfall_kwh: Option<f64>,
    /// P(true savings ≥ guarantee), 0-1.
    pub confidence: Option<f64>,
    pub standard_error_kwh: Option<f64>,
    pub shortfall_money: Option<f64>,
    pub currency: Option<String>,
    /// The engine's verdict on the year-to-date savings (English, and as a message when the
    /// result was stored with one).
    pub verdict: Option<String>,
    pub verdict_message: Option<Msg>,
    pub verified: bool,
}

/// One billing month's result.
#[derive(Debug, Clone, Serialize)]
pub struct MonthRow {
    pub year: u32,
    pub computed_at: String,
    #[serde(flatten)]
    pub result: PeriodResult,
}

/// A plan with its results.
#[derive(Debug, Clone, Serialize)]
pub struct PlanStatus {
    pub id: String,
    pub name: Option<String>,
    pub measure: Option<String>,
    pub boundary: String,
    pub baseline: String,
    pub reporting_start: String,
    pub billing_day: u32,
    pub guarantee: Guarantee,
    pub contract_years: u32,
    /// The latest contract year's status and explanation.
    pub status: &'static str,
    pub explanation: String,
    pub explanation_message: Msg,
    pub years: Vec<YearStatus>,
    pub months: Vec<MonthRow>,
}

/// A probability as a percent; the tails as bounds (a normal tail is never exactly 0 or 1).
pub fn fmt_confidence(c: f64) -> String {
    if c > 0.999 {
        "> 99.9 %".into()
    } else if c < 0.001 {
        "< 0.1 %".into()
    } else {
        format!("{:.1} %", 100.0 * c)
    }
}

fn fmt_kwh(v: f64) -> String {
    format!("{v:.0} kWh")
}

/// The guarantee for one contract year from its year-to-date result.
pub fn year_status(plan: &Plan, year: u32, ytd: Option<&PeriodResult>) -> YearStatus {
    let (from, to) = plan.year_dates(year);
    let mut y = YearStatus {
        year,
        from: from.to_string(),
        to: to.to_string(),
        through: None,
        complete: false,
        status: "pending",
        explanation: String::new(),
        explanation_message: Msg::new("plan-pending"),
        avoided_kwh: None,
        adjusted_baseline_kwh: None,
        guarantee_kwh: None,
        shortfall_kwh: None,
        confidence: None,
        standard_error_kwh: None,
        shortfall_money: None,
        currency: None,
        verdict: None,
        verdict_message: None,
        verified: false,
    };
    year_figures(plan, &mut y, ytd);
    y.explanation = y.explanation_message.en();
    y
}

/// The year's figures and status from its year-to-date result.
fn year_figures(plan: &Plan, y: &mut YearStatus, ytd: Option<&PeriodResult>) {
    let (from, to) = plan.year_dates(y.year);
    let Some(r) = ytd else { return };
    let through = NaiveDate::parse_from_str(&r.to, "%Y-%m-%d").unwrap_or(to);
    y.through = Some(r.to.clone());
    y.complete = through >= to;
    y.verdict = Some(r.verdict.clone());
    y.verdict_message.clone_from(&r.verdict_message);
    y.verified = r.verified;
    if let Some(e) = &r.error {
        y.status = "not established";
        y.explanation_message = Msg::new("plan-no-savings").arg("error", e.as_str());
        return;
    }
    let s = r.avoided;
    y.avoided_kwh = Some(s);
    y.adjusted_baseline_kwh = r.adjusted_baseline;
    let g = match plan.guarantee {
        Guarantee::Percent(p) => r.adjusted_baseline.map(|b| p / 100.0 * b),
        Guarantee::KwhPerYear(k) => {
            let elapsed = (plan.instant(through) - plan.instant(from)) as f64;
            let whole = (plan.instant(to) - plan.instant(from)) as f64;
            Some(k * (elapsed / whole).min(1.0))
        }
    };
    y.guarantee_kwh = g;
    let se = match (r.uncertainty_90, r.df) {
        (Some(u), Some(df)) if df > 0.0 => Some(u / t_quantile(0.95, df)),
        _ => None,
    }
    .filter(|v| v.is_finite() && *v > 0.0);
    y.standard_error_kwh = se;
    let Some(g) = g else {
        y.status = "not established";
        y.explanation_message = Msg::new("plan-no-baseline");
        return;
    };
    let short = (g - s).max(0.0);
    y.shortfall_kwh = Some(short);
    y.confidence = se.map(|se| normal_cdf((s - g) / se));
    if plan.price {
        if let Some(total) = r.priced_total.filter(|_| s.abs() > f64::EPSILON) {
            y.shortfall_money = Some(short * total / s);
            y.currency.clone_from(&r.currency);
        }
    }
    let conf: Arg = y.confidence.map_or("".into(), |c| {
        Msg::new("plan-confidence")
            .arg("confidence", fmt_confidence(c))
            .into()
    });
    if !r.verified {
        y.status = "not established";
        let verdict: Arg = r
            .verdict_message
            .clone()
            .map_or_else(|| r.verdict.as_str().into(), Into::into);
        y.explanation_message = Msg::new("plan-not-verified").arg("verdict", verdict);
        return;
    }
    let met = s >= g;
    y.status = match (met, y.complete) {
        (true, true) => "met",
        (false, true) => "shortfall",
        (true, false) => "on track",
        (false, false) => "behind",
    };
    let key = match (met, y.complete) {
        (true, true) => "plan-met",
        (true, false) => "plan-met-to-date",
        (false, true) => "plan-short",
        (false, false) => "plan-short-to-date",
    };
    y.explanation_message = Msg::new(key)
        .arg("savings", fmt_kwh(s))
        .arg("short", fmt_kwh(short))
        .arg("guarantee", fmt_kwh(g))
        .arg("confidence", conf);
}

/// A plan's stored results, by contract year and month.
pub fn plan_status(store: &Store, plan: &Plan) -> Result<PlanStatus, StoreError> {
    let rows = store.mv_results(&plan.id)?;
    let parse = |json: &str| serde_json::from_str::<PeriodResult>(json).unwrap_or_default();
    let segments = plan.segments();
    let mut months = Vec::new();
    for s in &segments {
        let (a, b) = (plan.instant(s.from), plan.instant(s.to));
        if let Some(r) = rows.iter().find(|r| r.period_from == a && r.period_to == b) {
            months.push(MonthRow {
                year: s.year,
                computed_at: chrono::DateTime::from_timestamp_millis(r.computed_at)
                    .unwrap_or_default()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                result: parse(&r.json),
            });
        }
    }
    let mut years = Vec::new();
    for year in 1..=plan.contract_years {
        let start = plan.instant(plan.year_dates(year).0);
        let ytd = rows
            .iter()
            .filter(|r| r.period_from == start)
            .max_by_key(|r| r.period_to)
            .map(|r| parse(&r.json));
        years.push(year_status(plan, year, ytd.as_ref()));
    }
    let latest = years
        .iter()
        .rev()
        .find(|y| y.through.is_some())
        .or(years.first());
    let (status, explanation) = match latest {
        Some(y) if y.through.is_some() => (
            y.status,
            Msg::new("plan-year")
                .arg("year", y.year.to_string())
                .arg("text", y.explanation_message.clone()),
        ),
        _ => (
            "pending",
            Msg::new("plan-first-pending").arg(
                "date",
                segments.first().map_or(String::new(), |s| s.to.to_string()),
            ),
        ),
    };
    Ok(PlanStatus {
        id: plan.id.clone(),
        name: plan.name.clone(),
        measure: plan.measure.clone(),
        boundary: plan.boundary(),
        baseline: plan.baseline_text.clone(),
        reporting_start: plan.reporting_start.to_string(),
        billing_day: plan.billing_day,
        guarantee: plan.guarantee,
        contract_years: plan.contract_years,
        status,
        explanation: explanation.en(),
        explanation_message: explanation,
        years,
        months,
    })
}
