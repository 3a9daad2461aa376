//! Transform stage of M&V: one baseline model's design (form, calendar terms, balance points,
//! occupancy), its fit and qualification, and its prediction of the adjusted baseline.
//! Choosing among candidates is `select.rs`'s.

use chrono::NaiveDate;

use super::calendar::{self, hour_of_week, DayType, Season};
use super::changepoint::{self, fit_at, hinges, Form as Cp};
use super::frame::{Granularity, VarAgg, VarSpec};
use super::ols::{fit, FitError, Ols};

pub use super::form::{Form, Spec, TempUnit, FORMS};

/// The drivers of each period, aligned with the energy values.
#[derive(Debug, Clone)]
pub struct Drivers {
    pub granularity: Granularity,
    pub unit: TempUnit,
    pub local: Vec<chrono::NaiveDateTime>,
    pub temp: Option<Vec<f64>>,
    pub vars: Vec<(VarSpec, Vec<f64>)>,
    /// The plant's holidays, sorted.
    pub holidays: Vec<NaiveDate>,
}

impl Drivers {
    pub fn len(&self) -> usize {
        self.local.len()
    }

    pub fn is_empty(&self) -> bool {
        self.local.is_empty()
    }

    fn hours_of_week(&self) -> Vec<usize> {
        self.local
            .iter()
            .map(|t| hour_of_week(t, &self.holidays))
            .collect()
    }

    fn day_types(&self) -> Vec<DayType> {
        self.local
            .iter()
            .map(|t| DayType::of(t.date(), &self.holidays))
            .collect()
    }

    fn seasons(&self) -> Vec<Season> {
        self.local.iter().map(|t| Season::of(t.date())).collect()
    }
}

/// Temperature knots of the time-of-week forms: CalTRACK's bin edges (30, 45, 55, 65, 75 and
/// 90 °F), with every 5 °F between 55 and 95 °F, since most of a subtropical year lies in the
/// 75–90 °F bin; bins are merged until each holds 20 hours.
fn tow_knots(unit: TempUnit) -> Vec<f64> {
    let mut f = vec![30.0, 45.0];
    f.extend((0..=8).map(|i| 55.0 + 5.0 * f64::from(i)));
    f.iter().map(|f| unit.of_fahrenheit(*f)).collect()
}

/// Piecewise-linear temperature columns at `knots`: T below the first, then the part in each
/// segment, then the part above the last; T itself without knots.
fn temp_segments(t: &[f64], knots: &[f64]) -> Vec<Vec<f64>> {
    let Some(first) = knots.first() else {
        return vec![t.to_vec()];
    };
    let mut cols = vec![t.iter().map(|t| t.min(*first)).collect::<Vec<_>>()];
    for (i, k) in knots.iter().enumerate() {
        let width = knots.get(i + 1).map(|n| n - k).unwrap_or(f64::INFINITY);
        cols.push(t.iter().map(|t| (t - k).clamp(0.0, width)).collect());
    }
    cols
}

/// Everything the design columns depend on besides the drivers, fixed when the baseline is fitted.
#[derive(Debug, Clone, Default)]
struct Layout {
    balance: Vec<f64>,
    /// Time-of-week slots with an indicator column (the others share the intercept).
    tow_slots: Vec<usize>,
    /// tow-temp: `[knots, -]`; tow-temp-occupancy: `[unoccupied knots, occupied knots]`; a
    /// group with no baseline hours has `None`.
    knots: [Option<Vec<f64>>; 2],
    /// tow-temp-occupancy: whether each hour of the week is occupied.
    occupied: Vec<bool>,
    /// Day types and seasons: the reference level and those with an indicator.
    daytypes: Option<(DayType, Vec<DayType>)>,
    seasons: Option<(Season, Vec<Season>)>,
}

/// How a design column is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    /// A driver judged by its own p-value (DOE) and VIF.
    Continuous,
    /// A time-of-week temperature segment: in the VIF, judged with the model as a whole.
    Segment,
    /// A calendar indicator: judged with the model as a whole.
    Indicator,
}

/// A fitted baseline model.
#[derive(Debug, Clone)]
pub struct Model {
    pub form: Form,
    pub spec: Spec,
    pub balance: Vec<f64>,
    /// Coefficient names: `intercept`, then one per column.
    pub names: Vec<String>,
    pub ols: Ols,
    layout: Layout,
    kinds: Vec<Col>,
    /// Continuous drivers' names and VIF (indicators excluded); filled for the chosen model.
    pub vif: Vec<(String, Option<f64>)>,
}

impl Model {
    /// The design columns for these drivers (baseline or reporting).
    pub fn columns(&self, d: &Drivers) -> Vec<Vec<f64>> {
        columns(self.spec, &self.layout, d).0
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

    /// p-values of the coefficients judged one by one (DOE): continuous drivers, not the
    /// calendar indicators or time-of-week terms.
    pub fn judged_p_values(&self) -> Vec<f64> {
        self.ols.p[1..]
            .iter()
            .zip(&self.kinds)
            .filter(|(_, k)| **k == Col::Continuous && !self.form.is_tow())
            .map(|(p, _)| *p)
            .collect()
    }

    /// Periods of `d` in calendar levels the baseline could not estimate (too few baseline
    /// periods of that day type, season or hour of the week): they are predicted as the
    /// reference level, an extrapolation. A flag per period, and what they were with counts.
    pub fn unseen(&self, d: &Drivers) -> (Vec<bool>, Vec<(String, usize)>) {
        let mut mask = vec![false; d.len()];
        let mut what = Vec::new();
        let mut mark = |flags: Vec<Option<String>>| {
            let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
            for (i, f) in flags.into_iter().enumerate() {
                if let Some(name) = f {
                    mask[i] = true;
                    *counts.entry(name).or_default() += 1;
                }
            }
            what.extend(counts);
        };
        if let Some((r, o)) = &self.layout.daytypes {
            mark(
                d.day_types()
                    .into_iter()
                    .map(|t| (t != *r && !o.contains(&t)).then(|| format!("{} days", t.name())))
                    .collect(),
            );
        }
        if let Some((r, o)) = &self.layout.seasons {
            mark(
                d.seasons()
                    .into_iter()
                    .map(|t| (t != *r && !o.contains(&t)).then(|| format!("{} days", t.name())))
                    .collect(),
            );
        }
        if self.form.is_tow() {
            let slots = &self.layout.tow_slots;
            mark(
                d.hours_of_week()
                    .into_iter()
                    .map(|h| {
                        (h != 0 && !slots.contains(&h))
                            .then(|| "hours of the week absent from the baseline".to_owned())
                    })
                    .collect(),
            );
        }
        (mask, what)
    }

    /// Computes the VIF of the continuous drivers (costly: kept for the chosen model).
    pub fn with_vif(mut self, d: &Drivers) -> Self {
        let cols = self.columns(d);
        let (refs, names): (Vec<&[f64]>, Vec<String>) = cols
            .iter()
            .zip(&self.kinds)
            .zip(&self.names[1..])
            .filter(|((_, k), _)| **k != Col::Indicator)
            .map(|((c, _), n)| (c.as_slice(), n.clone()))
            .unzip();
        self.vif = names.into_iter().zip(super::ols::vif(&refs)).collect();
        self
    }
}

fn push(out: &mut (Vec<Vec<f64>>, Vec<String>, Vec<Col>), col: Vec<f64>, name: String, kind: Col) {
    out.0.push(col);
    out.1.push(name);
    out.2.push(kind);
}

/// Columns, their names and how each is judged.
fn columns(spec: Spec, l: &Layout, d: &Drivers) -> (Vec<Vec<f64>>, Vec<String>, Vec<Col>) {
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    let temp = d.temp.as_deref().unwrap_or(&[]);
    match spec.form {
        Form::Mean | Form::Linear => {}
        Form::TwoP => push(
            &mut out,
            temp.to_vec(),
            "temperature".into(),
            Col::Continuous,
        ),
        Form::ChangePoint(cp) => {
            let labels: &[&str] = match cp {
                Cp::ThreeCooling => &["cooling_slope"],
                Cp::ThreeHeating => &["heating_slope"],
                Cp::Four | Cp::Five => &["heating_slope", "cooling_slope"],
            };
            for (c, name) in hinges(cp, temp, &l.balance).into_iter().zip(labels) {
                push(&mut out, c, (*name).into(), Col::Continuous);
            }
        }
        Form::CalTrack { hdd, cdd } => {
            let mut b = l.balance.iter();
            if hdd {
                let bh = *b.next().unwrap_or(&0.0);
                let c = temp.iter().map(|t| (bh - t).max(0.0)).collect();
                push(&mut out, c, "hdd".into(), Col::Continuous);
            }
            if cdd {
                let bc = *b.next().unwrap_or(&0.0);
                let c = temp.iter().map(|t| (t - bc).max(0.0)).collect();
                push(&mut out, c, "cdd".into(), Col::Continuous);
            }
        }
        Form::TowTemp | Form::TowTempOcc => {
            const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
            let how = d.hours_of_week();
            for &s in &l.tow_slots {
                let c = how.iter().map(|h| f64::from(u8::from(*h == s))).collect();
                let name = format!("tow_{}_{:02}h", DAYS[s / 24], s % 24);
                push(&mut out, c, name, Col::Indicator);
            }
            if spec.form == Form::TowTemp {
                if let Some(k) = l.knots[0]
                    .as_ref()
                    .filter(|k| !k.is_empty() && !temp.is_empty())
                {
                    for (i, c) in temp_segments(temp, k).into_iter().enumerate() {
                        push(&mut out, c, format!("temp_segment_{i}"), Col::Segment);
                    }
                }
            } else {
                for (group, name) in [(false, "unoccupied"), (true, "occupied")] {
                    let Some(k) = &l.knots[usize::from(group)] else {
                        continue;
                    };
                    let mask: Vec<bool> = how.iter().map(|h| l.occupied[*h] == group).collect();
                    for (i, c) in temp_segments(temp, k).into_iter().enumerate() {
                        let c = c.iter().zip(&mask).map(|(v, m)| if *m { *v } else { 0.0 });
                        push(
                            &mut out,
                            c.collect(),
                            format!("temp_{name}_{i}"),
                            Col::Segment,
                        );
                    }
                }
            }
        }
    }
    if let Some((_, levels)) = &l.daytypes {
        let types = d.day_types();
        for lv in levels {
            let c = types.iter().map(|t| f64::from(u8::from(t == lv))).collect();
            push(&mut out, c, lv.name().into(), Col::Indicator);
        }
    }
    if let Some((_, levels)) = &l.seasons {
        let seasons = d.seasons();
        for lv in levels {
            let c = seasons
                .iter()
                .map(|t| f64::from(u8::from(t == lv)))
                .collect();
            push(&mut out, c, lv.name().into(), Col::Indicator);
        }
    }
    if spec.form.uses_vars() {
        for (spec, v) in &d.vars {
            push(&mut out, v.clone(), spec.name.clone(), Col::Continuous);
        }
    }
    out
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error("{0}")]
    Fit(#[from] FitError),
    #[error("the {form} model needs {what}")]
    Needs { form: String, what: String },
    #[error("the {form} model does not qualify: {why}")]
    NotQualified { form: String, why: String },
    #[error("no model qualifies: {0}")]
    NoneQualifies(String),
}

/// Assembles a model from a fit at fixed balance points.
fn finish(spec: Spec, layout: Layout, d: &Drivers, y: &[f64]) -> Result<Model, FitError> {
    let (cols, names, kinds) = columns(spec, &layout, d);
    let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let mut ols = fit(&refs, y)?;
    // Balance points are parameters too (ASHRAE Guideline 14's p): a 5P model has five.
    if !layout.balance.is_empty() {
        let p = ols.k + layout.balance.len();
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
    Ok(Model {
        form: spec.form,
        spec,
        balance: layout.balance.clone(),
        names: std::iter::once("intercept".to_owned())
            .chain(names)
            .collect(),
        ols,
        layout,
        kinds,
        vif: Vec::new(),
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

/// The calendar part of the layout: day types need 3 baseline days of a type, seasons 10.
fn calendar_layout(spec: Spec, d: &Drivers) -> Result<Layout, ModelError> {
    let needs = |what: &str| ModelError::Needs {
        form: spec.code(),
        what: what.to_owned(),
    };
    let mut l = Layout::default();
    if (spec.daytype || spec.season) && d.granularity != Granularity::Day {
        return Err(needs("daily data (--granularity day)"));
    }
    if spec.daytype {
        let lv = calendar::levels(&d.day_types(), &DayType::ALL, 3);
        if lv.1.is_empty() {
            return Err(needs("baseline days of more than one day type"));
        }
        l.daytypes = Some(lv);
    }
    if spec.season {
        let lv = calendar::levels(&d.seasons(), &Season::ALL, 10);
        if lv.1.is_empty() {
            return Err(needs("at least 10 baseline days in more than one season"));
        }
        l.seasons = Some(lv);
    }
    Ok(l)
}

/// Fits one form: its balance-point search and qualification.
pub fn fit_form(spec: Spec, d: &Drivers, y: &[f64]) -> Result<Model, ModelError> {
    let form = spec.form;
    let code = spec.code();
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
    let mut layout = calendar_layout(spec, d)?;
    let model = match form {
        Form::Mean | Form::Linear | Form::TwoP => finish(spec, layout, d, y)?,
        Form::ChangePoint(cp) => {
            // The search sees the calendar and the variables beside the hinge terms.
            let (cols, _, _) = columns(Spec::plain(Form::Linear), &layout, d);
            let extra: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
            let found = changepoint::fit_form(cp, temp, &extra, y)?.ok_or_else(|| {
                ModelError::NotQualified {
                    form: code.clone(),
                    why: "no balance point gives slopes with the physical signs".to_owned(),
                }
            })?;
            layout.balance = found.balance;
            let m = finish(spec, layout, d, y)?;
            // A slope the data cannot distinguish from zero makes this a disguised simpler
            // form: it would win on fit by chance.
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
        Form::TowTemp | Form::TowTempOcc => {
            if d.granularity != Granularity::Hour {
                return Err(ModelError::Needs {
                    form: code,
                    what: "hourly data (--granularity hour)".to_owned(),
                });
            }
            let how = d.hours_of_week();
            let mut seen = [false; 168];
            for h in &how {
                seen[*h] = true;
            }
            layout.tow_slots = (1..168).filter(|s| seen[*s]).collect();
            let grid = tow_knots(d.unit);
            if form == Form::TowTemp {
                layout.knots[0] = Some(calendar::knots(temp, &grid, 20));
            } else {
                let heat = d.unit.of_fahrenheit(50.0);
                let cool = d.unit.of_fahrenheit(65.0);
                let occupied = calendar::occupancy(&how, temp, y, heat, cool).ok_or_else(|| {
                    ModelError::NotQualified {
                        form: code.clone(),
                        why: "the occupancy fit on degree-hours failed".to_owned(),
                    }
                })?;
                for group in [false, true] {
                    let t: Vec<f64> = how
                        .iter()
                        .zip(temp)
                        .filter(|(h, _)| occupied[**h] == group)
                        .map(|(_, t)| *t)
                        .collect();
                    // A group with too few hours for one slope shares the time-of-week terms only.
                    layout.knots[usize::from(group)] =
                        (t.len() >= 20).then(|| calendar::knots(&t, &grid, 20));
                }
                if occupied.iter().all(|o| *o) || occupied.iter().all(|o| !*o) {
                    return Err(ModelError::NotQualified {
                        form: code,
                        why: "every hour of the week has the same occupancy: tow-temp is the same model".to_owned(),
                    });
                }
                layout.occupied = occupied;
            }
            finish(spec, layout, d, y)?
        }
    };
    var_signs(&model, d).map_err(|why| ModelError::NotQualified { form: code, why })?;
    Ok(model)
}

/// CalTRACK daily: balance points on a 1 °F grid over 30–90 °F; HDD and CDD coefficients must be
/// positive with p < 0.1, and each degree-day column needs at least 10 non-zero days and 20 °F·d
/// in total.
fn caltrack(hdd: bool, cdd: bool, d: &Drivers, y: &[f64]) -> Result<Model, ModelError> {
    let spec = Spec::plain(Form::CalTrack { hdd, cdd });
    let code = spec.code();
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
        let layout = Layout {
            balance: b,
            ..Layout::default()
        };
        return Ok(finish(spec, layout, d, y)?);
    }
    Err(ModelError::NotQualified {
        form: code,
        why: last,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::mv::select::select;
    use crate::sim::rng::Rng;
    use chrono::NaiveDate;
    use chrono::{Datelike, Timelike};

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
            holidays: vec![],
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
            Spec::plain(Form::CalTrack {
                hdd: false,
                cdd: true,
            }),
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
        let e = fit_form(Spec::plain(Form::Linear), &d, &y).unwrap_err();
        assert!(e.to_string().contains("`units` slope"), "{e}");
        let none = Drivers {
            temp: None,
            ..d.clone()
        };
        assert!(fit_form(Spec::plain(Form::TwoP), &none, &y)
            .unwrap_err()
            .to_string()
            .contains("--temp"));
        assert!(fit_form(Spec::plain(Form::TowTemp), &d, &y)
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
            holidays: vec![],
        };
        let (m, _) = select(&d, &y, None).unwrap();
        assert_eq!(m.form, Form::TowTemp);
        assert!(m.ols.r2 > 0.99, "{}", m.ols.r2);
        assert!(m.vif.iter().all(|(n, _)| n.starts_with("temp_segment")));
    }
}
