//! The M&V run: periods → baseline model → evidence (validity, sufficiency, extrapolation,
//! placebo) → adjusted baseline → savings, their uncertainty and the verdict, as one report.

use chrono::NaiveDate;

use super::checks::{checks, extrapolation, model_reasons, period_word, steps_word, sufficiency};
use super::dist::t_quantile;
use super::frame::{aggregate, Frame, Granularity, Raw};
use super::model::{Drivers, Form, ModelError, Spec, TempUnit};
use super::report::{
    finite, ModelReport, MonthReport, Named, PeriodReport, Point, Report, SavingsReport, SCHEMA,
};
use super::savings::{cusum, uncertainty, Adjustment, Uncertainty};
use super::select::select;
use super::verdict::Evidence;
use crate::i18n::Msg;

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
    pub model: Option<Spec>,
    pub adjustments: Vec<Adjustment>,
    /// The plant's holidays (day-type models, time-of-week forms), sorted.
    pub holidays: Vec<NaiveDate>,
    /// Reporting conditions outside the baseline's are accepted as an extrapolation: the
    /// verdict no longer fails on them; their added uncertainty is counted either way.
    pub accept_extrapolation: bool,
    /// Run the placebo back-test on the baseline period and weigh it in the verdict.
    pub placebo: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MvError {
    #[error("{0}")]
    Input(String),
    #[error("baseline model: {0}")]
    Model(#[from] ModelError),
}

/// Periods with every driver the data has; the rest are counted.
pub(crate) struct Usable {
    pub drivers: Drivers,
    pub energy: Vec<f64>,
    pub starts: Vec<(i64, i64)>,
    pub missing: usize,
}

/// The usable periods of `frame`, leaving out those overlapping `exclude` (a placebo window).
pub(crate) fn usable(
    frame: &Frame,
    raw: &Raw,
    req: &Request,
    exclude: Option<(i64, i64)>,
) -> (Usable, usize) {
    let outside =
        |p: &&super::frame::Period| exclude.is_none_or(|(a, b)| p.end <= a || p.start >= b);
    let excluded = frame.periods.iter().filter(|p| !outside(p)).count();
    let keep: Vec<&super::frame::Period> = frame
        .periods
        .iter()
        .filter(outside)
        .filter(|p| (!raw.has_temp || p.temp.is_some()) && p.vars.iter().all(Option::is_some))
        .collect();
    let missing = frame.periods.len() - excluded - keep.len();
    let drivers = Drivers {
        granularity: frame.granularity,
        unit: req.temp_unit,
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
        holidays: req.holidays.clone(),
    };
    let u = Usable {
        drivers,
        energy: keep.iter().map(|p| p.energy).collect(),
        starts: keep.iter().map(|p| (p.start, p.end)).collect(),
        missing,
    };
    (u, excluded)
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

/// The baseline and reporting frames, checked to hold whole periods.
fn frames(raw: &Raw, req: &Request) -> Result<(Frame, Frame), MvError> {
    let g = req.granularity;
    let bf = aggregate(raw, g, req.baseline.0, req.baseline.1).map_err(MvError::Input)?;
    let rf = aggregate(raw, g, req.reporting.0, req.reporting.1).map_err(MvError::Input)?;
    for (f, what) in [(&bf, "the baseline"), (&rf, "the reporting period")] {
        if f.expected == 0 {
            return Err(MvError::Input(format!(
                "{what} holds no whole {}",
                g.code()
            )));
        }
    }
    Ok((bf, rf))
}

/// One verification; `exclude` leaves a window of the baseline out (the placebo's test window).
pub(crate) fn run(
    raw: &Raw,
    req: &Request,
    exclude: Option<(i64, i64)>,
    placebo: Option<super::report::Placebo>,
) -> Result<Report, MvError> {
    let g = req.granularity;
    let zone = raw.zone;
    let mut warnings = Vec::new();
    let mut evidence = Evidence::default();
    let (bf, rf) = frames(raw, req)?;
    let (base, excluded) = usable(&bf, raw, req, exclude);
    let (rep, _) = usable(&rf, raw, req, None);
    evidence.sufficiency.extend(sufficiency(
        &bf,
        base.energy.len(),
        excluded,
        false,
        &mut warnings,
    ));
    evidence
        .sufficiency
        .extend(sufficiency(&rf, rep.energy.len(), 0, true, &mut warnings));
    let span_days = (req.baseline.1 - req.baseline.0) as f64 / 86_400_000.0;
    if span_days < 364.5 && raw.has_temp {
        warnings.push(Msg::new("mv-warn-short-baseline").arg("days", format!("{span_days:.0}")));
    }
    for (u, what) in [(&base, "baseline"), (&rep, "reporting period")] {
        if u.missing > 0 {
            warnings.push(
                Msg::new("mv-warn-missing-drivers")
                    .arg("what", period_word(what != "baseline"))
                    .arg("n", u.missing.to_string())
                    .arg("steps", steps_word(g)),
            );
        }
        if u.energy.is_empty() {
            return Err(MvError::Input(format!(
                "the {what} has no complete {} of data",
                g.code()
            )));
        }
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
    evidence.model = model_reasons(&checks);
    if model.form == Form::Mean && model.spec == Spec::plain(Form::Mean) {
        warnings.push(Msg::new("mv-warn-mean-model"));
    }
    for (name, v) in &model.vif {
        if v.is_none_or(|v| v > 10.0) {
            warnings.push(
                Msg::new("mv-warn-collinear")
                    .arg("name", name.as_str())
                    .arg("vif", v.map(|v| format!("{v:.1}")).unwrap_or("∞".into())),
            );
        }
    }
    let x = extrapolation(&model, &base.drivers, &rep.drivers);
    warnings.extend(x.notes.iter().cloned());
    if req.accept_extrapolation {
        warnings.extend(
            x.findings
                .iter()
                .map(|f| Msg::new("mv-warn-accepted").arg("text", f.clone())),
        );
    } else {
        evidence.extrapolation = x.findings.clone();
    }

    let predicted = model.predict(&rep.drivers);
    let nra: Vec<f64> = rep
        .starts
        .iter()
        .map(|(s, e)| req.adjustments.iter().map(|a| a.share(*s, *e)).sum())
        .collect();
    for a in &req.adjustments {
        if a.to <= req.reporting.0 || a.from >= req.reporting.1 {
            warnings.push(Msg::new("mv-warn-adjustment-outside").arg("reason", a.reason.as_str()));
        }
    }
    let adjusted: Vec<f64> = predicted.iter().zip(&nra).map(|(p, a)| p + a).collect();
    let actual: f64 = rep.energy.iter().sum();
    let adjusted_total: f64 = adjusted.iter().sum();
    let predicted_total: f64 = predicted.iter().sum();
    let base_u = uncertainty(
        o.cv_rmse,
        o.n,
        o.k,
        o.rho,
        rep.energy.len(),
        predicted_total,
    );
    // Extrapolated periods: the parameters' uncertainty of their predictions, inflated by
    // n/n′ for autocorrelation, added in quadrature.
    let extra_90 = x.outside.iter().any(|o| *o).then(|| {
        let cols = model.columns(&rep.drivers);
        let rows: Vec<Vec<f64>> = (0..rep.energy.len())
            .filter(|i| x.outside[*i])
            .map(|i| cols.iter().map(|c| c[i]).collect())
            .collect();
        let n_ratio = base_u.map_or(1.0, |u| o.n as f64 / u.effective_n);
        let df = (o.n.saturating_sub(o.k)).max(1) as f64;
        let sd = (o.sum_prediction_variance(&rows) * n_ratio).sqrt();
        (t_quantile(0.95, df) * sd, t_quantile(0.84, df) * sd)
    });
    let u = base_u.map(|u| match extra_90 {
        Some((e90, e68)) => Uncertainty {
            at_90: u.at_90.hypot(e90),
            at_68: u.at_68.hypot(e68),
            ..u
        },
        None => u,
    });
    if let Some(p) = &placebo {
        evidence.placebo = p.finding();
    }
    let mut savings = SavingsReport::judged(adjusted_total, actual, u, &req.energy_unit, &evidence);
    savings.extrapolation_uncertainty_90 = extra_90.map(|e| e.0);
    savings.extrapolated_periods = x.outside.iter().filter(|o| **o).count();
    let monthly = monthly(&rep, &adjusted, zone);

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
        (Some(t), _) if model.form.uses_temp() => Some((
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
            form: model.spec.code(),
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
        warnings: warnings.iter().map(Msg::en).collect(),
        warning_messages: warnings,
        placebo,
        priced: None,
        normalized: None,
        driver,
        zone,
    })
}

/// Months of the reporting period: SEnPI and cumulative savings (DOE style).
fn monthly(rep: &Usable, adjusted: &[f64], zone: super::frame::Zone) -> Vec<MonthReport> {
    let mut monthly: Vec<MonthReport> = Vec::new();
    let mut cumulative = 0.0;
    for (i, (s, _)) in rep.starts.iter().enumerate() {
        let month = zone.local(*s).format("%Y-%m").to_string();
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
    monthly
}
