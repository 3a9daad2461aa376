//! Savings from utility bills when no interval meter existed before the retrofit (CalTRACK
//! billing methods): bills → usage per day and daily temperatures per period → weighted
//! degree-day model on the baseline bills → adjusted baseline of the reporting bills → savings
//! with the ASHRAE Guideline 14 uncertainty and the same verdict as interval data. The report's
//! schema is `kilowatch-mv-billing/1` (README: Savings from bills): the interval report's model,
//! period and savings keys, with one row per bill instead of a series.

use serde::Serialize;

use super::analysis::MvError;
use super::billing_input::{Bills, DailyTemps};
use super::billing_model::{select, BillForm, BillModel, Period};
use super::frame::Zone;
use super::model::TempUnit;
use super::report::{Named, SavingsReport};
use super::savings::uncertainty;
use super::select::Candidate;
use super::verdict::Evidence;
use crate::i18n::Msg;

pub const SCHEMA: &str = "kilowatch-mv-billing/1";

/// CalTRACK's limits on a monthly billing period, in days.
const MIN_DAYS: i64 = 25;
const MAX_DAYS: i64 = 35;
/// Share of a period's days that must have a temperature.
const MIN_TEMP_SHARE: f64 = 0.9;

#[derive(Debug, Clone)]
pub struct BillRequest {
    pub energy_unit: String,
    pub temp_unit: TempUnit,
    pub baseline: (i64, i64),
    pub reporting: (i64, i64),
    pub model: Option<BillForm>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BillModelReport {
    pub form: &'static str,
    pub coefficients: Named,
    pub std_errors: Named,
    pub p_values: Named,
    pub balance_points: Vec<f64>,
    pub r2: f64,
    pub adj_r2: f64,
    /// Percent of the weighted mean usage per day.
    pub cv_rmse: Option<f64>,
    pub nmbe: Option<f64>,
    pub n: usize,
    pub parameters: usize,
    pub autocorrelation: f64,
    pub candidates: Vec<Candidate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BillPeriodReport {
    pub from: String,
    pub to: String,
    /// Bills used.
    pub n: usize,
    /// Bills wholly inside the range.
    pub expected: usize,
    pub days: f64,
    pub actual: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjusted_baseline: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BillRow {
    pub from: String,
    pub to: String,
    pub days: i64,
    pub usage: f64,
    pub usage_per_day: f64,
    pub temperature: Option<f64>,
    pub reporting: bool,
    /// Used by the fit (baseline) or the savings (reporting).
    pub used: bool,
    /// Baseline: the fit; reporting: the adjusted baseline (both for the whole bill).
    pub modelled: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BillingReport {
    pub schema: &'static str,
    pub source: String,
    pub energy_unit: String,
    pub temperature_unit: Option<&'static str>,
    pub time_zone: String,
    pub granularity: &'static str,
    pub model: BillModelReport,
    pub baseline: BillPeriodReport,
    pub reporting: BillPeriodReport,
    pub savings: SavingsReport,
    pub bills: Vec<BillRow>,
    /// In English; `warning_messages` for any language.
    pub warnings: Vec<String>,
    pub warning_messages: Vec<Msg>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn named(names: &[String], v: &[f64]) -> Named {
    Named(
        names
            .iter()
            .zip(v)
            .map(|(n, v)| (n.clone(), finite(*v)))
            .collect(),
    )
}

/// Runs the billing-period verification. `temps` may be empty (mean model only).
pub fn analyse_bills(
    bills: &Bills,
    temps: &DailyTemps,
    req: &BillRequest,
    source: String,
) -> Result<BillingReport, MvError> {
    let zone: Zone = bills.zone;
    let (b0, b1) = req.baseline;
    let (r0, r1) = req.reporting;
    if r0 < b1 && b0 < r1 {
        return Err(MvError::Input(
            "the baseline and reporting periods overlap".to_owned(),
        ));
    }
    let mut warnings = Vec::new();
    let mut rows = Vec::new();
    // (row index, period) of each usable bill.
    let mut base: Vec<(usize, Period)> = Vec::new();
    let mut rep: Vec<(usize, Period)> = Vec::new();
    let (mut base_expected, mut rep_expected) = (0, 0);
    let mut straddling = 0;
    for b in &bills.bills {
        let (d0, d1) = (zone.date(b.from), zone.date(b.to));
        let days = (d1 - d0).num_days().max(1);
        let in_base = b.from >= b0 && b.to <= b1;
        let in_rep = b.from >= r0 && b.to <= r1;
        if !in_base && !in_rep {
            if b.from < b1.max(r1) && b.to > b0.min(r0) {
                straddling += 1;
            }
            continue;
        }
        let temps_in: Vec<f64> = d0
            .iter_days()
            .take_while(|d| *d < d1)
            .filter_map(|d| temps.get(&d).copied())
            .collect();
        let temperature =
            (!temps_in.is_empty()).then(|| temps_in.iter().sum::<f64>() / temps_in.len() as f64);
        let mut note = None;
        if !(MIN_DAYS..=MAX_DAYS).contains(&days) {
            note = Some(format!(
                "{days} days: outside CalTRACK's {MIN_DAYS}–{MAX_DAYS}"
            ));
        }
        let temp_ok = temps.is_empty() || temps_in.len() as f64 >= MIN_TEMP_SHARE * days as f64;
        if !temp_ok {
            note = Some(format!(
                "temperature on {} of {days} days (needs 90 %)",
                temps_in.len()
            ));
        }
        // Odd lengths leave the fit; in the reporting period they still count: savings need
        // all the energy, and the model predicts per day.
        let used = temp_ok && (in_rep || note.is_none());
        let period = Period {
            days: days as f64,
            upd: b.usage / days as f64,
            temps: temps_in,
        };
        if in_base {
            base_expected += 1;
        } else {
            rep_expected += 1;
        }
        if used {
            if in_base { &mut base } else { &mut rep }.push((rows.len(), period));
        }
        rows.push(BillRow {
            from: zone.format(b.from),
            to: zone.format(b.to),
            days,
            usage: b.usage,
            usage_per_day: b.usage / days as f64,
            temperature,
            reporting: in_rep,
            used,
            modelled: None,
            note,
        });
    }
    if straddling > 0 {
        warnings.push(Msg::new("mv-warn-bills-straddling").arg("n", straddling.to_string()));
    }
    for r in rows.iter().filter(|r| r.note.is_some()) {
        let what = if r.reporting {
            "mv-bill-reporting"
        } else {
            "mv-bill-baseline"
        };
        let fate = if r.used {
            "mv-bill-kept"
        } else {
            "mv-bill-left-out"
        };
        warnings.push(
            Msg::new("mv-warn-bill-note")
                .arg("what", Msg::new(what))
                .arg("from", r.from.get(..10).unwrap_or(&r.from))
                .arg("to", r.to.get(..10).unwrap_or(&r.to))
                .arg("note", r.note.as_deref().unwrap_or_default())
                .arg("fate", Msg::new(fate)),
        );
    }
    if base.is_empty() {
        return Err(MvError::Input(
            "the baseline holds no usable bill".to_owned(),
        ));
    }
    if rep.is_empty() {
        return Err(MvError::Input(
            "the reporting period holds no usable bill".to_owned(),
        ));
    }
    if base.len() < 12 {
        warnings.push(Msg::new("mv-warn-few-bills").arg("n", base.len().to_string()));
    }
    if temps.is_empty() {
        warnings.push(Msg::new("mv-warn-no-temperature"));
    }
    let bp: Vec<Period> = base.iter().map(|(_, p)| p.clone()).collect();
    let rp: Vec<Period> = rep.iter().map(|(_, p)| p.clone()).collect();
    let (m, candidates) = select(&bp, req.temp_unit, req.model)
        .map_err(|e| MvError::Input(format!("baseline model: {e}")))?;
    if m.form.code() == "mean" {
        warnings.push(Msg::new("mv-warn-mean-model"));
    }
    for ((i, p), f) in base.iter().zip(&m.fitted) {
        rows[*i].modelled = Some(f * p.days);
    }
    let pred = m.predict(&rp);
    let mut predicted_total = 0.0;
    for ((i, p), f) in rep.iter().zip(&pred) {
        rows[*i].modelled = Some(f * p.days);
        predicted_total += f * p.days;
    }
    let actual: f64 = rp.iter().map(|p| p.upd * p.days).sum();
    let u = uncertainty(m.cv_rmse, m.n, m.params, m.rho, rp.len(), predicted_total);
    let evidence = evidence(&m, &bp, &rp, req.temp_unit, !temps.is_empty());
    let savings = SavingsReport::judged(predicted_total, actual, u, &req.energy_unit, &evidence);
    let period = |(from, to): (i64, i64), ps: &[Period], expected: usize| BillPeriodReport {
        from: zone.format(from),
        to: zone.format(to),
        n: ps.len(),
        expected,
        days: ps.iter().map(|p| p.days).sum(),
        actual: ps.iter().map(|p| p.upd * p.days).sum(),
        adjusted_baseline: None,
    };
    let mut reporting = period(req.reporting, &rp, rep_expected);
    reporting.adjusted_baseline = Some(predicted_total);
    Ok(BillingReport {
        schema: SCHEMA,
        source,
        energy_unit: req.energy_unit.clone(),
        temperature_unit: (!temps.is_empty()).then(|| req.temp_unit.symbol()),
        time_zone: zone.name(),
        granularity: "bill",
        model: BillModelReport {
            form: m.form.code(),
            coefficients: named(&m.names, &m.coef),
            std_errors: named(&m.names, &m.se),
            p_values: named(&m.names, &m.p),
            balance_points: m.balance.clone(),
            r2: m.r2,
            adj_r2: m.adj_r2,
            cv_rmse: finite(100.0 * m.cv_rmse),
            nmbe: finite(100.0 * m.nmbe),
            n: m.n,
            parameters: m.params,
            autocorrelation: m.rho,
            candidates,
        },
        baseline: period(req.baseline, &bp, base_expected),
        reporting,
        savings,
        bills: rows,
        warnings: warnings.iter().map(Msg::en).collect(),
        warning_messages: warnings,
    })
}

/// Where the daily temperatures of a billing verification come from.
pub enum TempSource<'a> {
    None,
    Csv {
        path: &'a std::path::Path,
        time: &'a str,
        column: &'a str,
    },
    Store {
        store: &'a crate::store::Store,
        assets: &'a crate::enpi::Assets,
        series: Option<&'a str>,
    },
}

/// Verification from a bill file, in `zone` (the site's for the store).
pub fn from_bills(
    path: &std::path::Path,
    zone: Zone,
    device: Option<&str>,
    temps: TempSource,
    o: &super::Options,
) -> Result<BillingReport, MvError> {
    let input = |e: String| MvError::Input(e);
    let bills = super::billing_input::read_bills(path, zone, device).map_err(input)?;
    let range = |t: &str, what: &str| {
        super::frame::parse_range(t, zone).map_err(|e| input(format!("{what}: {e}")))
    };
    let baseline = range(&o.baseline, "baseline")?;
    let reporting = range(&o.reporting, "reporting")?;
    let temp_unit = o
        .temp_unit
        .as_deref()
        .map(TempUnit::parse)
        .transpose()
        .map_err(|e| input(format!("temperature unit: {e}")))?
        .unwrap_or(TempUnit::C);
    let model = o
        .model
        .as_deref()
        .map(BillForm::parse)
        .transpose()
        .map_err(|e| input(format!("model: {e}")))?;
    let mut source = bills.source.clone();
    let daily = match temps {
        TempSource::None => DailyTemps::new(),
        TempSource::Csv { path, time, column } => {
            source.push_str(&format!(", temperature `{column}` in {}", path.display()));
            super::billing_input::read_temp_csv(path, time, column, zone).map_err(input)?
        }
        TempSource::Store {
            store,
            assets,
            series,
        } => {
            let from = bills.bills.first().map_or(0, |b| b.from);
            let to = bills.bills.last().map_or(0, |b| b.to);
            let (t, what) = super::billing_input::store_temps(store, assets, series, from, to)
                .map_err(input)?;
            source.push_str(&format!(", {what}"));
            t
        }
    };
    let req = BillRequest {
        energy_unit: o.energy_unit.clone().unwrap_or_else(|| "kWh".to_owned()),
        temp_unit,
        baseline,
        reporting,
        model,
    };
    analyse_bills(&bills, &daily, &req, source)
}

/// Guideline 14's CV(RMSE) limit for monthly models, percent.
const BILL_CV_LIMIT: f64 = 15.0;

/// What the billing verdict weighs: the model's fit (Guideline 14's monthly CV(RMSE), DOE's
/// R² for a weather model), twelve baseline bills (CalTRACK), and the reporting bills' mean
/// temperature inside the baseline bills' range.
fn evidence(
    m: &BillModel,
    base: &[Period],
    rep: &[Period],
    unit: TempUnit,
    temps: bool,
) -> Evidence {
    let mut e = Evidence::default();
    let cv = 100.0 * m.cv_rmse;
    if cv.is_nan() || cv > BILL_CV_LIMIT {
        e.model.push(
            Msg::new("mv-why-bill-cv")
                .arg("cv", format!("{cv:.1}"))
                .arg("limit", BILL_CV_LIMIT.to_string()),
        );
    }
    if m.form.code() != "mean" && m.r2 < 0.5 {
        e.model.push(
            Msg::new("mv-why-model")
                .arg("check", "R²")
                .arg("value", format!("{:.3}", m.r2))
                .arg("limit", "≥ 0.5"),
        );
    }
    if base.len() < 12 {
        e.sufficiency
            .push(Msg::new("mv-why-few-bills").arg("n", base.len().to_string()));
    }
    let mean = |p: &Period| p.temps.iter().sum::<f64>() / p.temps.len().max(1) as f64;
    if temps && m.form.code() != "mean" {
        let b: Vec<f64> = base
            .iter()
            .filter(|p| !p.temps.is_empty())
            .map(mean)
            .collect();
        let r: Vec<f64> = rep
            .iter()
            .filter(|p| !p.temps.is_empty())
            .map(mean)
            .collect();
        if let (false, false) = (b.is_empty(), r.is_empty()) {
            let lo = b.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = b.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let rm = r.iter().sum::<f64>() / r.len() as f64;
            if rm < lo || rm > hi {
                let key = if rm < lo {
                    "mv-why-bill-extrapolation-below"
                } else {
                    "mv-why-bill-extrapolation-above"
                };
                let u = unit.symbol();
                e.extrapolation.push(
                    Msg::new(key)
                        .arg("mean", format!("{rm:.1} {u}"))
                        .arg("range", format!("{lo:.1}–{hi:.1} {u}")),
                );
            }
        }
    }
    e
}
