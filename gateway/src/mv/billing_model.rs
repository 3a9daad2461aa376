//! CalTRACK billing-period models: usage per day on average heating and cooling degree days per
//! day over each period, fitted by least squares weighted by the days in each period, with
//! balance points on CalTRACK's 1 °F grid (30–90 °F) and selection by adjusted R².

// Matrix arithmetic reads closer to its formulas with indices.
#![allow(clippy::needless_range_loop)]

use super::dist::t_two_sided_p;
use super::model::TempUnit;
use super::ols::{cholesky, solve};
use super::select::Candidate;

/// A billing period as the model sees it.
#[derive(Debug, Clone)]
pub struct Period {
    pub days: f64,
    /// Usage per day.
    pub upd: f64,
    /// Daily mean temperatures of the days with one.
    pub temps: Vec<f64>,
}

impl Period {
    /// Average heating (`heat`) or cooling degree days per day at balance point `b`.
    fn degree_days(&self, b: f64, heat: bool) -> f64 {
        let dd = |t: &f64| {
            if heat {
                (b - t).max(0.0)
            } else {
                (t - b).max(0.0)
            }
        };
        self.temps.iter().map(dd).sum::<f64>() / self.temps.len().max(1) as f64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillForm {
    pub hdd: bool,
    pub cdd: bool,
}

impl BillForm {
    pub const ALL: [BillForm; 4] = [
        BillForm {
            hdd: false,
            cdd: false,
        },
        BillForm {
            hdd: true,
            cdd: false,
        },
        BillForm {
            hdd: false,
            cdd: true,
        },
        BillForm {
            hdd: true,
            cdd: true,
        },
    ];

    pub fn code(self) -> &'static str {
        match (self.hdd, self.cdd) {
            (false, false) => "mean",
            (true, false) => "caltrack-hdd",
            (false, true) => "caltrack-cdd",
            (true, true) => "caltrack-hdd-cdd",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.code() == text)
            .ok_or_else(|| format!("`{text}` is not a billing model (mean, caltrack-hdd, caltrack-cdd, caltrack-hdd-cdd)"))
    }

    fn uses_temp(self) -> bool {
        self.hdd || self.cdd
    }
}

/// A weighted fit of usage per day.
#[derive(Debug, Clone)]
pub struct BillModel {
    pub form: BillForm,
    /// Heating then cooling balance point, for the terms the form has.
    pub balance: Vec<f64>,
    pub names: Vec<String>,
    pub coef: Vec<f64>,
    pub se: Vec<f64>,
    pub p: Vec<f64>,
    pub n: usize,
    /// Parameters, balance points included (Guideline 14's p).
    pub params: usize,
    pub r2: f64,
    pub adj_r2: f64,
    /// Weighted RMSE of usage per day over the weighted mean usage per day.
    pub cv_rmse: f64,
    pub nmbe: f64,
    pub rho: f64,
    pub fitted: Vec<f64>,
}

impl BillModel {
    fn row(&self, p: &Period) -> Vec<f64> {
        row(self.form, &self.balance, p)
    }

    /// Predicted usage per day of each period.
    pub fn predict(&self, periods: &[Period]) -> Vec<f64> {
        periods
            .iter()
            .map(|p| self.row(p).iter().zip(&self.coef).map(|(x, b)| x * b).sum())
            .collect()
    }
}

fn row(form: BillForm, balance: &[f64], p: &Period) -> Vec<f64> {
    let mut r = vec![1.0];
    let mut b = balance.iter();
    if form.hdd {
        r.push(p.degree_days(*b.next().unwrap_or(&0.0), true));
    }
    if form.cdd {
        r.push(p.degree_days(*b.next().unwrap_or(&0.0), false));
    }
    r
}

/// Weighted least squares at fixed balance points; `None` when it cannot be fitted.
fn wls(form: BillForm, balance: Vec<f64>, ps: &[Period]) -> Option<BillModel> {
    let x: Vec<Vec<f64>> = ps.iter().map(|p| row(form, &balance, p)).collect();
    let k = x.first()?.len();
    let n = ps.len();
    let params = k + balance.len();
    if n <= params {
        return None;
    }
    // Weights are days over the mean days, so sums stay on the scale of one period.
    let mean_days = ps.iter().map(|p| p.days).sum::<f64>() / n as f64;
    let w: Vec<f64> = ps.iter().map(|p| p.days / mean_days).collect();
    let y: Vec<f64> = ps.iter().map(|p| p.upd).collect();
    let mut xtx = vec![vec![0.0; k]; k];
    let mut xty = vec![0.0; k];
    for i in 0..n {
        for a in 0..k {
            xty[a] += w[i] * x[i][a] * y[i];
            for b in 0..k {
                xtx[a][b] += w[i] * x[i][a] * x[i][b];
            }
        }
    }
    let l = cholesky(&xtx)?;
    let coef = solve(&l, &xty);
    let fitted: Vec<f64> = x
        .iter()
        .map(|r| r.iter().zip(&coef).map(|(a, b)| a * b).sum())
        .collect();
    let e: Vec<f64> = y.iter().zip(&fitted).map(|(y, f)| y - f).collect();
    let sse: f64 = e.iter().zip(&w).map(|(e, w)| w * e * e).sum();
    let sw: f64 = w.iter().sum();
    let ybar = y.iter().zip(&w).map(|(y, w)| w * y).sum::<f64>() / sw;
    let sst: f64 = y.iter().zip(&w).map(|(y, w)| w * (y - ybar).powi(2)).sum();
    // Standard errors and p-values on the linear degrees of freedom, as a WLS fit reports them.
    let df_lin = (n - k) as f64;
    let s2 = sse / df_lin;
    let se: Vec<f64> = (0..k)
        .map(|j| {
            let mut u = vec![0.0; k];
            u[j] = 1.0;
            (s2 * solve(&l, &u)[j]).max(0.0).sqrt()
        })
        .collect();
    let p = coef
        .iter()
        .zip(&se)
        .map(|(b, s)| {
            if *s > 0.0 {
                t_two_sided_p(b / s, df_lin)
            } else {
                0.0
            }
        })
        .collect();
    let df = (n - params) as f64;
    let r2 = if sst > 0.0 { 1.0 - sse / sst } else { 0.0 };
    let ybar_ok = ybar != 0.0;
    let rss: f64 = e.iter().map(|e| e * e).sum();
    let lag: f64 = e.windows(2).map(|w| w[0] * w[1]).sum();
    let mut names = vec!["intercept".to_owned()];
    if form.hdd {
        names.push("hdd".to_owned());
    }
    if form.cdd {
        names.push("cdd".to_owned());
    }
    let m = BillModel {
        form,
        balance,
        names,
        coef,
        se,
        p,
        n,
        params,
        r2,
        adj_r2: 1.0 - (1.0 - r2) * (n as f64 - 1.0) / df,
        cv_rmse: if ybar_ok {
            (sse / df).sqrt() / ybar
        } else {
            f64::NAN
        },
        nmbe: if ybar_ok {
            e.iter().zip(&w).map(|(e, w)| w * e).sum::<f64>() / (df * ybar)
        } else {
            f64::NAN
        },
        rho: if rss > 0.0 { lag / rss } else { 0.0 },
        fitted,
    };
    m.coef.iter().all(|c| c.is_finite()).then_some(m)
}

/// The best qualifying fit of one form over the balance-point grid, or why there is none.
/// Degree-day coefficients must be positive with p < 0.1, and each degree-day term needs
/// 20 °F·d in total over the baseline (CalTRACK's billing presets).
pub fn fit_form(form: BillForm, ps: &[Period], unit: TempUnit) -> Result<BillModel, String> {
    if !form.uses_temp() {
        return wls(form, vec![], ps)
            .ok_or_else(|| format!("{} bills cannot fit a mean (two needed)", ps.len()));
    }
    if ps.iter().any(|p| p.temps.is_empty()) {
        return Err("needs a temperature for every bill (--config or --temp-csv)".to_owned());
    }
    // CalTRACK's grid is in °F.
    let (scale, of_f): (f64, fn(f64) -> f64) = match unit {
        TempUnit::C => (5.0 / 9.0, |f: f64| (f - 32.0) * 5.0 / 9.0),
        TempUnit::F => (1.0, |f: f64| f),
    };
    let grid: Vec<f64> = (30..=90).map(|f| of_f(f64::from(f))).collect();
    let min_total = 20.0 * scale;
    let total = |b: f64, heat: bool| {
        ps.iter()
            .map(|p| p.degree_days(b, heat) * p.days)
            .sum::<f64>()
    };
    let points: Vec<Vec<f64>> = match (form.hdd, form.cdd) {
        (true, true) => grid
            .iter()
            .flat_map(|h| {
                grid.iter()
                    .filter(move |c| *c >= h)
                    .map(move |c| vec![*h, *c])
            })
            .collect(),
        _ => grid.iter().map(|b| vec![*b]).collect(),
    };
    let mut best: Option<BillModel> = None;
    let mut why = "no balance point on the 30–90 °F grid gives a fit".to_owned();
    for b in points {
        let heat_flags: Vec<bool> = [form.hdd.then_some(true), form.cdd.then_some(false)]
            .into_iter()
            .flatten()
            .collect();
        if b.iter()
            .zip(&heat_flags)
            .any(|(b, h)| total(*b, *h) < min_total)
        {
            why = "too few degree days (CalTRACK needs 20 °F·d for each term)".to_owned();
            continue;
        }
        let Some(m) = wls(form, b, ps) else { continue };
        if m.coef[1..].iter().any(|c| *c <= 0.0) {
            why = "no balance point gives positive degree-day coefficients".to_owned();
            continue;
        }
        if let Some(p) = m.p[1..].iter().find(|p| **p >= 0.1) {
            if best.is_none() {
                why = format!("a degree-day coefficient has p = {p:.3} (CalTRACK needs p < 0.1)");
            }
            continue;
        }
        if best.as_ref().is_none_or(|x| m.adj_r2 > x.adj_r2) {
            best = Some(m);
        }
    }
    best.ok_or(why)
}

/// Fits the forced form or every form, keeping the best qualifying by adjusted R².
pub fn select(
    ps: &[Period],
    unit: TempUnit,
    forced: Option<BillForm>,
) -> Result<(BillModel, Vec<Candidate>), String> {
    let forms: Vec<BillForm> = match forced {
        Some(f) => vec![f],
        None => BillForm::ALL.to_vec(),
    };
    let mut cands = Vec::new();
    let mut best: Option<BillModel> = None;
    let mut first_err = None;
    for f in forms {
        match fit_form(f, ps, unit) {
            Ok(m) => {
                cands.push(Candidate {
                    form: f.code().to_owned(),
                    parameters: Some(m.params),
                    adj_r2: Some(m.adj_r2),
                    cv_rmse: Some(100.0 * m.cv_rmse).filter(|v| v.is_finite()),
                    qualified: true,
                    selected: false,
                    reason: None,
                });
                if best.as_ref().is_none_or(|b| m.adj_r2 > b.adj_r2) {
                    best = Some(m);
                }
            }
            Err(e) => {
                cands.push(Candidate {
                    form: f.code().to_owned(),
                    parameters: None,
                    adj_r2: None,
                    cv_rmse: None,
                    qualified: false,
                    selected: false,
                    reason: Some(e.clone()),
                });
                first_err.get_or_insert(format!("the {} model does not qualify: {e}", f.code()));
            }
        }
    }
    let best = best.ok_or_else(|| first_err.unwrap_or_else(|| "no candidates".to_owned()))?;
    for c in &mut cands {
        c.selected = c.form == best.form.code();
    }
    Ok((best, cands))
}
