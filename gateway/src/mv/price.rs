//! Priced savings: the avoided energy of each reporting period valued at the site's time-of-use
//! tariff, the over-contract demand charge avoided (an estimate), the power-factor adjustment
//! of the saved charges, and the CO2e avoided at the dated grid factor of each year.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::frame::{Granularity, Raw};
use crate::enpi::emission::EmissionFactors;
use crate::enpi::tariff::Tariff;
use crate::i18n::{Arg, Msg};

const HOUR_MS: i64 = 3_600_000;
const QUARTER_MS: i64 = 900_000;

/// What prices the savings.
#[derive(Debug, Clone, Default)]
pub struct Pricing {
    pub tariff: Option<Tariff>,
    pub factors: Option<EmissionFactors>,
    /// Contract capacity (kW) the demand charge is billed against; `None`: demand not priced.
    pub contract_kw: Option<f64>,
    /// Why demand is not priced although a contract exists (a sub-metered asset).
    pub no_demand: Option<Msg>,
    /// Measured power factor by billing month (`2026-07`); `None`: no reactive data.
    pub power_factor: Option<BTreeMap<String, f64>>,
}

/// One reporting period's energy: measured and adjusted baseline.
#[derive(Debug, Clone, Copy)]
pub struct Avoided {
    pub start: i64,
    pub end: i64,
    pub actual: f64,
    pub adjusted: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PeriodCost {
    pub period: String,
    pub season: String,
    pub kwh: f64,
    pub rate: f64,
    pub cost: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DemandMonth {
    pub month: String,
    pub actual_peak_kw: f64,
    /// Actual peak plus the avoided average kW over the month's dearest TOU period: an estimate.
    pub baseline_peak_kw_estimate: f64,
    pub contract_kw: f64,
    pub basic_rate: f64,
    /// Over-contract charge avoided.
    pub cost: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FactorUsed {
    pub year: i32,
    pub factor: f64,
    /// The year the factor was published for (the latest not after `year`).
    pub source_year: i32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PricedSavings {
    pub currency: String,
    pub tariff: String,
    pub by_period: Vec<PeriodCost>,
    pub energy_cost: f64,
    pub demand: Vec<DemandMonth>,
    /// `None` when demand could not be priced (see `assumptions`).
    pub demand_cost: Option<f64>,
    pub pf_adjustment: f64,
    pub total: f64,
    pub co2e_kg: Option<f64>,
    pub emission_factors: Vec<FactorUsed>,
    /// In English; `assumption_messages` for any language.
    pub assumptions: Vec<String>,
    pub assumption_messages: Vec<Msg>,
}

/// A share of one period's avoided energy: TOU period, season, billing month.
type Key = (usize, usize, (i32, u32));

fn month_of(d: NaiveDate) -> (i32, u32) {
    (d.year(), d.month())
}

fn month_text((y, m): (i32, u32)) -> String {
    format!("{y:04}-{m:02}")
}

/// The TOU weights of [start, end): the measured energy of each observation by its period,
/// or (hourly models, or no usable measured shape) the hours themselves.
fn weights(raw: &Raw, g: Granularity, t: &Tariff, a: &Avoided) -> (BTreeMap<Key, f64>, bool) {
    let key = |ms: i64| {
        let local = raw.zone.local(ms);
        let (p, s) = t.classify(local);
        (p, s, month_of(local.date()))
    };
    let mut w: BTreeMap<Key, f64> = BTreeMap::new();
    if g == Granularity::Hour {
        w.insert(key(a.start), 1.0);
        return (w, true);
    }
    if raw.interval <= HOUR_MS {
        let from = raw.obs.partition_point(|o| o.ts < a.start);
        let to = raw.obs.partition_point(|o| o.ts < a.end);
        for o in &raw.obs[from..to] {
            if let Some(e) = o.energy.filter(|e| *e > 0.0) {
                *w.entry(key(o.ts)).or_default() += e;
            }
        }
        if !w.is_empty() {
            return (w, true);
        }
    }
    let mut ms = a.start;
    while ms < a.end {
        *w.entry(key(ms)).or_default() += 1.0;
        ms += HOUR_MS;
    }
    (w, false)
}

/// Highest 15-minute average kW of the measured energy per billing month, over the periods.
fn peaks(raw: &Raw, periods: &[Avoided]) -> BTreeMap<(i32, u32), f64> {
    let mut blocks: BTreeMap<i64, (f64, i64)> = BTreeMap::new();
    for a in periods {
        let from = raw.obs.partition_point(|o| o.ts < a.start);
        let to = raw.obs.partition_point(|o| o.ts < a.end);
        for o in &raw.obs[from..to] {
            if let Some(e) = o.energy {
                let b = blocks.entry(o.ts.div_euclid(QUARTER_MS)).or_default();
                b.0 += e;
                b.1 += raw.interval;
            }
        }
    }
    let mut out: BTreeMap<(i32, u32), f64> = BTreeMap::new();
    for (q, (kwh, covered)) in blocks {
        // Only whole quarter-hours are a demand reading.
        if covered != QUARTER_MS {
            continue;
        }
        let m = month_of(raw.zone.date(q * QUARTER_MS));
        let kw = kwh * 4.0;
        let peak = out.entry(m).or_insert(kw);
        *peak = peak.max(kw);
    }
    out
}

/// The catalogue's word for one period of `g`.
fn step_key(g: Granularity) -> &'static str {
    match g {
        Granularity::Hour => "bl-step-hour",
        Granularity::Day => "bl-step-day",
        Granularity::Week => "bl-step-week",
        Granularity::Month => "bl-step-month",
    }
}

/// The catalogue's word for periods of `g`, plural.
fn steps_key(g: Granularity) -> &'static str {
    match g {
        Granularity::Hour => "mv-steps-hour",
        Granularity::Day => "mv-steps-day",
        Granularity::Week => "mv-steps-week",
        Granularity::Month => "mv-steps-month",
    }
}

/// Prices the avoided energy of `periods` (the reporting periods the model used).
pub fn price(raw: &Raw, g: Granularity, periods: &[Avoided], p: &Pricing) -> Option<PricedSavings> {
    let t = p.tariff.as_ref()?;
    let names = t.period_names();
    let seasons = t.season_names();
    let source = match &t.source {
        Some(s) => Arg::from(s.as_str()),
        None => Msg::new("mvr-as-no-source").into(),
    };
    let step = Msg::new(step_key(g));
    let mut assumptions = vec![Msg::new("mvr-as-tariff")
        .arg("tariff", t.name.as_str())
        .arg("source", source)
        .arg("step", step.clone())];
    let mut kwh: BTreeMap<Key, f64> = BTreeMap::new();
    let mut hours: BTreeMap<Key, f64> = BTreeMap::new();
    let mut flat = 0;
    for a in periods {
        let avoided = a.adjusted - a.actual;
        let (w, shaped) = weights(raw, g, t, a);
        flat += usize::from(!shaped);
        let total: f64 = w.values().sum();
        for (k, v) in w {
            *kwh.entry(k).or_default() += avoided * v / total;
        }
        let mut ms = a.start;
        while ms < a.end {
            let local = raw.zone.local(ms);
            let (tp, s) = t.classify(local);
            *hours.entry((tp, s, month_of(local.date()))).or_default() += 1.0;
            ms += HOUR_MS;
        }
    }
    let n = periods.len();
    if g == Granularity::Hour {
        assumptions.push(Msg::new("mvr-as-hourly"));
    } else if flat < n {
        assumptions.push(Msg::new("mvr-as-shaped").arg("step", step.clone()));
    }
    if g != Granularity::Hour && flat > 0 {
        assumptions.push(
            Msg::new("mvr-as-flat")
                .arg("flat", flat.to_string())
                .arg("n", n.to_string())
                .arg("steps", Msg::new(steps_key(g))),
        );
    }
    let mut rows: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    let mut month_cost: BTreeMap<(i32, u32), f64> = BTreeMap::new();
    let mut year_kwh: BTreeMap<i32, f64> = BTreeMap::new();
    for (&(tp, s, m), v) in &kwh {
        *rows.entry((tp, s)).or_default() += v;
        *month_cost.entry(m).or_default() += v * t.rate(tp, s);
        *year_kwh.entry(m.0).or_default() += v;
    }
    let by_period: Vec<PeriodCost> = rows
        .iter()
        .map(|(&(tp, s), &v)| PeriodCost {
            period: names[tp].to_owned(),
            season: seasons[s].to_owned(),
            kwh: v,
            rate: t.rate(tp, s),
            cost: v * t.rate(tp, s),
        })
        .collect();
    let energy_cost: f64 = by_period.iter().map(|r| r.cost).sum();

    let (demand, demand_cost) = demand(raw, t, periods, p, &kwh, &hours, &mut assumptions);
    let mut pf_adjustment = 0.0;
    match (&t.power_factor, &p.power_factor) {
        (None, _) => assumptions.push(Msg::new("mvr-as-no-pf-rule")),
        (Some(_), None) => assumptions.push(Msg::new("mvr-as-no-pf-measured")),
        (Some(rule), Some(pf)) => {
            for (m, cost) in &month_cost {
                let saved = cost
                    + demand
                        .iter()
                        .find(|d| d.month == month_text(*m))
                        .map_or(0.0, |d| d.cost);
                match pf.get(&month_text(*m)) {
                    Some(f) => pf_adjustment += saved * rule.adjustment(*f),
                    None => assumptions
                        .push(Msg::new("mvr-as-no-pf-month").arg("month", month_text(*m))),
                }
            }
            assumptions.push(Msg::new("mvr-as-pf"));
        }
    }
    let (co2e_kg, emission_factors) = match &p.factors {
        None => {
            assumptions.push(Msg::new("mvr-as-no-factors"));
            (None, vec![])
        }
        Some(f) => {
            let used: Vec<FactorUsed> = year_kwh
                .keys()
                .map(|&year| {
                    let (factor, source_year) = f.factor(year);
                    FactorUsed {
                        year,
                        factor,
                        source_year,
                    }
                })
                .collect();
            let kg = used.iter().map(|u| year_kwh[&u.year] * u.factor).sum();
            assumptions.push(Msg::new("mvr-as-factors").arg("factors", f.name.as_str()));
            (Some(kg), used)
        }
    };
    Some(PricedSavings {
        currency: t.currency.clone(),
        tariff: t.name.clone(),
        by_period,
        energy_cost,
        total: energy_cost + demand_cost.unwrap_or(0.0) + pf_adjustment,
        demand,
        demand_cost,
        pf_adjustment,
        co2e_kg,
        emission_factors,
        assumptions: assumptions.iter().map(Msg::en).collect(),
        assumption_messages: assumptions,
    })
}

/// The over-contract charge avoided per billing month, or why it cannot be priced.
fn demand(
    raw: &Raw,
    t: &Tariff,
    periods: &[Avoided],
    p: &Pricing,
    kwh: &BTreeMap<Key, f64>,
    hours: &BTreeMap<Key, f64>,
    assumptions: &mut Vec<Msg>,
) -> (Vec<DemandMonth>, Option<f64>) {
    let why_not: Option<Arg> = if let Some(why) = &p.no_demand {
        Some(why.clone().into())
    } else if raw.interval > QUARTER_MS {
        Some(
            Msg::new("mvr-as-coarse-demand")
                .arg("minutes", (raw.interval / 60_000).to_string())
                .into(),
        )
    } else if p.contract_kw.is_none() {
        Some(Msg::new("mvr-as-no-contract").into())
    } else if t.basic_rate(NaiveDate::MIN).is_none() {
        Some(Msg::new("mvr-as-no-basic").into())
    } else {
        None
    };
    if let Some(why) = why_not {
        assumptions.push(Msg::new("mvr-as-demand-not-priced").arg("why", why));
        return (vec![], None);
    }
    let contract = p.contract_kw.unwrap_or_default();
    let mut out = Vec::new();
    for (m, actual) in peaks(raw, periods) {
        // The month's dearest TOU period with hours: where the peak the measure cut would sit.
        let dearest = hours
            .iter()
            .filter(|((_, _, mm), h)| *mm == m && **h > 0.0)
            .max_by(|a, b| t.rate(a.0 .0, a.0 .1).total_cmp(&t.rate(b.0 .0, b.0 .1)));
        let Some((&key, &h)) = dearest else { continue };
        let avoided_kw = kwh.get(&key).copied().unwrap_or_default() / h;
        let first = NaiveDate::from_ymd_opt(m.0, m.1, 1).unwrap_or_default();
        let rate = t.basic_rate(first).unwrap_or_default();
        let baseline = actual + avoided_kw;
        out.push(DemandMonth {
            month: month_text(m),
            actual_peak_kw: actual,
            baseline_peak_kw_estimate: baseline,
            contract_kw: contract,
            basic_rate: rate,
            cost: t.over_contract_charge(baseline, contract, rate)
                - t.over_contract_charge(actual, contract, rate),
        });
    }
    assumptions.push(Msg::new("mvr-as-demand").arg("contract", contract.to_string()));
    let total = out.iter().map(|d| d.cost).sum();
    (out, Some(total))
}

#[cfg(test)]
#[path = "price_tests.rs"]
mod tests;
