//! Ordinary least squares with the statistics M&V needs: coefficients, standard errors,
//! t and p values, R², adjusted R², the F test, ASHRAE Guideline 14 CV(RMSE) and NMBE with
//! p parameters, lag-1 autocorrelation of residuals and VIF.

// Matrix arithmetic reads closer to its formulas with indices than with iterator chains.
#![allow(clippy::needless_range_loop)]

use thiserror::Error;

use super::dist::{f_survival, t_two_sided_p};

#[derive(Debug, Error, PartialEq)]
pub enum FitError {
    #[error("{n} points cannot fit {k} parameters (need at least {} points)", k + 1)]
    TooFewPoints { n: usize, k: usize },
    #[error("the drivers are constant or collinear: the model cannot separate their effects")]
    Singular,
    #[error("a value is not a finite number (row {0})")]
    NotFinite(usize),
    #[error("the mean energy is zero: CV(RMSE) and NMBE are undefined")]
    ZeroMean,
}

/// A fitted linear model y = b0 + Σ bj·xj.
#[derive(Debug, Clone, PartialEq)]
pub struct Ols {
    /// Intercept first, then one per driver.
    pub coef: Vec<f64>,
    pub se: Vec<f64>,
    pub t: Vec<f64>,
    pub p: Vec<f64>,
    pub n: usize,
    /// Parameters (the p of ASHRAE Guideline 14).
    pub k: usize,
    pub r2: f64,
    pub adj_r2: f64,
    /// √(SSE / (n − k)).
    pub rmse: f64,
    pub cv_rmse: f64,
    pub nmbe: f64,
    /// F statistic and its p-value (model significance); `None` for the mean model.
    pub f: Option<(f64, f64)>,
    pub fitted: Vec<f64>,
    pub residuals: Vec<f64>,
    /// Lag-1 autocorrelation of the residuals, in time order.
    pub rho: f64,
    pub sse: f64,
    /// Cholesky factor of the centred normal equations (row and column 0 are the identity's)
    /// and the driver centres: what the variance of a prediction needs.
    chol: Vec<Vec<f64>>,
    centres: Vec<f64>,
}

impl Ols {
    /// Variance from the parameters' uncertainty of the sum of the model's predictions over
    /// `rows` (each row the driver values of one period): s²·(m²/n + dᵀC⁻¹d), d the summed
    /// deviations of the drivers from their baseline centres.
    pub fn sum_prediction_variance(&self, rows: &[Vec<f64>]) -> f64 {
        let k = self.chol.len();
        let mut d = vec![0.0; k];
        for row in rows {
            for (j, x) in row.iter().enumerate().take(k - 1) {
                d[j + 1] += x - self.centres[j];
            }
        }
        let h = solve(&self.chol, &d);
        let quad: f64 = d.iter().zip(&h).map(|(a, b)| a * b).sum();
        let m = rows.len() as f64;
        self.rmse.powi(2) * (m * m / self.n as f64 + quad)
    }
}

/// Cholesky factor L (lower) of a symmetric positive-definite matrix, or `None`.
pub(crate) fn cholesky(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let k = a.len();
    let mut l = vec![vec![0.0; k]; k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = (0..j).map(|m| l[i][m] * l[j][m]).sum();
            if i == j {
                let d = a[i][i] - s;
                // Relative to the diagonal: a collinear column leaves ~nothing.
                if d <= a[i][i].abs() * 1e-12 || d <= 0.0 {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    Some(l)
}

/// Solves L·Lᵀ·x = b.
pub(crate) fn solve(l: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let k = l.len();
    let mut y = vec![0.0; k];
    for i in 0..k {
        y[i] = (b[i] - (0..i).map(|m| l[i][m] * y[m]).sum::<f64>()) / l[i][i];
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        x[i] = (y[i] - (i + 1..k).map(|m| l[m][i] * x[m]).sum::<f64>()) / l[i][i];
    }
    x
}

/// Fits y on an intercept and the given driver columns (each as long as `y`).
pub fn fit(drivers: &[&[f64]], y: &[f64]) -> Result<Ols, FitError> {
    let n = y.len();
    let k = drivers.len() + 1;
    if n <= k {
        return Err(FitError::TooFewPoints { n, k });
    }
    for (i, v) in y.iter().enumerate() {
        if !v.is_finite() || drivers.iter().any(|d| !d[i].is_finite()) {
            return Err(FitError::NotFinite(i));
        }
    }
    // Shift each dense driver by its mean (better-conditioned normal equations); mostly-zero
    // columns (time-of-week indicators) stay unshifted so each row is sparse, and the sums are
    // centred exactly afterwards: C_ab = S_ab − S_a·S_b / n.
    let means: Vec<f64> = drivers
        .iter()
        .map(|d| {
            let zeros = d.iter().filter(|v| **v == 0.0).count();
            if zeros * 2 > n {
                0.0
            } else {
                d.iter().sum::<f64>() / n as f64
            }
        })
        .collect();
    let q = k - 1;
    let mut sa = vec![0.0; q];
    let mut sab = vec![vec![0.0; q]; q];
    let mut say = vec![0.0; q];
    let ybar = y.iter().sum::<f64>() / n as f64;
    let mut row: Vec<(usize, f64)> = Vec::with_capacity(q);
    for i in 0..n {
        row.clear();
        row.extend(
            (0..q)
                .map(|j| (j, drivers[j][i] - means[j]))
                .filter(|(_, v)| *v != 0.0),
        );
        let yi = y[i] - ybar;
        for (ai, &(a, xa)) in row.iter().enumerate() {
            sa[a] += xa;
            say[a] += xa * yi;
            for &(b, xb) in &row[..=ai] {
                sab[a][b] += xa * xb;
            }
        }
    }
    let nf = n as f64;
    let mut xtx = vec![vec![0.0; k]; k];
    let mut xty = vec![0.0; k];
    xtx[0][0] = 1.0;
    for a in 0..q {
        xty[a + 1] = say[a];
        for b in 0..=a {
            let c = sab[a][b] - sa[a] * sa[b] / nf;
            xtx[a + 1][b + 1] = c;
            xtx[b + 1][a + 1] = c;
        }
    }
    let l = cholesky(&xtx).ok_or(FitError::Singular)?;
    // Slopes from the centred system; the intercept from the means.
    let mut beta = solve(&l, &xty);
    let centres: Vec<f64> = (0..q).map(|a| means[a] + sa[a] / nf).collect();
    beta[0] = ybar - (0..q).map(|a| beta[a + 1] * centres[a]).sum::<f64>();
    let fitted: Vec<f64> = (0..n)
        .map(|i| {
            beta[0]
                + (0..q)
                    .filter(|&a| drivers[a][i] != 0.0)
                    .map(|a| beta[a + 1] * drivers[a][i])
                    .sum::<f64>()
        })
        .collect();
    let residuals: Vec<f64> = y.iter().zip(&fitted).map(|(y, f)| y - f).collect();
    let sse: f64 = residuals.iter().map(|e| e * e).sum();
    let sst: f64 = y.iter().map(|v| (v - ybar).powi(2)).sum();
    let df = (n - k) as f64;
    let s2 = sse / df;
    // Slope variances: the diagonal of the centred system's inverse (its first row and column
    // are the identity's); the intercept's: s²·(1/n + c̄ᵀ C⁻¹ c̄) with c̄ the driver centres.
    let mut se = vec![0.0; k];
    for j in 1..k {
        let mut e = vec![0.0; k];
        e[j] = 1.0;
        se[j] = (s2 * solve(&l, &e)[j]).max(0.0).sqrt();
    }
    let mut g = vec![0.0; k];
    g[1..].copy_from_slice(&centres);
    let h = solve(&l, &g);
    let quad: f64 = g.iter().zip(&h).map(|(a, b)| a * b).sum();
    se[0] = (s2 * (1.0 / nf + quad)).max(0.0).sqrt();
    let t: Vec<f64> = beta
        .iter()
        .zip(&se)
        .map(|(b, s)| if *s > 0.0 { b / s } else { f64::INFINITY })
        .collect();
    let p: Vec<f64> = t.iter().map(|t| t_two_sided_p(*t, df)).collect();
    let r2 = if sst > 0.0 { 1.0 - sse / sst } else { 0.0 };
    let adj_r2 = 1.0 - (1.0 - r2) * (n as f64 - 1.0) / df;
    let f = (k > 1).then(|| {
        let f = ((sst - sse) / (k - 1) as f64) / s2;
        (f, f_survival(f, (k - 1) as f64, df))
    });
    if ybar == 0.0 {
        return Err(FitError::ZeroMean);
    }
    let rmse = s2.sqrt();
    let num: f64 = residuals.windows(2).map(|w| w[0] * w[1]).sum();
    let rho = if sse > 0.0 { num / sse } else { 0.0 };
    Ok(Ols {
        coef: beta,
        se,
        t,
        p,
        n,
        k,
        r2,
        adj_r2,
        rmse,
        cv_rmse: rmse / ybar,
        nmbe: residuals.iter().sum::<f64>() / (df * ybar),
        f,
        fitted,
        residuals,
        rho,
        sse,
        chol: l,
        centres,
    })
}

/// Variance inflation factor of each driver: 1 / (1 − R²) of that driver on the others.
pub fn vif(drivers: &[&[f64]]) -> Vec<Option<f64>> {
    if drivers.len() < 2 {
        return vec![Some(1.0); drivers.len()];
    }
    (0..drivers.len())
        .map(|j| {
            let others: Vec<&[f64]> = drivers
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != j)
                .map(|(_, d)| *d)
                .collect();
            let r2 = fit(&others, drivers[j]).ok()?.r2;
            (r2 < 1.0).then(|| 1.0 / (1.0 - r2))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_line_is_recovered() {
        let x: Vec<f64> = (0..20).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|x| 3.0 + 2.5 * x).collect();
        let m = fit(&[&x], &y).unwrap();
        assert!((m.coef[0] - 3.0).abs() < 1e-9 && (m.coef[1] - 2.5).abs() < 1e-9);
        assert!((m.r2 - 1.0).abs() < 1e-12);
        assert!(m.cv_rmse < 1e-9);
    }

    #[test]
    fn simple_regression_matches_closed_form() {
        // x = 1..10, y with known residuals; slope = Sxy/Sxx, se(slope) = s/√Sxx,
        // se(intercept) = s·√(1/n + x̄²/Sxx).
        let x: Vec<f64> = (1..=10).map(f64::from).collect();
        let y = [2.1, 3.9, 6.2, 7.8, 10.1, 12.2, 13.8, 16.1, 18.0, 20.2];
        let n = 10.0;
        let xb = 5.5;
        let yb = y.iter().sum::<f64>() / n;
        let sxx: f64 = x.iter().map(|x| (x - xb).powi(2)).sum();
        let sxy: f64 = x.iter().zip(&y).map(|(x, y)| (x - xb) * (y - yb)).sum();
        let b1 = sxy / sxx;
        let b0 = yb - b1 * xb;
        let sse: f64 = x
            .iter()
            .zip(&y)
            .map(|(x, y)| (y - b0 - b1 * x).powi(2))
            .sum();
        let s = (sse / (n - 2.0)).sqrt();
        let m = fit(&[&x], &y).unwrap();
        assert!((m.coef[1] - b1).abs() < 1e-12);
        assert!((m.coef[0] - b0).abs() < 1e-12);
        assert!((m.se[1] - s / sxx.sqrt()).abs() < 1e-12);
        assert!((m.se[0] - s * (1.0 / n + xb * xb / sxx).sqrt()).abs() < 1e-12);
        assert!((m.rmse - s).abs() < 1e-12);
        assert!((m.cv_rmse - s / yb).abs() < 1e-12);
        assert!(m.nmbe.abs() < 1e-12, "OLS with an intercept has no bias");
        // F = t² for one driver, and the same p-value.
        let (f, fp) = m.f.unwrap();
        assert!((f - m.t[1] * m.t[1]).abs() < 1e-6 * f);
        assert!((fp - m.p[1]).abs() < 1e-9);
    }

    #[test]
    fn degenerate_inputs_are_errors_not_nan() {
        let x = [5.0; 12];
        let y: Vec<f64> = (0..12).map(f64::from).collect();
        assert_eq!(fit(&[&x], &y).unwrap_err(), FitError::Singular);
        assert!(matches!(
            fit(&[&[1.0, 2.0][..]], &[1.0, 2.0]),
            Err(FitError::TooFewPoints { .. })
        ));
        let zeros = [0.0; 12];
        let x: Vec<f64> = (0..12).map(f64::from).collect();
        assert_eq!(fit(&[&x], &zeros).unwrap_err(), FitError::ZeroMean);
        let mut bad = y.clone();
        bad[3] = f64::NAN;
        assert_eq!(fit(&[&x], &bad).unwrap_err(), FitError::NotFinite(3));
    }

    #[test]
    fn vif_flags_collinear_drivers() {
        let a: Vec<f64> = (0..30).map(|i| f64::from(i % 7)).collect();
        let b: Vec<f64> = (0..30).map(|i| f64::from((i * 3) % 11)).collect();
        let c: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(a, b)| a + b + 0.01 * f64::from(1 - 2 * ((*a as i32) % 2)))
            .collect();
        let v = vif(&[&a, &b]);
        assert!(v.iter().all(|v| v.unwrap() < 2.0), "{v:?}");
        let v = vif(&[&a, &b, &c]);
        assert!(v[2].unwrap() > 100.0, "{v:?}");
    }
}
