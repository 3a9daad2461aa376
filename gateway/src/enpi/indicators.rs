//! Indicators: ratios and bounds of merged facts, per asset type. Each is a value or a reason.

use chrono::NaiveDate;
use serde::Serialize;

use super::assets::{AssetSpec, Assets};
use super::facts::{period_cost, period_kwh, Facts, F};
use super::quarters::KW_PER_TR;

/// What an indicator is.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Definition {
    pub name: String,
    pub unit: String,
    pub description: String,
}

fn def(name: &str, unit: &str, description: &str) -> Definition {
    Definition {
        name: name.to_owned(),
        unit: unit.to_owned(),
        description: description.to_owned(),
    }
}

/// The indicators of an asset, in display order.
pub fn definitions(assets: &Assets, spec: &AssetSpec) -> Vec<Definition> {
    match spec {
        AssetSpec::Compressor(_) => vec![
            def("energy_kwh", "kWh", "electricity of the compressors"),
            def("avg_power_kw", "kW", "average electrical power"),
            def("air_volume_m3", "m³", "free air delivered"),
            def("avg_flow_m3min", "m³/min", "average delivered flow"),
            def(
                "specific_power",
                "kW/(m³/min)",
                "kW per m³/min delivered (CAGI: 5-7 at full load is typical)",
            ),
            def("kwh_per_m3", "kWh/m³", "electricity per m³ of free air"),
            def(
                "loaded_pct",
                "%",
                "loaded share of the load/unload compressor's running time",
            ),
            def("cycles_per_hour", "1/h", "load cycles per running hour"),
            def(
                "leakage_pct",
                "%",
                "loaded share during no-production periods (leak test); good < 10 %, poor 20-30 %",
            ),
            def(
                "leak_flow_m3min",
                "m³/min",
                "average delivered flow during no-production periods",
            ),
            def("pressure_avg", "bar", "average pressure (gauge)"),
            def("pressure_min", "bar", "lowest pressure"),
            def("pressure_max", "bar", "highest pressure"),
            def("pressure_band", "bar", "highest minus lowest pressure"),
        ],
        AssetSpec::Chiller(_) => vec![
            def("energy_kwh", "kWh", "electricity of the chiller"),
            def(
                "cooling_trh",
                "TR·h",
                "cooling delivered: 1.163 × m³/h × ΔT / 3.517, integrated",
            ),
            def("cooling_tr", "TR", "average cooling load"),
            def("cooling_kw", "kW", "average cooling load, thermal"),
            def(
                "kw_per_tr",
                "kW/TR",
                "chiller electricity per ton of cooling (3.517 / COP)",
            ),
            def(
                "cop",
                "",
                "coefficient of performance: cooling kW / electrical kW",
            ),
            def(
                "delta_t",
                "°C",
                "chilled-water return minus supply temperature",
            ),
            def(
                "plant_kw_per_tr",
                "kW/TR",
                "chiller + pumps + towers per ton (well-tuned: 0.55-0.75)",
            ),
            def(
                "load_pct",
                "%",
                "average cooling load against rated capacity",
            ),
            def(
                "kw_per_tr_100",
                "kW/TR",
                "efficiency in quarter-hours near 100 % load",
            ),
            def("kw_per_tr_75", "kW/TR", "efficiency near 75 % load"),
            def("kw_per_tr_50", "kW/TR", "efficiency near 50 % load"),
            def("kw_per_tr_25", "kW/TR", "efficiency near 25 % load"),
            def(
                "iplv_kw_per_tr",
                "kW/TR",
                "IPLV-style weighting of the four (AHRI 550/590: 1/(0.01/A+0.42/B+0.45/C+0.12/D))",
            ),
        ],
        AssetSpec::Plant(p) => {
            let cur = assets.tariff.as_ref().map_or("", |t| t.currency.as_str());
            let mut v = vec![
                def("energy_kwh", "kWh", "electricity purchased (main incomer)"),
                def("avg_power_kw", "kW", "average power"),
                def("production", &p.production_unit, "production counted"),
                def(
                    "sec",
                    &format!("kWh/{}", p.production_unit),
                    "specific energy consumption: kWh per unit produced",
                ),
                def("demand_kw", "kW", "highest 15-minute average power"),
                def("contract_kw", "kW", "contract capacity"),
                def(
                    "headroom_kw",
                    "kW",
                    "contract capacity minus demand (negative: exceeded)",
                ),
                def(
                    "exceedances",
                    "",
                    "15-minute intervals above the contract capacity",
                ),
                def("load_factor_pct", "%", "kWh / (demand × hours)"),
                def("power_factor", "", "energy-weighted: kWh / kVAh"),
                def("energy_cost", cur, "time-of-use energy charge"),
            ];
            if let Some(t) = &assets.tariff {
                for name in t.period_names() {
                    v.push(def(
                        &format!("kwh_{name}"),
                        "kWh",
                        &format!("energy in the {name} period"),
                    ));
                    v.push(def(
                        &format!("cost_{name}"),
                        cur,
                        &format!("energy charge of the {name} period"),
                    ));
                }
            }
            v.extend([
                def(
                    "pf_adjustment",
                    cur,
                    "power-factor surcharge (+) or credit (−) per the tariff's rule",
                ),
                def(
                    "basic_charge",
                    cur,
                    "contract capacity × basic rate (monthly)",
                ),
                def(
                    "over_contract_charge",
                    cur,
                    "charge for demand above the contract (monthly)",
                ),
                def(
                    "total_cost",
                    cur,
                    "energy + basic + over-contract + power-factor adjustment (monthly)",
                ),
                def(
                    "co2e_scope2_kg",
                    "kg CO2e",
                    "purchased electricity × the year's grid emission factor",
                ),
                def("co2e_scope1_kg", "kg CO2e", "metered fuels × their factors"),
                def("co2e_kg", "kg CO2e", "scope 1 + scope 2"),
            ]);
            v
        }
    }
}

/// The interval an indicator row covers.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// Hours covered (quarters × 0.25).
    pub hours: f64,
    /// First plant-local day of the billing month, for monthly rows.
    pub month: Option<NaiveDate>,
}

type V = Result<f64, String>;

fn div(a: V, b: V, zero: &str) -> V {
    let (a, b) = (a?, b?);
    if b == 0.0 {
        Err(zero.to_owned())
    } else {
        Ok(a / b)
    }
}

fn map(a: V, f: impl Fn(f64) -> f64) -> V {
    a.map(f)
}

/// Computes every indicator of `spec` for one interval, in definition order.
pub fn compute(assets: &Assets, spec: &AssetSpec, f: &Facts, span: Span) -> Vec<(String, V)> {
    let h = span.hours;
    let g = |x: F| f.get(x);
    let mut out: Vec<(String, V)> = Vec::new();
    let mut put = |name: &str, v: V| out.push((name.to_owned(), v));
    match spec {
        AssetSpec::Compressor(_) => {
            put("energy_kwh", g(F::KWH));
            put("avg_power_kw", map(g(F::KWH), |e| e / h));
            put("air_volume_m3", g(F::AIR_M3));
            put("avg_flow_m3min", map(g(F::AIR_M3), |v| v / (60.0 * h)));
            put(
                "specific_power",
                div(
                    map(g(F::KWH), |e| 60.0 * e),
                    g(F::AIR_M3),
                    "no air delivered",
                ),
            );
            put(
                "kwh_per_m3",
                div(g(F::KWH), g(F::AIR_M3), "no air delivered"),
            );
            put(
                "loaded_pct",
                div(
                    map(g(F::LOADED_H), |x| 100.0 * x),
                    g(F::RUN_H),
                    "compressor not running",
                ),
            );
            put(
                "cycles_per_hour",
                div(g(F::CYCLES), g(F::RUN_H), "compressor not running"),
            );
            let idle = g(F::IDLE_H);
            let leak = match &idle {
                Ok(x) if *x == 0.0 => Err("no no-production period in this interval".to_owned()),
                _ => div(
                    map(g(F::IDLE_LOADED_H), |x| 100.0 * x),
                    g(F::IDLE_RUN_H),
                    "load/unload compressor stopped during no-production periods",
                ),
            };
            put("leakage_pct", idle.clone().and(leak));
            put(
                "leak_flow_m3min",
                div(
                    g(F::IDLE_AIR_M3),
                    map(idle, |x| 60.0 * x),
                    "no no-production period in this interval",
                ),
            );
            put("pressure_avg", map(g(F::P_BAR_H), |p| p / h));
            put("pressure_min", g(F::P_MIN));
            put("pressure_max", g(F::P_MAX));
            put(
                "pressure_band",
                g(F::P_MAX).and_then(|hi| Ok(hi - g(F::P_MIN)?)),
            );
        }
        AssetSpec::Chiller(c) => {
            let trh = g(F::TRH);
            put("energy_kwh", g(F::KWH));
            put("cooling_trh", trh.clone());
            put("cooling_tr", map(trh.clone(), |t| t / h));
            put("cooling_kw", map(trh.clone(), |t| t * KW_PER_TR / h));
            put(
                "kw_per_tr",
                div(g(F::KWH), trh.clone(), "no cooling delivered"),
            );
            put(
                "cop",
                div(
                    map(trh.clone(), |t| t * KW_PER_TR),
                    g(F::KWH),
                    "chiller drew no power",
                ),
            );
            put("delta_t", map(g(F::DT_H), |d| d / h));
            put(
                "plant_kw_per_tr",
                div(
                    g(F::KWH).and_then(|e| Ok(e + g(F::AUX_KWH)?)),
                    trh.clone(),
                    "no cooling delivered",
                ),
            );
            put(
                "load_pct",
                match c.capacity_tr {
                    Some(cap) => map(trh, |t| 100.0 * t / h / cap),
                    None => Err("rated capacity not configured (capacity_tr)".into()),
                },
            );
            let bins = [
                ("kw_per_tr_100", F::BIN100_KWH, F::BIN100_TRH, "100"),
                ("kw_per_tr_75", F::BIN75_KWH, F::BIN75_TRH, "75"),
                ("kw_per_tr_50", F::BIN50_KWH, F::BIN50_TRH, "50"),
                ("kw_per_tr_25", F::BIN25_KWH, F::BIN25_TRH, "25"),
            ];
            let mut abcd = Vec::new();
            for (name, kwh, trh, pct) in bins {
                let v = div(g(kwh), g(trh), &format!("no operation near {pct} % load"));
                abcd.push(v.clone());
                put(name, v);
            }
            let iplv = abcd
                .iter()
                .zip([0.01, 0.42, 0.45, 0.12])
                .try_fold(0.0, |acc, (v, w)| {
                    v.as_ref()
                        .map(|x| acc + w / x)
                        .map_err(|e| format!("needs all four load points: {e}"))
                })
                .map(|s| 1.0 / s);
            put("iplv_kw_per_tr", iplv);
        }
        AssetSpec::Plant(p) => {
            let kwh = g(F::KWH);
            let contract = p.contract_kw.or(assets.contract_kw);
            let demand = g(F::DEMAND_KW);
            put("energy_kwh", kwh.clone());
            put("avg_power_kw", map(kwh.clone(), |e| e / h));
            put("production", g(F::PRODUCTION));
            put(
                "sec",
                div(
                    kwh.clone(),
                    g(F::PRODUCTION),
                    "no production in this interval",
                ),
            );
            put("demand_kw", demand.clone());
            let no_contract =
                || Err::<f64, _>("no contract capacity configured (site.contract_kw)".to_owned());
            put("contract_kw", contract.map_or_else(no_contract, Ok));
            put(
                "headroom_kw",
                match contract {
                    Some(c) => map(demand.clone(), |d| c - d),
                    None => no_contract(),
                },
            );
            put("exceedances", g(F::EXCEED_Q));
            put(
                "load_factor_pct",
                div(
                    map(kwh.clone(), |e| 100.0 * e),
                    map(demand.clone(), |d| d * h),
                    "no demand",
                ),
            );
            put(
                "power_factor",
                div(kwh.clone(), g(F::KVAH), "no apparent energy"),
            );
            let energy_cost = g(F::ENERGY_COST);
            put("energy_cost", energy_cost.clone());
            if let Some(t) = &assets.tariff {
                for (k, name) in t.period_names().iter().enumerate() {
                    put(&format!("kwh_{name}"), f.get_slot(period_kwh(k)));
                    put(&format!("cost_{name}"), f.get_slot(period_cost(k)));
                }
            }
            let monthly = "billed per month: see step 1mo".to_owned();
            let (basic, over): (V, V) = match (span.month, &assets.tariff, contract) {
                (None, ..) => (Err(monthly.clone()), Err(monthly)),
                (Some(_), None, _) => (
                    Err("no tariff configured (site.tariff)".into()),
                    Err("no tariff configured (site.tariff)".into()),
                ),
                (Some(_), Some(_), None) => (no_contract(), no_contract()),
                (Some(day), Some(t), Some(c)) => match t.basic_rate(day) {
                    None => (
                        Err("the tariff has no basic charge".into()),
                        Err("the tariff has no basic charge".into()),
                    ),
                    Some(rate) => (
                        Ok(c * rate),
                        map(demand, |d| t.over_contract_charge(d, c, rate)),
                    ),
                },
            };
            let pf = div(kwh.clone(), g(F::KVAH), "no apparent energy");
            // The adjustment applies to the bill: the energy charge within a month, the whole
            // bill (energy + basic + over-contract) for a billing month.
            let billed = match span.month {
                Some(_) => energy_cost
                    .clone()
                    .and_then(|e| Ok(e + basic.clone()? + over.clone()?)),
                None => energy_cost.clone(),
            };
            let rule = assets.tariff.as_ref().and_then(|t| t.power_factor.clone());
            let pf_adj = match &rule {
                Some(rule) => billed.clone().and_then(|b| Ok(b * rule.adjustment(pf?))),
                None if assets.tariff.is_some() => {
                    Err("the tariff has no power-factor rule".into())
                }
                None => Err("no tariff configured (site.tariff)".into()),
            };
            // Without a rule there is no adjustment; with one, an unknown factor leaves the
            // total unknown too.
            let adj_in_total = if rule.is_some() {
                pf_adj.clone()
            } else {
                Ok(0.0)
            };
            put("pf_adjustment", pf_adj.clone());
            put("basic_charge", basic.clone());
            put("over_contract_charge", over.clone());
            put(
                "total_cost",
                match span.month {
                    Some(_) => billed.and_then(|b| Ok(b + adj_in_total?)),
                    None => Err("billed per month: see step 1mo".into()),
                },
            );
            let s2 = g(F::SCOPE2_KG);
            let s1 = if p.fuels.is_empty() {
                Err("no fuel meters configured (fuels)".to_owned())
            } else {
                g(F::SCOPE1_KG)
            };
            put("co2e_scope2_kg", s2.clone());
            put("co2e_scope1_kg", s1.clone());
            put(
                "co2e_kg",
                match (&s1, p.fuels.is_empty()) {
                    (_, true) => s2,
                    (Ok(a), false) => s2.map(|b| a + b),
                    (Err(e), false) => Err(e.clone()),
                },
            );
        }
    }
    out
}
