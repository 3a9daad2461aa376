//! Temperature change-point models (ASHRAE inverse-modelling forms) fitted by OLS over a
//! balance-point search: 3P cooling, 3P heating, 4P and 5P. Candidates qualify only with the
//! physically right signs (energy rises away from the balance point).

use super::ols::{fit, FitError, Ols};

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

/// Fit of `form` (plus `extra` drivers after the hinges) at fixed balance points, if the
/// temperature slopes have the physical signs.
fn at(form: Form, t: &[f64], extra: &[&[f64]], y: &[f64], b: &[f64]) -> Option<Ols> {
    let h = hinges(form, t, b);
    let mut cols: Vec<&[f64]> = h.iter().map(Vec::as_slice).collect();
    cols.extend_from_slice(extra);
    let m = fit(&cols, y).ok()?;
    let ok = match form {
        Form::ThreeCooling | Form::ThreeHeating => m.coef[1] > 0.0,
        Form::Four => (m.coef[1] > 0.0 || m.coef[2] > 0.0) && m.coef[1] + m.coef[2] > 0.0,
        Form::Five => m.coef[1] > 0.0 && m.coef[2] > 0.0,
    };
    ok.then_some(m)
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
    if t.len() != y.len() || t.len() < 6 {
        return Err(FitError::TooFewPoints { n: t.len(), k: 4 });
    }
    let (lo, hi) = search_range(t);
    if hi - lo <= 0.0 {
        return Err(FitError::Singular);
    }
    let mut best: Option<(f64, Vec<f64>, Ols)> = None;
    let consider = |best: &mut Option<(f64, Vec<f64>, Ols)>, b: Vec<f64>| {
        if let Some(m) = at(form, t, extra, y, &b) {
            if best.as_ref().is_none_or(|(sse, ..)| m.sse < *sse) {
                *best = Some((m.sse, b, m));
            }
        }
    };
    let coarse = (hi - lo) / 40.0;
    let grid = |from: f64, to: f64, step: f64| {
        let n = ((to - from) / step).floor() as usize;
        (0..=n).map(move |i| from + i as f64 * step)
    };
    match form {
        Form::Five => {
            for h in grid(lo, hi, coarse) {
                for c in grid(h + coarse, hi, coarse) {
                    consider(&mut best, vec![h, c]);
                }
            }
        }
        _ => grid(lo, hi, coarse).for_each(|b| consider(&mut best, vec![b])),
    }
    // Refine within one coarse step of the best, at 1/40 of it.
    if let Some((_, b0, _)) = best.clone() {
        let fine = coarse / 40.0;
        match form {
            Form::Five => {
                for h in grid(b0[0] - coarse, b0[0] + coarse, fine * 4.0) {
                    for c in grid(b0[1] - coarse, b0[1] + coarse, fine * 4.0) {
                        if h < c {
                            consider(&mut best, vec![h, c]);
                        }
                    }
                }
                let b1 = best.clone().map(|b| b.1).unwrap_or(b0);
                for h in grid(b1[0] - 4.0 * fine, b1[0] + 4.0 * fine, fine) {
                    for c in grid(b1[1] - 4.0 * fine, b1[1] + 4.0 * fine, fine) {
                        if h < c {
                            consider(&mut best, vec![h, c]);
                        }
                    }
                }
            }
            _ => grid(b0[0] - coarse, b0[0] + coarse, fine)
                .for_each(|b| consider(&mut best, vec![b])),
        }
    }
    Ok(best.map(|(_, balance, ols)| ChangePoint { form, balance, ols }))
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
