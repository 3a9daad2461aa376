//! Indicators: ratios and bounds of merged facts, per asset type. Each is a value or a reason.

use super::assets::{AssetSpec, Assets};
use super::contract_bill::{allowances, capacities, demand_by_kind, month_bill, Capacities};
use super::defs::KW_PER_TR;
use super::facts::{period_cost, period_demand, period_kwh, Facts, Why, F};
use super::quarters::NO_CONTRACT;
use super::tariff::Tariff;
use chrono::NaiveDate;

pub use super::defs::{Definition, Span, V};

fn def(name: &str, unit: &str, description: &str) -> Definition {
    Definition {
        name: name.to_owned(),
        unit: unit.to_owned(),
        description: description.to_owned(),
        fuel: None,
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
        AssetSpec::Utility(u) => u.definitions(&assets.utility_site()),
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
                def(
                    "power_factor",
                    "",
                    "kWh / √(kWh² + kvarh²), both from the same readings (the meter's registers where it has them)",
                ),
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

fn div(a: V, b: V, zero: &'static str) -> V {
    let (a, b) = (a?, b?);
    if b == 0.0 {
        Err(Why::Text(zero))
    } else {
        Ok(a / b)
    }
}

fn text(t: &'static str) -> V {
    Err(Why::Text(t))
}

/// The month's basic and over-contract charges from the highest demand of each tariff period
/// (a period without a quarter-hour this month has 0 and charges nothing).
fn monthly_demand_charges(
    t: &Tariff,
    first_day: NaiveDate,
    caps: &Capacities,
    by_period: Result<Vec<f64>, Why>,
) -> (V, V) {
    let by_period = match by_period {
        Ok(d) => d,
        Err(why) => {
            let basic = month_bill(t, t.season(first_day), caps, &[None; 4])
                .map(|b| b.basic)
                .map_err(|_| Why::Text("the tariff lacks a basic rate of a contract kind"));
            return (basic, Err(why));
        }
    };
    let demand = demand_by_kind(t, &by_period.into_iter().map(Some).collect::<Vec<_>>());
    match month_bill(t, t.season(first_day), caps, &demand) {
        Ok(b) => (Ok(b.basic), Ok(b.over_contract)),
        // Checked when the site file is loaded: a capacity without its kind's rate.
        Err(_) => {
            let why = "the tariff lacks a basic rate of a contract kind";
            (text(why), text(why))
        }
    }
}

/// Computes every indicator of `spec` for one interval, in definition order. Names borrow
/// from the definitions; nothing here allocates text (reasons are formatted when shown).
pub fn compute<'a>(
    assets: &'a Assets,
    spec: &AssetSpec,
    f: &Facts,
    span: Span,
) -> Vec<(&'a str, V)> {
    let h = span.hours;
    let g = |x: F| f.get(x);
    let mut out: Vec<(&'a str, V)> = Vec::with_capacity(48);
    let mut put = |name: &'a str, v: V| out.push((name, v));
    match spec {
        AssetSpec::Compressor(_) => {
            put("energy_kwh", g(F::KWH));
            put("avg_power_kw", g(F::KWH).map(|e| e / h));
            put("air_volume_m3", g(F::AIR_M3));
            put("avg_flow_m3min", g(F::AIR_M3).map(|v| v / (60.0 * h)));
            put(
                "specific_power",
                div(
                    g(F::KWH).map(|e| 60.0 * e),
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
                    g(F::LOADED_H).map(|x| 100.0 * x),
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
                Ok(x) if *x == 0.0 => text("no no-production period in this interval"),
                _ => div(
                    g(F::IDLE_LOADED_H).map(|x| 100.0 * x),
                    g(F::IDLE_RUN_H),
                    "load/unload compressor stopped during no-production periods",
                ),
            };
            put("leakage_pct", idle.clone().and(leak));
            put(
                "leak_flow_m3min",
                div(
                    g(F::IDLE_AIR_M3),
                    idle.map(|x| 60.0 * x),
                    "no no-production period in this interval",
                ),
            );
            put("pressure_avg", g(F::P_BAR_H).map(|p| p / h));
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
            put("cooling_tr", trh.clone().map(|t| t / h));
            put("cooling_kw", trh.clone().map(|t| t * KW_PER_TR / h));
            put(
                "kw_per_tr",
                div(g(F::KWH), trh.clone(), "no cooling delivered"),
            );
            put(
                "cop",
                div(
                    trh.clone().map(|t| t * KW_PER_TR),
                    g(F::KWH),
                    "chiller drew no power",
                ),
            );
            put("delta_t", g(F::DT_H).map(|d| d / h));
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
                    Some(cap) => trh.map(|t| 100.0 * t / h / cap),
                    None => text("rated capacity not configured (capacity_tr)"),
                },
            );
            let bins = [
                (
                    "kw_per_tr_100",
                    F::BIN100_KWH,
                    F::BIN100_TRH,
                    "no operation near 100 % load",
                ),
                (
                    "kw_per_tr_75",
                    F::BIN75_KWH,
                    F::BIN75_TRH,
                    "no operation near 75 % load",
                ),
                (
                    "kw_per_tr_50",
                    F::BIN50_KWH,
                    F::BIN50_TRH,
                    "no operation near 50 % load",
                ),
                (
                    "kw_per_tr_25",
                    F::BIN25_KWH,
                    F::BIN25_TRH,
                    "no operation near 25 % load",
                ),
            ];
            let mut abcd = [0.0; 4];
            let mut iplv: V = Ok(0.0);
            for (k, (name, kwh, trh, none)) in bins.into_iter().enumerate() {
                let v = div(g(kwh), g(trh), none);
                match &v {
                    Ok(x) => abcd[k] = *x,
                    Err(_) if iplv.is_ok() => {
                        iplv = text("needs operation near all four load points (100, 75, 50, 25 %)")
                    }
                    Err(_) => {}
                }
                put(name, v);
            }
            put(
                "iplv_kw_per_tr",
                iplv.map(|_| {
                    1.0 / (0.01 / abcd[0] + 0.42 / abcd[1] + 0.45 / abcd[2] + 0.12 / abcd[3])
                }),
            );
        }
        AssetSpec::Utility(u) => out.extend(u.compute(&assets.utility_site(), f, span)),
        AssetSpec::Plant(p) => {
            let kwh = g(F::KWH);
            let contracts = p.contracts(assets);
            let demand = g(F::DEMAND_KW);
            // Highest demand per tariff period (the bill is per contract kind).
            let by_period: Option<Result<Vec<f64>, Why>> = assets.tariff.as_ref().map(|t| {
                (0..t.period_names().len())
                    .map(|k| f.get_slot(period_demand(k)))
                    .collect()
            });
            put("energy_kwh", kwh.clone());
            put("avg_power_kw", kwh.clone().map(|e| e / h));
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
            const NO_TARIFF: &str = "no tariff configured (site.tariff)";
            put(
                "contract_kw",
                contracts.map_or(text(NO_CONTRACT), |c| Ok(c.regular)),
            );
            put(
                "headroom_kw",
                match (contracts, &assets.tariff, &by_period) {
                    (None, ..) => text(NO_CONTRACT),
                    // The least headroom of any period against what that period may draw.
                    (Some(c), Some(t), Some(Ok(d))) => {
                        let allowed = allowances(&capacities(&c));
                        Ok(d.iter()
                            .enumerate()
                            .map(|(k, d)| allowed[t.period_kind(k)] - d)
                            .fold(f64::INFINITY, f64::min))
                    }
                    (Some(c), ..) => demand.clone().map(|d| c.regular - d),
                },
            );
            put("exceedances", g(F::EXCEED_Q));
            put(
                "load_factor_pct",
                div(
                    kwh.clone().map(|e| 100.0 * e),
                    demand.clone().map(|d| d * h),
                    "no demand",
                ),
            );
            let pf = div(g(F::PF_KWH), g(F::KVAH), "no apparent energy");
            put("power_factor", pf.clone());
            let energy_cost = g(F::ENERGY_COST);
            put("energy_cost", energy_cost.clone());
            if let Some(t) = &assets.tariff {
                for k in 0..t.kwh_names.len() {
                    put(&t.kwh_names[k], f.get_slot(period_kwh(k)));
                    put(&t.cost_names[k], f.get_slot(period_cost(k)));
                }
            }
            const MONTHLY: &str = "billed per month: see step 1mo";
            let (basic, over): (V, V) = match (span.month, &assets.tariff, contracts) {
                (None, ..) => (text(MONTHLY), text(MONTHLY)),
                (Some(_), None, _) => (text(NO_TARIFF), text(NO_TARIFF)),
                (Some(_), Some(_), None) => (text(NO_CONTRACT), text(NO_CONTRACT)),
                (Some(_), Some(t), Some(_)) if t.basic_rate(NaiveDate::MIN).is_none() => (
                    text("the tariff has no basic charge"),
                    text("the tariff has no basic charge"),
                ),
                (Some(day), Some(t), Some(c)) => monthly_demand_charges(
                    t,
                    day,
                    &capacities(&c),
                    by_period.unwrap_or_else(|| text(NO_TARIFF).map(|_| vec![])),
                ),
            };
            // The adjustment applies to the bill: the energy charge within a month, the whole
            // bill (energy + basic + over-contract) for a billing month.
            let billed = match span.month {
                Some(_) => energy_cost.and_then(|e| Ok(e + basic.clone()? + over.clone()?)),
                None => energy_cost,
            };
            let rule = assets.tariff.as_ref().and_then(|t| t.power_factor.as_ref());
            let pf_adj = match rule {
                Some(rule) => billed.clone().and_then(|b| Ok(b * rule.adjustment(pf?))),
                None if assets.tariff.is_some() => text("the tariff has no power-factor rule"),
                None => text(NO_TARIFF),
            };
            // Without a rule there is no adjustment; with one, an unknown factor leaves the
            // total unknown too.
            let adj_in_total = if rule.is_some() {
                pf_adj.clone()
            } else {
                Ok(0.0)
            };
            put("pf_adjustment", pf_adj);
            put("basic_charge", basic);
            put("over_contract_charge", over);
            put(
                "total_cost",
                match span.month {
                    Some(_) => billed.and_then(|b| Ok(b + adj_in_total?)),
                    None => text(MONTHLY),
                },
            );
            let s2 = g(F::SCOPE2_KG);
            let s1 = if p.fuels.is_empty() {
                text("no fuel meters configured (fuels)")
            } else {
                g(F::SCOPE1_KG)
            };
            put("co2e_scope2_kg", s2.clone());
            put("co2e_scope1_kg", s1.clone());
            put(
                "co2e_kg",
                if p.fuels.is_empty() {
                    s2
                } else {
                    s1.and_then(|a| Ok(a + s2?))
                },
            );
        }
    }
    out
}
