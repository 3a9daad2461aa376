//! Transform stage: the facts of every quarter-hour of one asset, from its input columns.

use std::sync::Arc;

use chrono::{Datelike, TimeZone, Timelike};

use super::assets::{AssetSpec, Assets, ChillerSpec, CompressorSpec, PlantSpec, Window};
use super::contract_bill::allowances;
use super::facts::{period_cost, period_demand, period_kwh, Facts, F};
use super::inputs::{Col, Loader};
use super::tariff::contract_kind;
use super::utility_inputs::{zip, KWH_PER_M3_K};
use crate::store::StoreError;

pub use super::defs::KW_PER_TR;
/// Hours per quarter.
const QH: f64 = 0.25;
pub const NO_CONTRACT: &str =
    "no contract capacity configured (site.contract_kw or [site.contracts])";

fn r(text: &str) -> Arc<str> {
    Arc::from(text)
}

fn local(assets: &Assets, ts: i64) -> chrono::NaiveDateTime {
    assets
        .timezone
        .timestamp_millis_opt(ts)
        .single()
        .map(|t| t.naive_local())
        .unwrap_or_default()
}

fn in_windows(windows: &[Window], t: chrono::NaiveDateTime) -> bool {
    let day = t.weekday().num_days_from_monday() as usize;
    let m = t.hour() * 60 + t.minute();
    windows
        .iter()
        .any(|w| w.days[day] && w.minutes.iter().any(|&(a, b)| a <= m && m < b))
}

/// Facts of every quarter of the loader's grid for asset `idx`.
pub fn quarter_facts(
    loader: &mut Loader<'_>,
    assets: &Assets,
    idx: usize,
) -> Result<Vec<Facts>, StoreError> {
    let n = loader.grid.n;
    let mut out: Vec<Facts> = (0..n).map(|_| Facts::quarter()).collect();
    match &assets.list[idx] {
        AssetSpec::Compressor(c) => compressor(loader, assets, &assets.idle[idx], c, &mut out)?,
        AssetSpec::Chiller(c) => chiller(loader, c, &mut out)?,
        AssetSpec::Plant(p) => plant(loader, assets, p, &mut out)?,
        AssetSpec::Utility(u) => u.facts(loader, &assets.utility_site(), &mut out)?,
    }
    Ok(out)
}

fn compressor(
    loader: &mut Loader<'_>,
    assets: &Assets,
    idle_windows: &[Window],
    c: &CompressorSpec,
    out: &mut [Facts],
) -> Result<(), StoreError> {
    let grid = loader.grid;
    let kwh = loader.sum(&c.power, |l, d| l.energy(d))?;
    let air: Option<Col> = match &c.flow {
        Some(f) if f.quantity == "air_volume" => Some(loader.delta(&f.device, &f.quantity)?),
        // m³/min × h × 60 min/h = m³
        Some(f) => Some(
            loader
                .integral(&f.device, &f.quantity)?
                .into_iter()
                .map(|v| v.map(|x| x * 60.0))
                .collect(),
        ),
        None => None,
    };
    // Loaded and running hours, load cycles.
    let (loaded, run, cycles): (Col, Col, Col) = if let Some(s) = &c.load_state {
        let hours = loader.integral(&s.device, &s.quantity)?;
        let run = hours.iter().map(|h| h.clone().map(|_| QH)).collect();
        (hours, run, loader.delta(&s.device, &s.quantity)?)
    } else if let Some(p) = &c.load_from_power {
        let e = loader.energy(&p.device)?;
        let mut loaded = Vec::with_capacity(grid.n);
        let mut run = Vec::with_capacity(grid.n);
        for v in &e {
            match v {
                Ok(kwh) => {
                    let kw = kwh / QH;
                    // Below half the unloaded power the compressor was stopped (most of) the
                    // quarter: neither loaded nor running.
                    if kw < 0.5 * p.unloaded_kw {
                        loaded.push(Ok(0.0));
                        run.push(Ok(0.0));
                    } else {
                        let f =
                            ((kw - p.unloaded_kw) / (p.loaded_kw - p.unloaded_kw)).clamp(0.0, 1.0);
                        loaded.push(Ok(f * QH));
                        run.push(Ok(QH));
                    }
                }
                Err(e) => {
                    loaded.push(Err(e.clone()));
                    run.push(Err(e.clone()));
                }
            }
        }
        let why = r("load cycles need the compressor's load signal (load_state), e.g. from the kilowatch meter board");
        (loaded, run, vec![Err(why); grid.n])
    } else {
        let why = r("no load signal: configure load_state or load_from_power for this compressor");
        (
            vec![Err(why.clone()); grid.n],
            vec![Err(why.clone()); grid.n],
            vec![Err(why); grid.n],
        )
    };
    // Quarters without production demand.
    let production = match &c.production {
        Some(p) => Some(loader.delta(&p.device, &p.quantity)?),
        None => None,
    };
    let no_idle_rule = r("no production counter or idle schedule configured for leak detection");
    let pressure = match &c.pressure {
        Some(p) => Some((loader.avg(p)?, loader.min(p)?, loader.max(p)?)),
        None => None,
    };
    for (i, f) in out.iter_mut().enumerate() {
        f.set(F::KWH, kwh[i].clone());
        f.set(F::LOADED_H, loaded[i].clone());
        f.set(F::RUN_H, run[i].clone());
        f.set(F::CYCLES, cycles[i].clone());
        let air_i = match &air {
            Some(a) => a[i].clone(),
            None => Err(r("no air flow or air volume series configured (flow)")),
        };
        f.set(F::AIR_M3, air_i.clone());
        let scheduled = in_windows(idle_windows, local(assets, grid.ts(i)));
        let idle: Result<bool, Arc<str>> = match (&production, scheduled) {
            (_, true) => Ok(true),
            (Some(p), false) => p[i].clone().map(|units| units == 0.0),
            (None, false) if idle_windows.is_empty() => Err(no_idle_rule.clone()),
            (None, false) => Ok(false),
        };
        let when_idle = |v: &Result<f64, Arc<str>>| match &idle {
            Ok(true) => v.clone(),
            Ok(false) => Ok(0.0),
            Err(e) => Err(e.clone()),
        };
        f.set(F::IDLE_H, when_idle(&Ok(QH)));
        f.set(F::IDLE_RUN_H, when_idle(&run[i]));
        f.set(F::IDLE_LOADED_H, when_idle(&loaded[i]));
        f.set(F::IDLE_AIR_M3, when_idle(&air_i));
        match &pressure {
            Some((avg, min, max)) => {
                f.set(F::P_BAR_H, avg[i].clone().map(|p| p * QH));
                f.set(F::P_MIN, min[i].clone());
                f.set(F::P_MAX, max[i].clone());
            }
            None => {
                let why = r("no pressure series configured");
                f.set(F::P_BAR_H, Err(why.clone()));
                f.set(F::P_MIN, Err(why.clone()));
                f.set(F::P_MAX, Err(why));
            }
        }
    }
    Ok(())
}

fn chiller(loader: &mut Loader<'_>, c: &ChillerSpec, out: &mut [Facts]) -> Result<(), StoreError> {
    let kwh = loader.sum(&c.power, |l, d| l.energy(d))?;
    let aux = (!c.auxiliaries.is_empty())
        .then(|| loader.sum(&c.auxiliaries, |l, d| l.energy(d)))
        .transpose()?;
    let supply = loader.avg(&c.supply_temp)?;
    let ret = loader.avg(&c.return_temp)?;
    let flow = loader.avg(&c.flow)?;
    let bins = [
        (F::BIN100_KWH, F::BIN100_TRH),
        (F::BIN75_KWH, F::BIN75_TRH),
        (F::BIN50_KWH, F::BIN50_TRH),
        (F::BIN25_KWH, F::BIN25_TRH),
    ];
    for (i, f) in out.iter_mut().enumerate() {
        f.set(F::KWH, kwh[i].clone());
        match &aux {
            Some(a) => f.set(F::AUX_KWH, a[i].clone()),
            None => f.set(
                F::AUX_KWH,
                Err(r("no pumps or cooling towers metered (auxiliaries)")),
            ),
        }
        let dt = zip(&ret[i], &supply[i], |ret, sup| ret - sup);
        f.set(F::DT_H, dt.clone().map(|d| d * QH));
        // TR = 1.163 · m³/h · ΔT[°C] / 3.517; a negative ΔT delivers no cooling.
        let tr = zip(&flow[i], &dt, |q, d| {
            (KWH_PER_M3_K * q * d / KW_PER_TR).max(0.0)
        });
        let trh = tr.clone().map(|t| t * QH);
        f.set(F::TRH, trh.clone());
        for (k, (bk, bt)) in bins.iter().enumerate() {
            let v = match (&c.capacity_tr, &tr, &kwh[i]) {
                (None, ..) => {
                    let why = r("part-load bins need the chiller's rated capacity (capacity_tr)");
                    (Err(why.clone()), Err(why))
                }
                (Some(cap), Ok(t), Ok(e)) => {
                    let load = t / cap;
                    // Bins centred on 100/75/50/25 % load (AHRI 550/590 rating points).
                    let bin = if load >= 0.875 {
                        Some(0)
                    } else if load >= 0.625 {
                        Some(1)
                    } else if load >= 0.375 {
                        Some(2)
                    } else if load >= 0.125 {
                        Some(3)
                    } else {
                        None
                    };
                    if bin == Some(k) && *e > 0.0 {
                        (Ok(*e), Ok(t * QH))
                    } else {
                        (Ok(0.0), Ok(0.0))
                    }
                }
                (Some(_), Err(w), _) | (Some(_), _, Err(w)) => (Err(w.clone()), Err(w.clone())),
            };
            f.set(*bk, v.0);
            f.set(*bt, v.1);
        }
    }
    Ok(())
}

fn plant(
    loader: &mut Loader<'_>,
    assets: &Assets,
    p: &PlantSpec,
    out: &mut [Facts],
) -> Result<(), StoreError> {
    let grid = loader.grid;
    let kwh = loader.sum(&p.power, |l, d| l.energy(d))?;
    let (pf_kwh, kvah) = super::power_factor::sum(loader, &p.power)?;
    let production = match &p.production {
        Some(s) => loader.delta(&s.device, &s.quantity)?,
        None => vec![Err(r("no production counter configured (production)")); grid.n],
    };
    let mut fuels: Option<Col> = None;
    for fuel in &p.fuels {
        let d = loader.delta(&fuel.series.device, &fuel.series.quantity)?;
        let kg: Col = d
            .into_iter()
            .map(|v| v.map(|x| x * fuel.kg_co2e_per_unit))
            .collect();
        fuels = Some(match fuels {
            None => kg,
            Some(acc) => acc
                .iter()
                .zip(&kg)
                .map(|(a, b)| zip(a, b, |x, y| x + y))
                .collect(),
        });
    }
    let contracts = p.contracts(assets);
    // What each tariff period may draw (a quarter above it counts as an exceedance).
    let allowed: Option<Vec<f64>> = contracts.map(|c| {
        let a = allowances(&super::contract_bill::capacities(&c));
        match &assets.tariff {
            Some(t) => t
                .period_names()
                .iter()
                .map(|n| a[contract_kind(n)])
                .collect(),
            None => vec![c.regular],
        }
    });
    let no_tariff = r("no tariff configured (site.tariff)");
    let no_factors = r("no emission factors configured (site.emission_factors)");
    for (i, f) in out.iter_mut().enumerate() {
        let e = kwh[i].clone();
        f.set(F::KWH, e.clone());
        f.set(F::KVAH, kvah[i].clone());
        f.set(F::PF_KWH, pf_kwh[i].clone());
        f.set(F::PRODUCTION, production[i].clone());
        // Demand: the quarter's average power (Taipower bills the highest 15-minute average).
        f.set(F::DEMAND_KW, e.clone().map(|x| x / QH));
        let t = local(assets, grid.ts(i));
        let period = assets.tariff.as_ref().map(|tariff| tariff.classify(t));
        f.set(
            F::EXCEED_Q,
            match &allowed {
                Some(a) => {
                    let limit = a[period.map_or(0, |p| p.0).min(a.len() - 1)];
                    e.clone().map(|x| f64::from(u8::from(x / QH > limit)))
                }
                None => Err(r(NO_CONTRACT)),
            },
        );
        match (&assets.tariff, period) {
            (Some(tariff), Some((period, season))) => {
                let rate = tariff.rate(period, season);
                for k in 0..tariff.period_names().len() {
                    let mine = k == period;
                    f.set_slot(period_kwh(k), e.clone().map(|x| if mine { x } else { 0.0 }));
                    f.set_slot(
                        period_cost(k),
                        e.clone().map(|x| if mine { x * rate } else { 0.0 }),
                    );
                    f.set_slot(
                        period_demand(k),
                        e.clone().map(|x| if mine { x / QH } else { 0.0 }),
                    );
                }
                f.set(F::ENERGY_COST, e.clone().map(|x| x * rate));
            }
            _ => f.set(F::ENERGY_COST, Err(no_tariff.clone())),
        }
        match &assets.factors {
            Some(factors) => {
                // A year without a published factor uses the latest earlier one; the report
                // says so (see enpi::read).
                let (k, _) = factors.factor(t.year());
                f.set(F::SCOPE2_KG, e.clone().map(|x| x * k));
            }
            None => f.set(F::SCOPE2_KG, Err(no_factors.clone())),
        }
        if let Some(kg) = &fuels {
            f.set(F::SCOPE1_KG, kg[i].clone());
        }
    }
    Ok(())
}
