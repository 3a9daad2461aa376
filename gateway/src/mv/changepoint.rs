//! Temperature change-point models (ASHRAE inverse-modelling forms) fitted by OLS over a
//! balance-point search: 3P cooling, 3P heating, 4P and 5P. Candidates qualify only with the
//! physically right signs (energy rises away from the balance point).

use super::ols::{cholesky, fit, solve, FitError, Ols};

/// A change-point model form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// E = b0 + bc·(T − Tc)⁺, bc > 0.
    ThreeCooling,
    /// E = b0 + bh·(Th − T)⁺, bh > 0.
    ThreeHeating,
    /// E = b0 + bh·(Tb − T)⁺ + bc·(T − Tb)⁺: one balance point, two slopes; qualifies when
    /// convex (bh + bc > 0) and rising away from Tb on at least one side.
    Four,
    /// E = b0 + bh·(Th − T)⁺ + bc·(T − Tc)⁺, Th < Tc, both slopes > 0.
    Five,
}

impl Form {
    pub fn name(self) -> &'static str {
        match self {
            Form::ThreeCooling => "3P cooling",
            Form::ThreeHeating => "3P heating",
            Form::Four => "4P",
            Form::Five => "5P",
        }
    }
}

/// A fitted change-point model.
#[derive(Debug, Clone)]
pub struct ChangePoint {
    pub form: Form,
    /// Balance points, °C (one for 3P and 4P; heating then cooling for 5P).
    pub balance: Vec<f64>,
    /// OLS on the hinge terms: intercept, then heating and/or cooling slopes in that order,
    /// then the extra drivers.
    pub ols: Ols,
}

fn hinge_up(t: &[f64], b: f64) -> Vec<f64> {
    t.iter().map(|t| (t - b).max(0.0)).collect()
}

fn hinge_down(t: &[f64], b: f64) -> Vec<f64> {
    t.iter().map(|t| (b - t).max(0.0)).collect()
}

/// The hinge columns of `form` at balance points `b`.
pub fn hinges(form: Form, t: &[f64], b: &[f64]) -> Vec<Vec<f64>> {
    match form {
        Form::ThreeCooling => vec![hinge_up(t, b[0])],
        Form::ThreeHeating => vec![hinge_down(t, b[0])],
        Form::Four => vec![hinge_down(t, b[0]), hinge_up(t, b[0])],
        Form::Five => vec![hinge_down(t, b[0]), hinge_up(t, b[1])],
    }
}

/// Sufficient statistics for the balance-point search: with the data sorted by temperature,
/// prefix sums make every hinge column's cross products with the fixed columns (intercept,
/// extra drivers, energy) an O(log n) lookup, so a dense grid costs no more than a few full fits.
struct Moments {
    n: f64,
    /// Temperatures, ascending.
    t: Vec<f64>,
    /// Fixed columns: 1, the extra drivers, then y. `pre[f][i]` = Σ_{j<i} f_j,
    /// `pre_t[f][i]` = Σ_{j<i} t_j·f_j (in sorted order).
    pre: Vec<Vec<f64>>,
    pre_t: Vec<Vec<f64>>,
    /// Σ t² prefix.
    pre_tt: Vec<f64>,
    /// Σ f_a·f_b over all rows, fixed columns.
    fixed: Vec<Vec<f64>>,
}

impl Moments {
    fn new(t: &[f64], extra: &[&[f64]], y: &[f64]) -> Self {
        let n = t.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| t[a].total_cmp(&t[b]));
        let cols: Vec<Vec<f64>> = std::iter::once(vec![1.0; n])
            .chain(extra.iter().map(|c| c.to_vec()))
            .chain(std::iter::once(y.to_vec()))
            .collect();
        let ts: Vec<f64> = order.iter().map(|&i| t[i]).collect();
        let prefix = |f: &dyn Fn(usize) -> f64| {
            let mut p = Vec::with_capacity(n + 1);
            let mut acc = 0.0;
            p.push(0.0);
            for &i in &order {
                acc += f(i);
                p.push(acc);
            }
            p
        };
        let pre: Vec<Vec<f64>> = cols.iter().map(|c| prefix(&|i| c[i])).collect();
        let pre_t: Vec<Vec<f64>> = cols.iter().map(|c| prefix(&|i| c[i] * t[i])).collect();
        let pre_tt = prefix(&|i| t[i] * t[i]);
        let fixed = cols
            .iter()
            .map(|a| {
                cols.iter()
                    .map(|b| a.iter().zip(b).map(|(x, y)| x * y).sum())
                    .collect()
            })
            .collect();
        Self {
            n: n as f64,
            t: ts,
            pre,
            pre_t,
            pre_tt,
            fixed,
        }
    }

    /// Σ h·f for fixed column `f` and Σ h² of the hinge (T − b)⁺ (`up`) or (b − T)⁺.
    fn hinge(&self, b: f64, up: bool) -> (Vec<f64>, f64) {
        let last = self.t.len();
        if up {
            let i = self.t.partition_point(|&t| t <= b);
            let sum = |p: &[f64]| p[last] - p[i];
            let cross = (0..self.pre.len())
                .map(|f| sum(&self.pre_t[f]) - b * sum(&self.pre[f]))
                .collect();
            let sq = sum(&self.pre_tt) - 2.0 * b * sum(&self.pre_t[0]) + b * b * sum(&self.pre[0]);
            (cross, sq)
        } else {
            let i = self.t.partition_point(|&t| t < b);
            let cross = (0..self.pre.len())
                .map(|f| b * self.pre[f][i] - self.pre_t[f][i])
                .collect();
            let sq = self.pre_tt[i] - 2.0 * b * self.pre_t[0][i] + b * b * self.pre[0][i];
            (cross, sq)
        }
    }

    /// Coefficients (intercept, hinges, extras) and SSE at balance points `b`; hinge columns
    /// of one model never overlap (their cross product is 0).
    fn fit(&self, form: Form, b: &[f64]) -> Option<(Vec<f64>, f64)> {
        let hinges: Vec<(Vec<f64>, f64)> = match form {
            Form::ThreeCooling => vec![self.hinge(b[0], true)],
            Form::ThreeHeating => vec![self.hinge(b[0], false)],
            Form::Four => vec![self.hinge(b[0], false), self.hinge(b[0], true)],
            Form::Five => vec![self.hinge(b[0], false), self.hinge(b[1], true)],
        };
        let nf = self.fixed.len();
        let ny = nf - 1;
        let nh = hinges.len();
        let q = nh + nf - 2;
        // Raw sums: S_a (with the intercept column), S_ab, S_ay for drivers a = hinges, extras.
        let s_a = |a: usize| {
            if a < nh {
                hinges[a].0[0]
            } else {
                self.fixed[0][a - nh + 1]
            }
        };
        let s_ab = |a: usize, c: usize| match (a < nh, c < nh) {
            (true, true) => {
                if a == c {
                    hinges[a].1
                } else {
                    0.0
                }
            }
            (true, false) => hinges[a].0[c - nh + 1],
            (false, true) => hinges[c].0[a - nh + 1],
            (false, false) => self.fixed[a - nh + 1][c - nh + 1],
        };
        let s_ay = |a: usize| {
            if a < nh {
                hinges[a].0[ny]
            } else {
                self.fixed[a - nh + 1][ny]
            }
        };
        let n = self.n;
        let sy = self.fixed[0][ny];
        let m: Vec<Vec<f64>> = (0..q)
            .map(|a| (0..q).map(|c| s_ab(a, c) - s_a(a) * s_a(c) / n).collect())
            .collect();
        let r: Vec<f64> = (0..q).map(|a| s_ay(a) - s_a(a) * sy / n).collect();
        let l = cholesky(&m)?;
        let beta = solve(&l, &r);
        let syy = self.fixed[ny][ny] - sy * sy / n;
        let sse = syy - beta.iter().zip(&r).map(|(b, r)| b * r).sum::<f64>();
        let b0 = (sy - (0..q).map(|a| beta[a] * s_a(a)).sum::<f64>()) / n;
        let mut coef = vec![b0];
        coef.extend(beta);
        Some((coef, sse))
    }
}

/// Whether the temperature slopes have the physical signs.
fn qualifies(form: Form, coef: &[f64]) -> bool {
    match form {
        Form::ThreeCooling | Form::ThreeHeating => coef[1] > 0.0,
        Form::Four => (coef[1] > 0.0 || coef[2] > 0.0) && coef[1] + coef[2] > 0.0,
        Form::Five => coef[1] > 0.0 && coef[2] > 0.0,
    }
}

/// The full fit (statistics and residuals) of `form` at balance points `b`.
pub fn fit_at(
    form: Form,
    t: &[f64],
    extra: &[&[f64]],
    y: &[f64],
    b: &[f64],
) -> Result<Ols, FitError> {
    let h = hinges(form, t, b);
    let mut cols: Vec<&[f64]> = h.iter().map(Vec::as_slice).collect();
    cols.extend_from_slice(extra);
    fit(&cols, y)
}

/// Every sign-qualifying fit of `form` at the given balance points, least SSE first (for
/// searches on a prescribed grid, such as CalTRACK's 1 °F steps).
pub fn ranked(
    form: Form,
    t: &[f64],
    extra: &[&[f64]],
    y: &[f64],
    points: Vec<Vec<f64>>,
) -> Result<Vec<(f64, Vec<f64>)>, FitError> {
    check(t, extra, y)?;
    let mom = Moments::new(t, extra, y);
    let mut out: Vec<(f64, Vec<f64>)> = points
        .into_iter()
        .filter_map(|b| {
            let (coef, sse) = mom.fit(form, &b)?;
            qualifies(form, &coef).then_some((sse, b))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(out)
}

fn check(t: &[f64], extra: &[&[f64]], y: &[f64]) -> Result<(), FitError> {
    if t.len() != y.len() || t.len() < 6 {
        return Err(FitError::TooFewPoints { n: t.len(), k: 4 });
    }
    for (i, v) in y.iter().enumerate() {
        if !v.is_finite() || !t[i].is_finite() || extra.iter().any(|c| !c[i].is_finite()) {
            return Err(FitError::NotFinite(i));
        }
    }
    Ok(())
}

/// Balance points searched: between the 10th and 90th percentile of temperature, so each
/// segment keeps data.
fn search_range(t: &[f64]) -> (f64, f64) {
    let mut s = t.to_vec();
    s.sort_by(f64::total_cmp);
    let q = |p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
    (q(0.1), q(0.9))
}

/// Grid search (coarse, then fine around the best) for the least-SSE qualifying fit.
pub fn fit_form(
    form: Form,
    t: &[f64],
    extra: &[&[f64]],
    y: &[f64],
) -> Result<Option<ChangePoint>, FitError> {
    check(t, extra, y)?;
    let (lo, hi) = search_range(t);
    if hi - lo <= 0.0 {
        return Err(FitError::Singular);
    }
    let mom = Moments::new(t, extra, y);
    let mut best: Option<(f64, Vec<f64>)> = None;
    let consider = |best: &mut Option<(f64, Vec<f64>)>, b: Vec<f64>| {
        if let Some((coef, sse)) = mom.fit(form, &b) {
            if qualifies(form, &coef) && best.as_ref().is_none_or(|(s, _)| sse < *s) {
                *best = Some((sse, b));
            }
        }
    };
    let grid = |from: f64, to: f64, step: f64| {
        let n = ((to - from) / step + 1e-9).floor() as usize;
        (0..=n).map(move |i| from + i as f64 * step)
    };
    // Coarse steps of 1/40 of the range (1/20 for the two-dimensional 5P search), then two
    // refinements around the best at a fifth of the step each.
    let mut step = (hi - lo) / if form == Form::Five { 20.0 } else { 40.0 };
    match form {
        Form::Five => {
            for h in grid(lo, hi, step) {
                for c in grid(h, hi, step) {
                    consider(&mut best, vec![h, c]);
                }
            }
        }
        _ => grid(lo, hi, step).for_each(|b| consider(&mut best, vec![b])),
    }
    for _ in 0..3 {
        let Some((_, b0)) = best.clone() else { break };
        let fine = step / 5.0;
        match form {
            Form::Five => {
                for h in grid(b0[0] - step, b0[0] + step, fine) {
                    for c in grid(b0[1] - step, b0[1] + step, fine) {
                        if h <= c && h >= lo && c <= hi {
                            consider(&mut best, vec![h, c]);
                        }
                    }
                }
            }
            _ => grid(b0[0] - step, b0[0] + step, fine)
                .filter(|b| (lo..=hi).contains(b))
                .for_each(|b| consider(&mut best, vec![b])),
        }
        step = fine;
    }
    let Some((_, balance)) = best else {
        return Ok(None);
    };
    let ols = fit_at(form, t, extra, y, &balance)?;
    Ok(qualifies(form, &ols.coef).then_some(ChangePoint { form, balance, ols }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::Rng;

    /// A year of daily temperatures (Taiwan-like) and energy from a known model plus noise.
    fn year(energy: impl Fn(f64) -> f64, noise: f64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = Rng::new(7);
        let t: Vec<f64> = (0..365)
            .map(|d| {
                let season = (2.0 * std::f64::consts::PI * (f64::from(d) - 200.0) / 365.0).cos();
                23.0 + 8.0 * season + 2.0 * rng.gauss()
            })
            .collect();
        let y = t.iter().map(|&t| energy(t) + noise * rng.gauss()).collect();
        (t, y)
    }

    fn within(got: f64, want: f64, pct: f64, what: &str) {
        assert!(
            ((got - want) / want).abs() <= pct / 100.0,
            "{what}: got {got}, want {want} (±{pct} %)"
        );
    }

    #[test]
    fn three_point_cooling_is_recovered_within_one_percent() {
        let (t, y) = year(|t| 1200.0 + 55.0 * (t - 21.0).max(0.0), 5.0);
        let m = fit_form(Form::ThreeCooling, &t, &[], &y).unwrap().unwrap();
        within(m.balance[0], 21.0, 1.0, "balance point");
        within(m.ols.coef[0], 1200.0, 1.0, "base load");
        within(m.ols.coef[1], 55.0, 1.0, "cooling slope");
        assert!(m.ols.r2 > 0.99);
    }

    #[test]
    fn three_point_heating_and_five_point_are_recovered() {
        let (t, y) = year(|t| 800.0 + 40.0 * (19.0 - t).max(0.0), 4.0);
        let m = fit_form(Form::ThreeHeating, &t, &[], &y).unwrap().unwrap();
        within(m.balance[0], 19.0, 1.0, "heating balance point");
        within(m.ols.coef[1], 40.0, 1.0, "heating slope");
        let (t, y) = year(
            |t| 1000.0 + 30.0 * (18.0 - t).max(0.0) + 60.0 * (t - 25.0).max(0.0),
            4.0,
        );
        let m = fit_form(Form::Five, &t, &[], &y).unwrap().unwrap();
        within(m.balance[0], 18.0, 1.0, "5P heating balance point");
        within(m.balance[1], 25.0, 1.0, "5P cooling balance point");
        within(m.ols.coef[1], 30.0, 1.0, "5P heating slope");
        within(m.ols.coef[2], 60.0, 1.0, "5P cooling slope");
    }

    #[test]
    fn wrong_signs_do_not_qualify() {
        // Energy falls with temperature everywhere: no cooling model qualifies.
        let (t, y) = year(|t| 2000.0 - 20.0 * t, 2.0);
        assert!(fit_form(Form::ThreeCooling, &t, &[], &y).unwrap().is_none());
        assert!(fit_form(Form::Five, &t, &[], &y).unwrap().is_none());
        let flat = vec![20.0; 30];
        assert!(fit_form(Form::ThreeCooling, &flat, &[], &[1.0; 30]).is_err());
    }
}
