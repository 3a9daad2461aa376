//! Transform stage of M&V: baseline model candidates (mean, linear, 2P, change-point 3P/4P/5P,
//! CalTRACK daily HDD/CDD, time-of-week and temperature for hourly data), their qualification
//! and selection by adjusted R², and prediction of the adjusted baseline.

use chrono::{Datelike, NaiveDateTime, Timelike};
use serde::Serialize;

use super::changepoint::{self, fit_at, hinges, Form as Cp};
use super::frame::{Granularity, VarAgg, VarSpec};
use super::ols::{fit, FitError, Ols};

/// The unit of the temperature driver (balance-point grids are defined in °F by CalTRACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TempUnit {
    #[serde(rename = "°C")]
    C,
    #[serde(rename = "°F")]
    F,
}

impl TempUnit {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "C" | "c" | "°C" => Ok(Self::C),
            "F" | "f" | "°F" => Ok(Self::F),
            _ => Err(format!("`{text}` is not a temperature unit (C or F)")),
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Self::C => "°C",
            Self::F => "°F",
        }
    }

    /// °F to this unit.
    fn of_fahrenheit(self, f: f64) -> f64 {
        match self {
            Self::C => (f - 32.0) * 5.0 / 9.0,
            Self::F => f,
        }
    }

    /// A temperature difference of `df` °F in this unit.
    fn delta_from_f(self, df: f64) -> f64 {
        match self {
            Self::C => df * 5.0 / 9.0,
            Self::F => df,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// E = b0.
    Mean,
    /// E = b0 + Σ bj·varj.
    Linear,
    /// E = b0 + bt·T + Σ bj·varj.
    TwoP,
    ChangePoint(Cp),
    /// CalTRACK daily: UPD = μ + βH·HDD + βC·CDD (one or both terms).
    CalTrack {
        hdd: bool,
        cdd: bool,
    },
    /// Hour-of-week indicators plus piecewise-linear temperature (hourly data).
    TowTemp,
}

pub const FORMS: &[&str] = &[
    "mean",
    "linear",
    "2p",
    "3p-cooling",
    "3p-heating",
    "4p",
    "5p",
    "caltrack-hdd",
    "caltrack-cdd",
    "caltrack-hdd-cdd",
    "tow-temp",
];

impl Form {
    pub fn code(self) -> &'static str {
        match self {
            Form::Mean => "mean",
            Form::Linear => "linear",
            Form::TwoP => "2p",
            Form::ChangePoint(Cp::ThreeCooling) => "3p-cooling",
            Form::ChangePoint(Cp::ThreeHeating) => "3p-heating",
            Form::ChangePoint(Cp::Four) => "4p",
            Form::ChangePoint(Cp::Five) => "5p",
            Form::CalTrack {
                hdd: true,
                cdd: false,
            } => "caltrack-hdd",
            Form::CalTrack { hdd: false, .. } => "caltrack-cdd",
            Form::CalTrack { .. } => "caltrack-hdd-cdd",
            Form::TowTemp => "tow-temp",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "mean" => Form::Mean,
            "linear" => Form::Linear,
            "2p" => Form::TwoP,
            "3p-cooling" => Form::ChangePoint(Cp::ThreeCooling),
            "3p-heating" => Form::ChangePoint(Cp::ThreeHeating),
            "4p" => Form::ChangePoint(Cp::Four),
            "5p" => Form::ChangePoint(Cp::Five),
            "caltrack-hdd" => Form::CalTrack {
                hdd: true,
                cdd: false,
            },
            "caltrack-cdd" => Form::CalTrack {
                hdd: false,
                cdd: true,
            },
            "caltrack-hdd-cdd" => Form::CalTrack {
                hdd: true,
                cdd: true,
            },
            "tow-temp" => Form::TowTemp,
            _ => {
                return Err(format!(
                    "`{text}` is not a model form (one of {})",
                    FORMS.join(", ")
                ))
            }
        })
    }

    pub fn uses_temp(self) -> bool {
        !matches!(self, Form::Mean | Form::Linear)
    }

    pub fn uses_vars(self) -> bool {
        !matches!(self, Form::Mean | Form::CalTrack { .. })
    }
}

/// The drivers of each period, aligned with the energy values.
#[derive(Debug, Clone)]
pub struct Drivers {
    pub granularity: Granularity,
    pub unit: TempUnit,
    pub local: Vec<NaiveDateTime>,
    pub temp: Option<Vec<f64>>,
    pub vars: Vec<(VarSpec, Vec<f64>)>,
}

impl Drivers {
    pub fn len(&self) -> usize {
        self.local.len()
    }

    pub fn is_empty(&self) -> bool {
        self.local.is_empty()
    }
}

/// Hour of the week, 0 = Monday 00:00 local.
fn hour_of_week(t: &NaiveDateTime) -> usize {
    t.weekday().num_days_from_monday() as usize * 24 + t.hour() as usize
}

/// CalTRACK's hourly temperature bin edges (°F), converted.
fn tow_knots(unit: TempUnit) -> Vec<f64> {
    [30.0, 45.0, 55.0, 65.0, 75.0, 90.0]
        .iter()
        .map(|f| unit.of_fahrenheit(*f))
        .collect()
}

/// Piecewise-linear temperature columns at `knots`: T below the first, then the part in each
/// segment, then the part above the last.
fn temp_segments(t: &[f64], knots: &[f64]) -> Vec<Vec<f64>> {
    let mut cols = vec![t.iter().map(|t| t.min(knots[0])).collect::<Vec<_>>()];
    for (i, k) in knots.iter().enumerate() {
        let width = knots.get(i + 1).map(|n| n - k).unwrap_or(f64::INFINITY);
        cols.push(t.iter().map(|t| (t - k).clamp(0.0, width)).collect());
    }
    cols
}

/// A fitted baseline model.
#[derive(Debug, Clone)]
pub struct Model {
    pub form: Form,
    pub balance: Vec<f64>,
    /// Coefficient names: `intercept`, then one per column.
    pub names: Vec<String>,
    pub ols: Ols,
    /// Time-of-week slots with an indicator column (slot 0 is the reference).
    tow_slots: Vec<usize>,
    /// Temperature knots kept for tow-temp.
    knots: Vec<f64>,
    /// Continuous drivers' names and VIF (indicators excluded).
    pub vif: Vec<(String, Option<f64>)>,
}

impl Model {
    /// The design columns for these drivers (baseline or reporting).
    fn columns(&self, d: &Drivers) -> Vec<Vec<f64>> {
        columns(self.form, &self.balance, &self.tow_slots, &self.knots, d).0
    }

    /// Modelled energy for each period of `d`.
    pub fn predict(&self, d: &Drivers) -> Vec<f64> {
        let cols = self.columns(d);
        (0..d.len())
            .map(|i| {
                self.ols.coef[0]
                    + cols
                        .iter()
                        .zip(&self.ols.coef[1..])
                        .map(|(c, b)| c[i] * b)
                        .sum::<f64>()
            })
            .collect()
    }
}

/// Columns, their names and which are continuous (for VIF).
fn columns(
    form: Form,
    balance: &[f64],
    tow_slots: &[usize],
    knots: &[f64],
    d: &Drivers,
) -> (Vec<Vec<f64>>, Vec<String>, Vec<bool>) {
    let mut cols = Vec::new();
    let mut names = Vec::new();
    let mut continuous = Vec::new();
    let temp = d.temp.as_deref().unwrap_or(&[]);
    match form {
        Form::Mean | Form::Linear => {}
        Form::TwoP => {
            cols.push(temp.to_vec());
            names.push("temperature".to_owned());
            continuous.push(true);
        }
        Form::ChangePoint(cp) => {
            let h = hinges(cp, temp, balance);
            let labels: &[&str] = match cp {
                Cp::ThreeCooling => &["cooling_slope"],
                Cp::ThreeHeating => &["heating_slope"],
                Cp::Four | Cp::Five => &["heating_slope", "cooling_slope"],
            };
            for (c, l) in h.into_iter().zip(labels) {
                cols.push(c);
                names.push((*l).to_owned());
                continuous.push(true);
            }
        }
        Form::CalTrack { hdd, cdd } => {
            let mut b = balance.iter();
            if hdd {
                let bh = *b.next().unwrap_or(&0.0);
                cols.push(temp.iter().map(|t| (bh - t).max(0.0)).collect());
                names.push("hdd".to_owned());
                continuous.push(true);
            }
            if cdd {
                let bc = *b.next().unwrap_or(&0.0);
                cols.push(temp.iter().map(|t| (t - bc).max(0.0)).collect());
                names.push("cdd".to_owned());
                continuous.push(true);
            }
        }
        Form::TowTemp => {
            const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
            let how: Vec<usize> = d.local.iter().map(hour_of_week).collect();
            for &s in tow_slots {
                cols.push(how.iter().map(|h| f64::from(u8::from(*h == s))).collect());
                names.push(format!("tow_{}_{:02}h", DAYS[s / 24], s % 24));
                continuous.push(false);
            }
            if !temp.is_empty() && !knots.is_empty() {
                for (i, c) in temp_segments(temp, knots).into_iter().enumerate() {
                    cols.push(c);
                    names.push(format!("temp_segment_{i}"));
                    continuous.push(true);
                }
            }
        }
    }
    if form.uses_vars() {
        for (spec, v) in &d.vars {
            cols.push(v.clone());
            names.push(spec.name.clone());
            continuous.push(true);
        }
    }
    (cols, names, continuous)
}

/// One candidate's outcome, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub form: &'static str,
    pub adj_r2: Option<f64>,
    pub qualified: bool,
    /// Why it did not qualify or could not be fitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error("{0}")]
    Fit(#[from] FitError),
    #[error("the {form} model needs {what}")]
    Needs { form: &'static str, what: String },
    #[error("the {form} model does not qualify: {why}")]
    NotQualified { form: &'static str, why: String },
    #[error("no model qualifies: {0}")]
    NoneQualifies(String),
}

/// Assembles a model from a fit at fixed balance points.
fn finish(
    form: Form,
    balance: Vec<f64>,
    tow_slots: Vec<usize>,
    knots: Vec<f64>,
    d: &Drivers,
    y: &[f64],
) -> Result<Model, FitError> {
    let (cols, names, continuous) = columns(form, &balance, &tow_slots, &knots, d);
    let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let mut ols = fit(&refs, y)?;
    // Balance points are parameters too (ASHRAE Guideline 14's p): a 5P model has five.
    if !balance.is_empty() {
        let p = ols.k + balance.len();
        if ols.n <= p {
            return Err(FitError::TooFewPoints { n: ols.n, k: p });
        }
        let df = (ols.n - p) as f64;
        let ybar = y.iter().sum::<f64>() / y.len() as f64;
        ols.k = p;
        ols.adj_r2 = 1.0 - (1.0 - ols.r2) * (ols.n as f64 - 1.0) / df;
        ols.rmse = (ols.sse / df).sqrt();
        ols.cv_rmse = ols.rmse / ybar;
        ols.nmbe = ols.residuals.iter().sum::<f64>() / (df * ybar);
    }
    let cont: Vec<&[f64]> = refs
        .iter()
        .zip(&continuous)
        .filter(|(_, c)| **c)
        .map(|(r, _)| *r)
        .collect();
    let cont_names: Vec<String> = names
        .iter()
        .zip(&continuous)
        .filter(|(_, c)| **c)
        .map(|(n, _)| n.clone())
        .collect();
    let vif = cont_names.into_iter().zip(super::ols::vif(&cont)).collect();
    Ok(Model {
        form,
        balance,
        names: std::iter::once("intercept".to_owned())
            .chain(names)
            .collect(),
        ols,
        tow_slots,
        knots,
        vif,
    })
}

/// Production-like (summed) variables must raise energy: a negative slope is not physical.
fn var_signs(m: &Model, d: &Drivers) -> Result<(), String> {
    if !m.form.uses_vars() {
        return Ok(());
    }
    let first = m.ols.coef.len() - d.vars.len();
    for ((spec, _), b) in d.vars.iter().zip(&m.ols.coef[first..]) {
        if spec.agg == VarAgg::Sum && *b <= 0.0 {
            return Err(format!(
                "the `{}` slope is {b:.4} (more {} should not lower energy)",
                spec.name, spec.name
            ));
        }
    }
    Ok(())
}

/// Fits one form: its balance-point search and qualification.
pub fn fit_form(form: Form, d: &Drivers, y: &[f64]) -> Result<Model, ModelError> {
    let code = form.code();
    if form.uses_temp() && d.temp.is_none() {
        return Err(ModelError::Needs {
            form: code,
            what: "a temperature series (--temp)".to_owned(),
        });
    }
    if form == Form::Linear && d.vars.is_empty() {
        return Err(ModelError::Needs {
            form: code,
            what: "at least one variable (--var)".to_owned(),
        });
    }
    let temp = d.temp.as_deref().unwrap_or(&[]);
    let extra: Vec<&[f64]> = d.vars.iter().map(|(_, v)| v.as_slice()).collect();
    let model = match form {
        Form::Mean | Form::Linear | Form::TwoP => finish(form, vec![], vec![], vec![], d, y)?,
        Form::ChangePoint(cp) => {
            let found = changepoint::fit_form(cp, temp, &extra, y)?.ok_or_else(|| {
                ModelError::NotQualified {
                    form: code,
                    why: "no balance point gives slopes with the physical signs".to_owned(),
                }
            })?;
            let m = finish(form, found.balance, vec![], vec![], d, y)?;
            // A slope the data cannot distinguish from zero makes this a disguised simpler
            // form: it would win on adjusted R² by chance.
            let slopes = if matches!(cp, Cp::Four | Cp::Five) {
                2
            } else {
                1
            };
            if let Some(p) = m.ols.p[1..=slopes].iter().find(|p| **p >= 0.1) {
                return Err(ModelError::NotQualified {
                    form: code,
                    why: format!("a temperature slope has p = {p:.3} (needs p < 0.1)"),
                });
            }
            m
        }
        Form::CalTrack { hdd, cdd } => caltrack(hdd, cdd, d, y)?,
        Form::TowTemp => {
            if d.granularity != Granularity::Hour {
                return Err(ModelError::Needs {
                    form: code,
                    what: "hourly data (--granularity hour)".to_owned(),
                });
            }
            let mut seen = [false; 168];
            for t in &d.local {
                seen[hour_of_week(t)] = true;
            }
            let slots: Vec<usize> = (1..168).filter(|s| seen[*s]).collect();
            let (lo, hi) = temp
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), t| {
                    (a.min(*t), b.max(*t))
                });
            // Keep knots with data on both sides so no segment column is constant.
            let knots: Vec<f64> = tow_knots(d.unit)
                .into_iter()
                .filter(|k| *k > lo && *k < hi)
                .collect();
            finish(form, vec![], slots, knots, d, y)?
        }
    };
    var_signs(&model, d).map_err(|why| ModelError::NotQualified { form: code, why })?;
    Ok(model)
}

/// CalTRACK daily: balance points on a 1 °F grid over 30–90 °F; HDD and CDD coefficients must be
/// positive with p < 0.1, and each degree-day column needs at least 10 non-zero days and 20 °F·d
/// in total.
fn caltrack(hdd: bool, cdd: bool, d: &Drivers, y: &[f64]) -> Result<Model, ModelError> {
    let form = Form::CalTrack { hdd, cdd };
    let code = form.code();
    if d.granularity != Granularity::Day {
        return Err(ModelError::Needs {
            form: code,
            what: "daily data (--granularity day)".to_owned(),
        });
    }
    let temp = d.temp.as_deref().unwrap_or(&[]);
    let grid: Vec<f64> = (30..=90)
        .map(|f| d.unit.of_fahrenheit(f64::from(f)))
        .collect();
    let min_total = d.unit.delta_from_f(20.0);
    let sufficient = |col: &[f64]| {
        col.iter().filter(|v| **v > 0.0).count() >= 10 && col.iter().sum::<f64>() >= min_total
    };
    let cp = match (hdd, cdd) {
        (true, false) => Cp::ThreeHeating,
        (false, true) => Cp::ThreeCooling,
        _ => Cp::Five,
    };
    let points: Vec<Vec<f64>> = if cp == Cp::Five {
        grid.iter()
            .flat_map(|h| {
                grid.iter()
                    .filter(move |c| *c >= h)
                    .map(move |c| vec![*h, *c])
            })
            .collect()
    } else {
        grid.iter().map(|b| vec![*b]).collect()
    };
    let ranked = changepoint::ranked(cp, temp, &[], y, points)?;
    let mut last = "no balance point on the 30–90 °F grid gives positive slopes".to_owned();
    for (_, b) in ranked.into_iter().take(25) {
        let cols = hinges(cp, temp, &b);
        if let Some(c) = cols.iter().find(|c| !sufficient(c)) {
            let nonzero = c.iter().filter(|v| **v > 0.0).count();
            last = format!(
                "too few degree days at the best balance points ({nonzero} non-zero days; CalTRACK needs 10 and 20 °F·d)"
            );
            continue;
        }
        let ols = fit_at(cp, temp, &[], y, &b)?;
        if let Some(p) = ols.p[1..].iter().find(|p| **p >= 0.1) {
            last = format!("a degree-day coefficient has p = {p:.3} (CalTRACK needs p < 0.1)");
            continue;
        }
        return Ok(finish(form, b, vec![], vec![], d, y)?);
    }
    Err(ModelError::NotQualified {
        form: code,
        why: last,
    })
}

/// The candidate forms for these drivers.
pub fn candidates(d: &Drivers) -> Vec<Form> {
    let mut forms = vec![Form::Mean];
    if !d.vars.is_empty() {
        forms.push(Form::Linear);
    }
    if d.temp.is_some() {
        forms.push(Form::TwoP);
        for cp in [Cp::ThreeCooling, Cp::ThreeHeating, Cp::Four, Cp::Five] {
            forms.push(Form::ChangePoint(cp));
        }
        if d.granularity == Granularity::Day {
            for (hdd, cdd) in [(true, false), (false, true), (true, true)] {
                forms.push(Form::CalTrack { hdd, cdd });
            }
        }
    }
    if d.granularity == Granularity::Hour {
        forms.push(Form::TowTemp);
    }
    forms
}

/// Fits every candidate (or only the forced one) and keeps the best qualifying by adjusted R².
pub fn select(
    d: &Drivers,
    y: &[f64],
    forced: Option<Form>,
) -> Result<(Model, Vec<Candidate>), ModelError> {
    if let Some(form) = forced {
        let m = fit_form(form, d, y)?;
        let c = Candidate {
            form: form.code(),
            adj_r2: Some(m.ols.adj_r2),
            qualified: true,
            reason: None,
        };
        return Ok((m, vec![c]));
    }
    let mut report = Vec::new();
    let mut best: Option<Model> = None;
    let mut first_err = None;
    for form in candidates(d) {
        match fit_form(form, d, y) {
            Ok(m) => {
                report.push(Candidate {
                    form: form.code(),
                    adj_r2: Some(m.ols.adj_r2),
                    qualified: true,
                    reason: None,
                });
                if best.as_ref().is_none_or(|b| m.ols.adj_r2 > b.ols.adj_r2) {
                    best = Some(m);
                }
            }
            Err(e) => {
                report.push(Candidate {
                    form: form.code(),
                    adj_r2: None,
                    qualified: false,
                    reason: Some(e.to_string()),
                });
                first_err.get_or_insert(e);
            }
        }
    }
    match best {
        Some(m) => Ok((m, report)),
        None => Err(match first_err {
            Some(ModelError::Fit(e)) => ModelError::Fit(e),
            Some(e) => ModelError::NoneQualifies(e.to_string()),
            None => ModelError::NoneQualifies("no candidates".to_owned()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::Rng;
    use chrono::NaiveDate;

    /// A year of days: temperature, production (lower on weekends) and energy from `f`.
    pub(crate) fn days(n: usize, f: impl Fn(f64, f64) -> f64, noise: f64) -> (Drivers, Vec<f64>) {
        let mut rng = Rng::new(11);
        let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        let mut local = Vec::new();
        let mut temp = Vec::new();
        let mut prod = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let day = start + chrono::Duration::days(i as i64);
            let season = (2.0 * std::f64::consts::PI * (i as f64 - 200.0) / 365.0).cos();
            let t = 22.0 + 9.0 * season + 2.0 * rng.gauss();
            let p = if day.weekday().num_days_from_monday() >= 5 {
                2000.0 + 300.0 * rng.uniform()
            } else {
                9000.0 + 1500.0 * rng.uniform()
            };
            local.push(day.and_time(Default::default()));
            temp.push(t);
            prod.push(p);
            y.push(f(t, p) + noise * rng.gauss());
        }
        let d = Drivers {
            granularity: Granularity::Day,
            unit: TempUnit::C,
            local,
            temp: Some(temp),
            vars: vec![(VarSpec::parse("units").unwrap(), prod)],
        };
        (d, y)
    }

    #[test]
    fn selection_finds_the_generating_form() {
        // Cooling above 18 °C plus production: a 3P cooling model with a production term.
        let (d, y) = days(
            365,
            |t, p| 800.0 + 40.0 * (t - 18.0).max(0.0) + 0.05 * p,
            10.0,
        );
        let (m, cands) = select(&d, &y, None).unwrap();
        assert_eq!(m.form.code(), "3p-cooling", "{cands:#?}");
        assert!((m.balance[0] - 18.0).abs() < 0.18, "{:?}", m.balance);
        assert!((m.ols.coef[1] - 40.0).abs() < 0.4);
        assert!((m.ols.coef[2] - 0.05).abs() < 0.0005);
        assert_eq!(m.names, ["intercept", "cooling_slope", "units"]);
        // The prediction on the baseline is the fit.
        let p = m.predict(&d);
        assert!(p
            .iter()
            .zip(&m.ols.fitted)
            .all(|(a, b)| (a - b).abs() < 1e-6));
        // CalTRACK CDD on the weather part finds the balance point on its 1 °F grid.
        let weather: Vec<f64> = y
            .iter()
            .zip(&d.vars[0].1)
            .map(|(y, p)| y - 0.05 * p)
            .collect();
        let ct = fit_form(
            Form::CalTrack {
                hdd: false,
                cdd: true,
            },
            &Drivers {
                vars: vec![],
                ..d.clone()
            },
            &weather,
        )
        .unwrap();
        assert!((ct.balance[0] - 18.0).abs() < 0.6, "{:?}", ct.balance);
    }

    #[test]
    fn negative_production_slopes_and_missing_drivers_do_not_qualify() {
        let (d, y) = days(120, |_, p| 5000.0 - 0.1 * p, 5.0);
        let e = fit_form(Form::Linear, &d, &y).unwrap_err();
        assert!(e.to_string().contains("`units` slope"), "{e}");
        let none = Drivers {
            temp: None,
            ..d.clone()
        };
        assert!(fit_form(Form::TwoP, &none, &y)
            .unwrap_err()
            .to_string()
            .contains("--temp"));
        assert!(fit_form(Form::TowTemp, &d, &y)
            .unwrap_err()
            .to_string()
            .contains("hourly"));
        // The mean model always qualifies, so selection still succeeds.
        let (m, _) = select(&d, &y, None).unwrap();
        assert_ne!(m.form, Form::Linear);
    }

    #[test]
    fn time_of_week_captures_shift_patterns_on_hourly_data() {
        let mut rng = Rng::new(3);
        let start = NaiveDate::from_ymd_opt(2025, 3, 3)
            .unwrap()
            .and_time(Default::default());
        let n = 24 * 7 * 8;
        let local: Vec<_> = (0..n)
            .map(|i| start + chrono::Duration::hours(i as i64))
            .collect();
        let temp: Vec<f64> = (0..n)
            .map(|i| {
                20.0 + 6.0 * ((i % 24) as f64 / 24.0 * std::f64::consts::TAU).sin() + rng.gauss()
            })
            .collect();
        let y: Vec<f64> = local
            .iter()
            .zip(&temp)
            .map(|(t, c)| {
                let on = t.weekday().num_days_from_monday() < 5 && (8..18).contains(&t.hour());
                100.0 + if on { 250.0 } else { 0.0 } + 3.0 * (c - 15.0).max(0.0)
            })
            .map(|v| v + 2.0 * rng.gauss())
            .collect();
        let d = Drivers {
            granularity: Granularity::Hour,
            unit: TempUnit::C,
            local,
            temp: Some(temp),
            vars: vec![],
        };
        let (m, _) = select(&d, &y, None).unwrap();
        assert_eq!(m.form, Form::TowTemp);
        assert!(m.ols.r2 > 0.99, "{}", m.ols.r2);
        assert!(m.vif.iter().all(|(n, _)| n.starts_with("temp_segment")));
    }
}
