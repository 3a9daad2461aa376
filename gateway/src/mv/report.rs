//! The M&V report: a stable JSON schema (`kilowatch-mv/1`, fields only ever added). Ratios are
//! in percent.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::frame::{Granularity, MonthCoverage};
use super::savings::{Adjustment, Uncertainty};
use super::select::Candidate;
use super::verdict::{judge, Evidence};
use crate::i18n::Msg;

pub const SCHEMA: &str = "kilowatch-mv/1";

/// Names with values, serialised as a JSON object in this order.
#[derive(Debug, Clone, Default)]
pub struct Named(pub Vec<(String, Option<f64>)>);

impl Serialize for Named {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A finite number or nothing: the report never carries NaN.
pub fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub value: Option<f64>,
    pub limit: String,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    pub form: String,
    pub coefficients: Named,
    pub std_errors: Named,
    pub p_values: Named,
    pub vif: Named,
    pub balance_points: Vec<f64>,
    pub r2: f64,
    pub adj_r2: f64,
    /// Percent of the mean baseline energy per period.
    pub cv_rmse: Option<f64>,
    pub nmbe: Option<f64>,
    pub n: usize,
    /// Parameters, balance points included (Guideline 14's p).
    pub parameters: usize,
    pub f_p_value: Option<f64>,
    /// Lag-1 autocorrelation of the residuals.
    pub autocorrelation: f64,
    /// DOE and Guideline 14 criteria.
    pub checks: Vec<Check>,
    pub valid: bool,
    pub candidates: Vec<Candidate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeriodReport {
    pub from: String,
    pub to: String,
    /// Periods used (complete, with every driver).
    pub n: usize,
    /// Periods in the range.
    pub expected: usize,
    pub coverage: Vec<MonthCoverage>,
    pub actual: f64,
    /// Reporting only: the model's prediction plus non-routine adjustments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjusted_baseline: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub non_routine_adjustments: Vec<Adjustment>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SavingsReport {
    pub avoided: f64,
    pub percent: Option<f64>,
    pub uncertainty_68: Option<f64>,
    pub uncertainty_90: Option<f64>,
    /// Uncertainty as a percent of the savings.
    pub fsu_68: Option<f64>,
    pub fsu_90: Option<f64>,
    pub effective_n: Option<f64>,
    /// Guideline 14 uncertainty of the extrapolated reporting periods' predictions, at 90 %,
    /// included in `uncertainty_90` (parameter uncertainty, autocorrelation-corrected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extrapolation_uncertainty_90: Option<f64>,
    /// Reporting periods whose drivers lie outside the baseline's range.
    pub extrapolated_periods: usize,
    pub verified: bool,
    /// `verified`, `not_verified`, `increase` or `not_distinguishable`.
    pub status: &'static str,
    /// The verdict in English (`verdict_message` for any language).
    pub verdict: String,
    /// Every reason the savings are not verified (empty when they are), in English.
    pub reasons: Vec<String>,
    /// The verdict and its reasons as catalogue messages (`gateway/i18n/`).
    pub verdict_message: Msg,
    pub reason_messages: Vec<Msg>,
    /// Actual ÷ adjusted baseline, and the improvement 1 − SEnPI in percent.
    pub senpi: Option<f64>,
    pub improvement_percent: Option<f64>,
}

impl SavingsReport {
    /// Avoided energy = adjusted baseline − actual, its uncertainty and the verdict on the
    /// evidence (interval data and bills share it).
    pub fn judged(
        adjusted: f64,
        actual: f64,
        u: Option<Uncertainty>,
        unit: &str,
        evidence: &Evidence,
    ) -> Self {
        let avoided = adjusted - actual;
        let percent = (adjusted != 0.0).then(|| 100.0 * avoided / adjusted);
        let v = judge(avoided, percent, u.as_ref(), unit, evidence);
        let fsu = |x: f64| (avoided != 0.0).then(|| 100.0 * x / avoided.abs());
        let senpi = (adjusted > 0.0).then(|| actual / adjusted);
        Self {
            avoided,
            percent,
            uncertainty_68: u.map(|u| u.at_68),
            uncertainty_90: u.map(|u| u.at_90),
            fsu_68: u.and_then(|u| fsu(u.at_68)),
            fsu_90: u.and_then(|u| fsu(u.at_90)),
            effective_n: u.map(|u| u.effective_n),
            extrapolation_uncertainty_90: None,
            extrapolated_periods: 0,
            verified: v.verified,
            status: v.status,
            verdict: v.text,
            reasons: v.reasons.iter().map(Msg::en).collect(),
            verdict_message: v.message,
            reason_messages: v.reasons,
            senpi,
            improvement_percent: senpi.map(|s| 100.0 * (1.0 - s)),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MonthReport {
    pub month: String,
    pub actual: f64,
    pub adjusted_baseline: f64,
    pub savings: f64,
    pub senpi: Option<f64>,
    pub improvement_percent: Option<f64>,
    pub cumulative_savings: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub t: String,
    #[serde(skip)]
    pub ms: i64,
    pub reporting: bool,
    pub actual: f64,
    /// Baseline: the fit; reporting: the adjusted baseline.
    pub modelled: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    pub cusum: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub source: String,
    pub energy_unit: String,
    pub temperature_unit: Option<&'static str>,
    pub time_zone: String,
    pub granularity: Granularity,
    pub model: ModelReport,
    pub baseline: PeriodReport,
    pub reporting: PeriodReport,
    pub savings: SavingsReport,
    pub monthly: Vec<MonthReport>,
    pub series: Vec<Point>,
    /// In English; `warning_messages` for any language.
    pub warnings: Vec<String>,
    pub warning_messages: Vec<Msg>,
    /// Avoided cost and CO2e (a tariff is configured or given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priced: Option<super::price::PricedSavings>,
    /// Savings over a typical weather year (IPMVP normalized savings), or why there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalized: Option<NormalizedSavings>,
    /// The placebo back-test, when asked for (`--placebo`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placebo: Option<Placebo>,
    /// The baseline's main driver: name, values and the model's fitted values, for the chart.
    #[serde(skip)]
    pub driver: Option<(String, Vec<f64>, Vec<f64>)>,
    #[serde(skip)]
    pub zone: super::frame::Zone,
}

/// Savings over a typical weather year (IPMVP normalized savings).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NormalizedSavings {
    pub weather_year: String,
    pub baseline_annual: Option<f64>,
    pub reporting_annual: Option<f64>,
    pub savings: Option<f64>,
    pub percent: Option<f64>,
    pub note: String,
}

/// One window of the placebo back-test (`placebo.rs`).
#[derive(Debug, Clone, Serialize)]
pub struct PlaceboWindow {
    pub from: String,
    pub to: String,
    /// "Savings" found where there were none.
    pub avoided: Option<f64>,
    pub uncertainty_90: Option<f64>,
    pub verified: bool,
    /// The window's verdict status, or `error`.
    pub status: String,
    /// The first reason it was not verified, or why it could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Placebo {
    pub windows: usize,
    /// Windows called verified.
    pub verified: usize,
    /// Percent of windows called verified: the false-positive rate.
    pub false_positive_percent: Option<f64>,
    /// The rate the verdict's confidence allows, percent.
    pub nominal_percent: f64,
    /// Periods per window.
    pub window_periods: usize,
    pub results: Vec<PlaceboWindow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
