//! Choosing the baseline model: every candidate form and calendar variant is fitted and
//! qualified; then, from the mean up, a model with more parameters replaces a simpler one only
//! when the partial F test (corrected for autocorrelated residuals) says its better fit is not
//! chance. An insignificant model never wins over the mean.

use serde::Serialize;

use super::changepoint::Form as Cp;
use super::dist::f_survival;
use super::frame::Granularity;
use super::model::{fit_form, Drivers, Form, Model, ModelError, Spec};

/// Significance a more complex model must reach against the simpler one it replaces.
pub const ALPHA: f64 = 0.05;

/// One candidate's outcome, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub form: String,
    /// Guideline 14's p (balance points included).
    pub parameters: Option<usize>,
    pub adj_r2: Option<f64>,
    /// Percent.
    pub cv_rmse: Option<f64>,
    pub qualified: bool,
    pub selected: bool,
    /// Why it did not qualify, could not be fitted or was not chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The candidate specs for these drivers.
pub fn candidates(d: &Drivers) -> Vec<Spec> {
    let mut forms = vec![Form::Mean];
    if !d.vars.is_empty() {
        forms.push(Form::Linear);
    }
    if d.temp.is_some() {
        forms.push(Form::TwoP);
        for cp in [Cp::ThreeCooling, Cp::ThreeHeating, Cp::Four, Cp::Five] {
            forms.push(Form::ChangePoint(cp));
        }
    }
    let daily = d.granularity == Granularity::Day;
    let mut specs: Vec<Spec> = Vec::new();
    for form in forms {
        specs.push(Spec::plain(form));
        if daily {
            for (daytype, season) in [(true, false), (false, true), (true, true)] {
                specs.push(Spec {
                    form,
                    daytype,
                    season,
                });
            }
        }
    }
    if d.temp.is_some() && daily {
        for (hdd, cdd) in [(true, false), (false, true), (true, true)] {
            specs.push(Spec::plain(Form::CalTrack { hdd, cdd }));
        }
    }
    if d.granularity == Granularity::Hour {
        specs.push(Spec::plain(Form::TowTemp));
        if d.temp.is_some() {
            specs.push(Spec::plain(Form::TowTempOcc));
        }
    }
    specs
}

/// Partial F test of `complex` against `simpler` (fewer parameters), with both residual sums
/// of squares; the statistic is scaled by n′/n, n′ = n(1−ρ)/(1+ρ), since autocorrelated
/// residuals overstate it. The p-value.
pub fn partial_f(simpler: (f64, usize), complex: (f64, usize), n: usize, rho: f64) -> f64 {
    let (sse0, k0) = simpler;
    let (sse1, k1) = complex;
    if k1 <= k0 || sse1 <= 0.0 {
        return if sse1 < sse0 { 0.0 } else { 1.0 };
    }
    let nf = n as f64;
    let n_eff = if rho > 0.0 {
        nf * (1.0 - rho) / (1.0 + rho)
    } else {
        nf
    };
    let df2 = n_eff - k1 as f64;
    if df2 < 1.0 {
        return 1.0;
    }
    let df1 = (k1 - k0) as f64;
    let f = ((sse0 - sse1).max(0.0) / df1) / (sse1 / (nf - k1 as f64)) * (n_eff / nf);
    f_survival(f, df1, df2)
}

fn row(m: &Model) -> Candidate {
    Candidate {
        form: m.spec.code(),
        parameters: Some(m.ols.k),
        adj_r2: Some(m.ols.adj_r2),
        cv_rmse: Some(100.0 * m.ols.cv_rmse).filter(|v| v.is_finite()),
        qualified: true,
        selected: false,
        reason: None,
    }
}

/// Fits every candidate (or only the forced one) and chooses by the rule above.
pub fn select(
    d: &Drivers,
    y: &[f64],
    forced: Option<Spec>,
) -> Result<(Model, Vec<Candidate>), ModelError> {
    if let Some(spec) = forced {
        let m = fit_form(spec, d, y)?;
        let mut c = row(&m);
        c.selected = true;
        return Ok((m.with_vif(d), vec![c]));
    }
    let ybar = y.iter().sum::<f64>() / y.len().max(1) as f64;
    let sst: f64 = y.iter().map(|v| (v - ybar).powi(2)).sum();
    let mut report = Vec::new();
    let mut fitted: Vec<(usize, Model)> = Vec::new();
    let mut first_err = None;
    for spec in candidates(d) {
        match fit_form(spec, d, y) {
            Ok(m) => {
                let mut c = row(&m);
                if m.spec != Spec::plain(Form::Mean) {
                    let p = partial_f((sst, 1), (m.ols.sse, m.ols.k), m.ols.n, m.ols.rho);
                    if p >= 0.1 {
                        c.qualified = false;
                        c.reason = Some(format!(
                            "not significantly better than the mean (F test p = {p:.3}, needs < 0.1)"
                        ));
                        report.push(c);
                        continue;
                    }
                }
                fitted.push((report.len(), m));
                report.push(c);
            }
            Err(e) => {
                report.push(Candidate {
                    form: spec.code(),
                    parameters: None,
                    adj_r2: None,
                    cv_rmse: None,
                    qualified: false,
                    selected: false,
                    reason: Some(e.to_string()),
                });
                first_err.get_or_insert(e);
            }
        }
    }
    fitted.sort_by(|a, b| {
        (a.1.ols.k, a.1.ols.sse)
            .partial_cmp(&(b.1.ols.k, b.1.ols.sse))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut it = fitted.into_iter();
    let Some(mut best) = it.next() else {
        return Err(match first_err {
            Some(ModelError::Fit(e)) => ModelError::Fit(e),
            Some(e) => ModelError::NoneQualifies(e.to_string()),
            None => ModelError::NoneQualifies("no candidates".to_owned()),
        });
    };
    for (i, m) in it {
        let (b, c) = (&best.1.ols, &m.ols);
        let better = if c.k == b.k {
            c.sse < b.sse
        } else {
            let p = partial_f((b.sse, b.k), (c.sse, c.k), c.n, c.rho);
            if p >= ALPHA {
                report[i].reason = Some(format!(
                    "not significantly better than {} (partial F test p = {p:.3}, needs < {ALPHA})",
                    best.1.spec.code()
                ));
            }
            p < ALPHA
        };
        if better {
            report[best.0].reason = Some(format!("{} fits better", m.spec.code()));
            best = (i, m);
        } else if report[i].reason.is_none() {
            report[i].reason = Some(format!(
                "{} fits as well with as many parameters",
                best.1.spec.code()
            ));
        }
    }
    report[best.0].selected = true;
    report[best.0].reason = None;
    Ok((best.1.with_vif(d), report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_f_matches_the_textbook_and_discounts_autocorrelation() {
        // SSE 100 → 80 with 2 more parameters on 50 points: F = (20/2)/(80/46) = 5.75.
        let p = partial_f((100.0, 2), (80.0, 4), 50, 0.0);
        let want = f_survival(5.75, 2.0, 46.0);
        assert!((p - want).abs() < 1e-12, "{p} vs {want}");
        assert!(p < 0.01);
        // ρ = 0.6 leaves n′ = 12.5: the same gain is no longer convincing.
        assert!(partial_f((100.0, 2), (80.0, 4), 50, 0.6) > 0.05);
        // No gain, no significance.
        assert_eq!(partial_f((80.0, 2), (80.0, 4), 50, 0.0), 1.0);
    }
}
