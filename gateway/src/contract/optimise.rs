//! The contract capacities that minimise a year's basic plus over-contract charges.
//!
//! Written with the allowances `A_k` (what kind k's periods may draw: regular, + half_peak, +
//! Saturday, + off-peak), the cost separates: the basic charge Σ r_k·C_k is Σ (r_k − r_{k+1})·A_k
//! (r_4 = 0) and each kind's over-contract charge depends on its own A_k only, so the year costs
//! Σ_k g_k(A_k) subject to A_0 ≤ A_1 ≤ A_2 ≤ A_3. Each g_k is piecewise linear with breakpoints at
//! a month's maximum D (no excess below it) and D / (1 + tier fraction) (where a tier starts), so
//! an optimum lies with every A_k on one of those breakpoints: a dynamic programme over the
//! sorted breakpoints with the ordering constraint finds it exactly.

use serde::Serialize;

use super::months::MonthDemand;
use crate::enpi::contract_bill::{allowances, capacities, contracts, month_bill, Capacities};
use crate::enpi::tariff::{Tariff, CONTRACT_KINDS};
use kilowatch_site::config::Contracts;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cost {
    pub capacities: Contracts,
    pub basic: f64,
    pub over_contract: f64,
    pub total: f64,
}

/// A month and contract kind whose demand passes what the kind's periods may draw.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Exceedance {
    pub month: String,
    pub kind: &'static str,
    pub demand_kw: f64,
    pub allowed_kw: f64,
    pub excess_kw: f64,
    pub charge: f64,
}

/// The year's cost as one capacity moves with the others at the optimum.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Curve {
    pub kind: &'static str,
    /// (capacity kW, year's basic + over-contract charges).
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Optimum {
    pub currency: String,
    pub months: Vec<MonthDemand>,
    pub best: Cost,
    /// At the site's contracts, when it has some.
    pub current: Option<Cost>,
    /// current − best.
    pub saving: Option<f64>,
    /// Where the best contracts would have been exceeded.
    pub exceeded: Vec<Exceedance>,
    pub curves: Vec<Curve>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OptimiseError {
    #[error("no months of demand to optimise over")]
    NoMonths,
    #[error("the tariff `{0}` has no basic charge: contracts cost nothing to optimise")]
    NoBasic(String),
    #[error("no demand above 0 kW in the months given")]
    NoDemand,
    #[error("{0}")]
    Bill(String),
}

/// The year's charges at capacities `caps`, and each month's bill.
pub fn year_cost(t: &Tariff, months: &[MonthDemand], caps: &Capacities) -> Result<Cost, String> {
    let (mut basic, mut over) = (0.0, 0.0);
    for m in months {
        let b = month_bill(t, m.season, caps, &m.demand_kw)?;
        basic += b.basic;
        over += b.over_contract;
    }
    Ok(Cost {
        capacities: contracts(caps),
        basic,
        over_contract: over,
        total: basic + over,
    })
}

/// Kind k's part of the year in allowance form: (r_k − r_{k+1})·A summed over the months plus
/// the over-contract charges of its periods.
fn g(t: &Tariff, months: &[MonthDemand], rates: &[[f64; 5]], k: usize, a: f64) -> f64 {
    months
        .iter()
        .zip(rates)
        .map(|(m, r)| {
            let over = m.demand_kw[k].map_or(0.0, |d| t.over_contract_charge(d, a, r[k]));
            (r[k] - r[k + 1]) * a + over
        })
        .sum()
}

/// The optimum over `months`, with the site's `current` contracts for comparison.
pub fn optimise(
    t: &Tariff,
    months: Vec<MonthDemand>,
    current: Option<&Contracts>,
) -> Result<Optimum, OptimiseError> {
    if months.is_empty() {
        return Err(OptimiseError::NoMonths);
    }
    if t.kind_rate(0, 0).is_none() {
        return Err(OptimiseError::NoBasic(t.name.clone()));
    }
    // Kinds the tariff has no rate for keep a capacity of 0 (their allowance is the previous).
    let priced: [bool; 4] = std::array::from_fn(|k| t.kind_rate(k, 0).is_some());
    let rates: Vec<[f64; 5]> = months
        .iter()
        .map(|m| {
            std::array::from_fn(|k| {
                if k < 4 {
                    t.kind_rate(k, m.season).unwrap_or(0.0)
                } else {
                    0.0
                }
            })
        })
        .collect();
    // Unpriced kinds' rate is that of the kind before (their capacity is 0, so r_k − r_{k+1}
    // must move to the priced kind before).
    let rates: Vec<[f64; 5]> = rates
        .into_iter()
        .map(|mut r| {
            for k in 1..4 {
                if !priced[k] {
                    r[k] = r[k - 1];
                }
            }
            r
        })
        .collect();
    let mut xs: Vec<f64> = Vec::new();
    for m in &months {
        for d in m.demand_kw.iter().flatten() {
            xs.push(*d);
            for tier in &t.over_contract {
                xs.push(d / (1.0 + tier.up_to_fraction));
            }
        }
    }
    xs.retain(|x| *x > 0.0 && x.is_finite());
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    if xs.is_empty() {
        return Err(OptimiseError::NoDemand);
    }
    let n = xs.len();
    // best[k][i]: least cost of kinds 0..=k with A_k = xs[i]; from[k][i]: A_{k-1}'s index.
    let mut best = vec![vec![0.0; n]; 4];
    let mut from = vec![vec![0usize; n]; 4];
    for (k, row) in best.iter_mut().enumerate().take(1) {
        for (i, x) in xs.iter().enumerate() {
            row[i] = g(t, &months, &rates, k, *x);
        }
    }
    for k in 1..4 {
        let (done, rest) = best.split_at_mut(k);
        let prev = &done[k - 1];
        let mut run = (f64::INFINITY, 0usize);
        for (i, x) in xs.iter().enumerate() {
            if prev[i] < run.0 {
                run = (prev[i], i);
            }
            let (p, j) = if priced[k] { run } else { (prev[i], i) };
            rest[0][i] = g(t, &months, &rates, k, *x) + p;
            from[k][i] = j;
        }
    }
    let mut i = (0..n)
        .min_by(|a, b| best[3][*a].total_cmp(&best[3][*b]))
        .unwrap_or(0);
    let mut a = [0.0; 4];
    for k in (0..4).rev() {
        a[k] = xs[i];
        i = from[k][i];
    }
    let caps: Capacities = std::array::from_fn(|k| if k == 0 { a[0] } else { a[k] - a[k - 1] });
    let best_cost = year_cost(t, &months, &caps).map_err(OptimiseError::Bill)?;
    let current_cost = current
        .map(|c| year_cost(t, &months, &capacities(c)))
        .transpose()
        .map_err(OptimiseError::Bill)?;
    let exceeded = exceedances(t, &months, &caps).map_err(OptimiseError::Bill)?;
    let curves = CONTRACT_KINDS
        .iter()
        .enumerate()
        .filter(|(k, _)| priced[*k])
        .map(|(k, kind)| curve(t, &months, &caps, k, kind))
        .collect::<Result<Vec<_>, _>>()
        .map_err(OptimiseError::Bill)?;
    Ok(Optimum {
        currency: t.currency.clone(),
        saving: current_cost.as_ref().map(|c| c.total - best_cost.total),
        months,
        best: best_cost,
        current: current_cost,
        exceeded,
        curves,
    })
}

fn exceedances(
    t: &Tariff,
    months: &[MonthDemand],
    caps: &Capacities,
) -> Result<Vec<Exceedance>, String> {
    let mut out = Vec::new();
    for m in months {
        let b = month_bill(t, m.season, caps, &m.demand_kw)?;
        for l in b.lines.iter().filter(|l| l.excess_kw > 0.0) {
            out.push(Exceedance {
                month: m.month.clone(),
                kind: l.kind,
                demand_kw: l.demand_kw.unwrap_or_default(),
                allowed_kw: l.allowed_kw,
                excess_kw: l.excess_kw,
                charge: l.over_contract,
            });
        }
    }
    Ok(out)
}

/// Points of the year's cost with capacity `k` from 60 % to 140 % of what kind k's periods may
/// draw at the optimum (at least ±20 kW), the others fixed.
fn curve(
    t: &Tariff,
    months: &[MonthDemand],
    caps: &Capacities,
    k: usize,
    kind: &'static str,
) -> Result<Curve, String> {
    const STEPS: usize = 40;
    let allowed = allowances(caps)[k];
    let half = (0.4 * allowed).max(20.0);
    let lo = (caps[k] - half).max(if k == 0 { 1.0 } else { 0.0 });
    let hi = caps[k] + half;
    let mut points = Vec::with_capacity(STEPS + 2);
    for s in 0..=STEPS {
        let x = lo + (hi - lo) * s as f64 / STEPS as f64;
        points.push(x);
    }
    points.push(caps[k]);
    points.sort_by(f64::total_cmp);
    points.dedup();
    points
        .into_iter()
        .map(|x| {
            let mut c = *caps;
            c[k] = x;
            year_cost(t, months, &c).map(|cost| (x, cost.total))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|points| Curve { kind, points })
}
