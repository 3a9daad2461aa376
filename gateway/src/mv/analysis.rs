//! The M&V run: periods → baseline model → validity → adjusted baseline → savings, as one
//! report with a stable JSON schema (`kilowatch-mv/1`). Ratios are in percent.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::frame::{aggregate, Frame, Granularity, MonthCoverage, Raw};
use super::model::{select, Candidate, Drivers, Form, Model, ModelError, TempUnit};
use super::savings::{cusum, uncertainty, verdict, Adjustment};

pub const SCHEMA: &str = "kilowatch-mv/1";

/// What to verify.
#[derive(Debug, Clone)]
pub struct Request {
    /// What the data is (asset, file), for the report's title.
    pub source: String,
    pub energy_unit: String,
    pub temp_unit: TempUnit,
    pub granularity: Granularity,
    pub baseline: (i64, i64),
    pub reporting: (i64, i64),
    pub model: Option<Form>,
    pub adjustments: Vec<Adjustment>,
}

#[derive(Debug, thiserror::Error)]
pub enum MvError {
    #[error("{0}")]
    Input(String),
    #[error("baseline model: {0}")]
    Model(#[from] ModelError),
}

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
fn finite(v: f64) -> Option<f64> {
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
    pub form: &'static str,
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
    pub verified: bool,
    pub verdict: String,
    /// Actual ÷ adjusted baseline, and the improvement 1 − SEnPI in percent.
    pub senpi: Option<f64>,
    pub improvement_percent: Option<f64>,
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
    pub warnings: Vec<String>,
    /// Avoided cost and CO2e (a tariff is configured or given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priced: Option<super::price::PricedSavings>,
    /// Savings over a typical weather year (IPMVP normalized savings), or why there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalized: Option<super::normal::NormalizedSavings>,
    /// The baseline's main driver: name, values and the model's fitted values, for the chart.
    #[serde(skip)]
    pub driver: Option<(String, Vec<f64>, Vec<f64>)>,
    #[serde(skip)]
    pub zone: super::frame::Zone,
}

/// Periods with every driver the data has; the rest are counted.
struct Usable {
    drivers: Drivers,
    energy: Vec<f64>,
    starts: Vec<(i64, i64)>,
    missing: usize,
}

fn usable(frame: &Frame, raw: &Raw, unit: TempUnit) -> Usable {
    let keep: Vec<&super::frame::Period> = frame
        .periods
        .iter()
        .filter(|p| (!raw.has_temp || p.temp.is_some()) && p.vars.iter().all(Option::is_some))
        .collect();
    let missing = frame.periods.len() - keep.len();
    let drivers = Drivers {
        granularity: frame.granularity,
        unit,
        local: keep.iter().map(|p| p.local).collect(),
        temp: raw
            .has_temp
            .then(|| keep.iter().map(|p| p.temp.unwrap_or_default()).collect()),
        vars: raw
            .vars
            .iter()
            .enumerate()
            .map(|(j, spec)| {
                (
                    spec.clone(),
                    keep.iter().map(|p| p.vars[j].unwrap_or_default()).collect(),
                )
            })
            .collect(),
    };
    Usable {
        drivers,
        energy: keep.iter().map(|p| p.energy).collect(),
        starts: keep.iter().map(|p| (p.start, p.end)).collect(),
        missing,
    }
}

fn named(names: &[String], values: &[f64]) -> Named {
    Named(
        names
            .iter()
            .zip(values)
            .map(|(n, v)| (n.clone(), finite(*v)))
            .collect(),
    )
}

/// DOE (SEP / EnPI tool) and ASHRAE Guideline 14 criteria for the chosen model.
fn checks(m: &Model, g: Granularity) -> Vec<Check> {
    let mut out = Vec::new();
    let o = &m.ols;
    if o.coef.len() > 1 {
        let fp = o.f.map(|f| f.1);
        out.push(Check {
            name: "model p-value (DOE)",
            value: fp.and_then(finite),
            limit: "< 0.1".into(),
            passed: fp.is_some_and(|p| p < 0.1),
        });
        let worst = o.p[1..].iter().cloned().fold(0.0, f64::max);
        out.push(Check {
            name: "largest variable p-value (DOE)",
            value: finite(worst),
            limit: "< 0.2".into(),
            passed: worst < 0.2,
        });
        let best = o.p[1..].iter().cloned().fold(1.0, f64::min);
        out.push(Check {
            name: "smallest variable p-value (DOE)",
            value: finite(best),
            limit: "< 0.1".into(),
            passed: best < 0.1,
        });
        out.push(Check {
            name: "R² (DOE)",
            value: finite(o.r2),
            limit: "≥ 0.5".into(),
            passed: o.r2 >= 0.5,
        });
    }
    // Guideline 14 whole-facility limits; hourly models are held to the hourly calibration limit.
    let cv_limit = if g == Granularity::Hour { 30.0 } else { 20.0 };
    out.push(Check {
        name: "CV(RMSE) (ASHRAE Guideline 14)",
        value: finite(100.0 * o.cv_rmse),
        limit: format!("≤ {cv_limit} %"),
        passed: 100.0 * o.cv_rmse <= cv_limit,
    });
    out.push(Check {
        name: "NMBE (ASHRAE Guideline 14)",
        value: finite(100.0 * o.nmbe),
        limit: "within ±0.005 %".into(),
        passed: (100.0 * o.nmbe).abs() <= 0.005,
    });
    out
}

fn sufficiency(frame: &Frame, what: &str, warnings: &mut Vec<String>, baseline: bool) {
    if frame.expected == 0 {
        return;
    }
    let pct = 100.0 * frame.periods.len() as f64 / frame.expected as f64;
    if frame.dropped > 0 {
        warnings.push(format!(
            "{what}: {} of {} {}s have incomplete energy data and were left out ({pct:.1} % coverage)",
            frame.dropped,
            frame.expected,
            frame.granularity.code()
        ));
    }
    if baseline && pct < 90.0 {
        warnings.push(format!(
            "{what}: coverage {pct:.1} % is below the 90 % CalTRACK asks of a baseline"
        ));
    }
    let thin: Vec<String> = frame
        .coverage
        .iter()
        .filter(|c| c.percent < 50.0)
        .map(|c| format!("{} ({:.0} %)", c.month, c.percent))
        .collect();
    if !thin.is_empty() {
        warnings.push(format!(
            "{what}: months with less than half their data: {}",
            thin.join(", ")
        ));
    }
}

/// Runs the whole verification.
pub fn analyse(raw: &Raw, req: &Request) -> Result<Report, MvError> {
    let g = req.granularity;
    let zone = raw.zone;
    let mut warnings = Vec::new();
    let (b0, b1) = req.baseline;
    let (r0, r1) = req.reporting;
    if r0 < b1 && b0 < r1 {
        return Err(MvError::Input(
            "the baseline and reporting periods overlap".to_owned(),
        ));
    }
    let bf = aggregate(raw, g, b0, b1).map_err(MvError::Input)?;
    let rf = aggregate(raw, g, r0, r1).map_err(MvError::Input)?;
    if bf.expected == 0 {
        return Err(MvError::Input(format!(
            "the baseline holds no whole {}",
            g.code()
        )));
    }
    if rf.expected == 0 {
        return Err(MvError::Input(format!(
            "the reporting period holds no whole {}",
            g.code()
        )));
    }
    sufficiency(&bf, "baseline", &mut warnings, true);
    sufficiency(&rf, "reporting period", &mut warnings, false);
    let span_days = (b1 - b0) as f64 / 86_400_000.0;
    if span_days < 364.5 && raw.has_temp {
        warnings.push(format!(
            "the baseline covers {span_days:.0} days: a full year (CalTRACK) sees every season, a shorter one may miss how weather drives energy"
        ));
    }
    let base = usable(&bf, raw, req.temp_unit);
    let rep = usable(&rf, raw, req.temp_unit);
    for (u, what) in [(&base, "baseline"), (&rep, "reporting period")] {
        if u.missing > 0 {
            warnings.push(format!(
                "{what}: {} {}s lack temperature or a variable and were left out",
                u.missing,
                g.code()
            ));
        }
    }
    if base.energy.is_empty() {
        return Err(MvError::Input(format!(
            "the baseline has no complete {} of data",
            g.code()
        )));
    }
    if rep.energy.is_empty() {
        return Err(MvError::Input(format!(
            "the reporting period has no complete {} of data",
            g.code()
        )));
    }
    if base.energy.iter().all(|e| *e == 0.0) {
        return Err(MvError::Input(
            "the baseline energy is zero throughout: nothing to save".to_owned(),
        ));
    }
    let (model, candidates) = select(&base.drivers, &base.energy, req.model)?;
    let o = &model.ols;
    let checks = checks(&model, g);
    let valid = checks.iter().all(|c| c.passed);
    if model.form == Form::Mean {
        warnings.push(
            "the mean model has no drivers: savings assume nothing changed but the measure"
                .to_owned(),
        );
    }
    for c in checks.iter().filter(|c| !c.passed) {
        warnings.push(format!(
            "model check failed: {} = {} (needs {})",
            c.name,
            c.value.map(|v| format!("{v:.4}")).unwrap_or("—".into()),
            c.limit
        ));
    }
    for (name, v) in &model.vif {
        if v.is_none_or(|v| v > 10.0) {
            warnings.push(format!(
                "`{name}` is nearly collinear with other drivers (VIF {}): its coefficient is unreliable",
                v.map(|v| format!("{v:.1}")).unwrap_or("∞".into())
            ));
        }
    }
    // Reporting drivers inside the baseline range (DOE), point by point and on average.
    // Only the drivers the chosen model uses.
    let mut ranges: Vec<(String, &[f64], &[f64])> = Vec::new();
    if let (Some(bt), Some(rt)) = (&base.drivers.temp, &rep.drivers.temp) {
        if model.form.uses_temp() {
            ranges.push(("temperature".to_owned(), bt, rt));
        }
    }
    if model.form.uses_vars() {
        for ((spec, bv), (_, rv)) in base.drivers.vars.iter().zip(&rep.drivers.vars) {
            ranges.push((spec.name.clone(), bv, rv));
        }
    }
    for (name, b, r) in &ranges {
        let lo = b.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = b.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mean = r.iter().sum::<f64>() / r.len() as f64;
        let outside = r.iter().filter(|v| **v < lo || **v > hi).count();
        if mean < lo || mean > hi {
            warnings.push(format!(
                "the reporting-period mean {name} {mean:.2} is outside the baseline range {lo:.2}–{hi:.2}: the adjusted baseline is an extrapolation (DOE criterion failed)"
            ));
        } else if outside > 0 {
            warnings.push(format!(
                "{outside} of {} reporting {}s have {name} outside the baseline range {lo:.2}–{hi:.2}",
                r.len(),
                g.code()
            ));
        }
    }

    let predicted = model.predict(&rep.drivers);
    let nra: Vec<f64> = rep
        .starts
        .iter()
        .map(|(s, e)| req.adjustments.iter().map(|a| a.share(*s, *e)).sum())
        .collect();
    for a in &req.adjustments {
        if a.to <= r0 || a.from >= r1 {
            warnings.push(format!(
                "the adjustment `{}` lies outside the reporting period and changes nothing",
                a.reason
            ));
        }
    }
    let adjusted: Vec<f64> = predicted.iter().zip(&nra).map(|(p, a)| p + a).collect();
    let actual: f64 = rep.energy.iter().sum();
    let adjusted_total: f64 = adjusted.iter().sum();
    let predicted_total: f64 = predicted.iter().sum();
    let avoided = adjusted_total - actual;
    let percent = (adjusted_total != 0.0).then(|| 100.0 * avoided / adjusted_total);
    let u = uncertainty(
        o.cv_rmse,
        o.n,
        o.k,
        o.rho,
        rep.energy.len(),
        predicted_total,
    );
    let (verified, verdict) = verdict(avoided, percent, u.as_ref(), &req.energy_unit);
    let fsu = |x: f64| (avoided != 0.0).then(|| 100.0 * x / avoided.abs());
    let senpi = (adjusted_total > 0.0).then(|| actual / adjusted_total);
    let savings = SavingsReport {
        avoided,
        percent,
        uncertainty_68: u.map(|u| u.at_68),
        uncertainty_90: u.map(|u| u.at_90),
        fsu_68: u.and_then(|u| fsu(u.at_68)),
        fsu_90: u.and_then(|u| fsu(u.at_90)),
        effective_n: u.map(|u| u.effective_n),
        verified,
        verdict,
        senpi,
        improvement_percent: senpi.map(|s| 100.0 * (1.0 - s)),
    };

    // Months of the reporting period: SEnPI and cumulative savings (DOE style).
    let mut monthly: Vec<MonthReport> = Vec::new();
    let mut cumulative = 0.0;
    for (i, (s, _)) in rep.starts.iter().enumerate() {
        let local = zone.local(*s);
        let month = local.format("%Y-%m").to_string();
        if monthly.last().is_none_or(|m| m.month != month) {
            monthly.push(MonthReport {
                month,
                actual: 0.0,
                adjusted_baseline: 0.0,
                savings: 0.0,
                senpi: None,
                improvement_percent: None,
                cumulative_savings: cumulative,
            });
        }
        let m = monthly.last_mut().expect("pushed above");
        m.actual += rep.energy[i];
        m.adjusted_baseline += adjusted[i];
        m.savings += adjusted[i] - rep.energy[i];
        cumulative += adjusted[i] - rep.energy[i];
        m.cumulative_savings = cumulative;
    }
    for m in &mut monthly {
        m.senpi = (m.adjusted_baseline > 0.0).then(|| m.actual / m.adjusted_baseline);
        m.improvement_percent = m.senpi.map(|s| 100.0 * (1.0 - s));
    }

    // Series for charts: baseline fit then reporting, with CUSUM across both.
    let all_actual: Vec<f64> = base.energy.iter().chain(&rep.energy).copied().collect();
    let all_model: Vec<f64> = o.fitted.iter().chain(&adjusted).copied().collect();
    let sums = cusum(&all_actual, &all_model);
    let temps: Vec<Option<f64>> = match (&base.drivers.temp, &rep.drivers.temp) {
        (Some(b), Some(r)) => b.iter().chain(r).map(|t| Some(*t)).collect(),
        _ => vec![None; all_actual.len()],
    };
    let series = base
        .starts
        .iter()
        .map(|s| (s.0, false))
        .chain(rep.starts.iter().map(|s| (s.0, true)))
        .enumerate()
        .map(|(i, (ms, reporting))| Point {
            t: zone.format(ms),
            ms,
            reporting,
            actual: all_actual[i],
            modelled: all_model[i],
            temperature: temps[i],
            cusum: sums[i],
        })
        .collect();
    // The baseline's main driver for the fit chart: temperature, else the first variable.
    let driver = match (&base.drivers.temp, base.drivers.vars.first()) {
        (Some(t), _) if model.form != Form::Linear => Some((
            format!("temperature ({})", req.temp_unit.symbol()),
            t.clone(),
            o.fitted.clone(),
        )),
        (_, Some((spec, v))) => Some((spec.name.clone(), v.clone(), o.fitted.clone())),
        _ => None,
    };
    let period = |f: &Frame, (from, to): (i64, i64), u: &Usable| PeriodReport {
        from: zone.format(from),
        to: zone.format(to),
        n: u.energy.len(),
        expected: f.expected,
        coverage: f.coverage.clone(),
        actual: u.energy.iter().sum(),
        adjusted_baseline: None,
        non_routine_adjustments: vec![],
    };
    let mut reporting = period(&rf, req.reporting, &rep);
    reporting.adjusted_baseline = Some(adjusted_total);
    reporting.non_routine_adjustments = req.adjustments.clone();
    Ok(Report {
        schema: SCHEMA,
        source: req.source.clone(),
        energy_unit: req.energy_unit.clone(),
        temperature_unit: raw.has_temp.then(|| req.temp_unit.symbol()),
        time_zone: zone.name(),
        granularity: g,
        model: ModelReport {
            form: model.form.code(),
            coefficients: named(&model.names, &o.coef),
            std_errors: named(&model.names, &o.se),
            p_values: named(&model.names, &o.p),
            vif: Named(model.vif.clone()),
            balance_points: model.balance.clone(),
            r2: o.r2,
            adj_r2: o.adj_r2,
            cv_rmse: finite(100.0 * o.cv_rmse),
            nmbe: finite(100.0 * o.nmbe),
            n: o.n,
            parameters: o.k,
            f_p_value: o.f.and_then(|f| finite(f.1)),
            autocorrelation: o.rho,
            checks,
            valid,
            candidates,
        },
        baseline: period(&bf, req.baseline, &base),
        reporting,
        savings,
        monthly,
        series,
        warnings,
        priced: None,
        normalized: None,
        driver,
        zone,
    })
}
