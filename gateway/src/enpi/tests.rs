//! EnPI engine tests against a real SQLite store: hand-computed hours for every indicator,
//! properties (scaling, units), data quality, and the simulated plant's truth.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use kilowatch_site::config::SiteConfig;
use kilowatch_site::payload::{DevicePoll, Quality, Reading, SCHEMA_VERSION};
use kilowatch_site::profile::ProfileLibrary;

use super::*;
use crate::store::{Incoming, StoreSettings};

const SITE: &str = r#"
[site]
id = "s"
timezone = "Asia/Taipei"
contract_kw = 350.0
tariff = "tariffs/example-hv-three-period.toml"
emission_factors = "emission-factors.toml"

[[assets]]
id = "air"
type = "compressor"
power = ["c1"]
flow = "hdr/air_flow"
pressure = "hdr/pressure"
load_state = "c1/load_state"
production = "line/production_count"

[[assets]]
id = "ch"
type = "chiller"
power = ["ch"]
supply_temp = "chw/chw_supply_temp"
return_temp = "chw/chw_return_temp"
flow = "chw/water_flow"
capacity_tr = 100.0
auxiliaries = ["pump"]

[[assets]]
id = "plant"
type = "plant"
power = ["inc"]
production = "line/production_count"
fuels = [{ name = "natural gas", series = "boiler/gas_volume", kg_co2e_per_unit = 1.879 }]

[[assets]]
id = "air2"
type = "compressor"
power = ["c2"]
flow = "hdr/air_flow"
load_from_power = { device = "c2", loaded_kw = 50.0, unloaded_kw = 15.0 }
idle = [{ days = ["wed"], hours = [["16:30", "17:00"]] }]
"#;

/// 2026-07-15 16:00 Asia/Taipei (a summer Wednesday: the HV tariff's peak period).
fn t0() -> DateTime<Utc> {
    "2026-07-15T08:00:00Z".parse().unwrap()
}

/// How the scenario's inputs are scaled and in which units they are stored.
#[derive(Clone, Copy)]
struct Variant {
    /// Multiplies every electrical power.
    power: f64,
    /// Store air flow in L/s, pressure in kPa, water flow in gpm and temperatures in °F.
    other_units: bool,
    /// Leave air-flow minutes 16-22 out (a gap longer than the 5-minute gap limit).
    flow_gap: bool,
}

const PLAIN: Variant = Variant {
    power: 1.0,
    other_units: false,
    flow_gap: false,
};

fn reading(quantity: &str, value: f64, unit: &str) -> Reading {
    Reading {
        quantity: quantity.to_owned().into(),
        value: Some(value),
        unit: unit.to_owned().into(),
        quality: Quality::Good,
    }
}

/// One sample a minute from 07:59 to 08:59 UTC for six devices (see the module's hand figures).
fn scenario(name: &str, v: Variant) -> (Store, Assets) {
    let config = SiteConfig::parse(SITE, "enpi-test.toml", &ProfileLibrary::builtin()).unwrap();
    let assets = Assets::from_site(&config, "enpi-test.toml").unwrap();
    let dir = std::env::temp_dir().join(format!("kw-enpi-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut store = Store::open(&dir.join("t.db"))
        .unwrap()
        .with_settings(StoreSettings {
            timezone: config.timezone(),
            ..StoreSettings::default()
        });
    let chiller_kw = [70.0, 45.0, 28.0, 18.0];
    let chiller_dt = [5.0, 3.75, 2.5, 1.25];
    let plant_kw = [200.0, 400.0, 300.0, 100.0];
    // Loaded, half loaded, a quarter loaded, stopped (below half the unloaded 15 kW).
    let c2_kw = [50.0, 32.5, 23.75, 5.0];
    let (mut e_c1, mut e_ch, mut e_inc, mut s_inc) = (1000.0, 500.0, 9000.0, 12000.0);
    let (mut e_c2, mut e_pump, mut gas) = (100.0, 10.0, 300.0);
    let mut batch = Vec::new();
    for m in -1i64..60 {
        let q = m.clamp(0, 59) as usize / 15;
        // Counters: each sample adds the minute that ends at it (credited to its quarter).
        e_c1 += 40.0 * v.power / 60.0;
        e_ch += chiller_kw[q] * v.power / 60.0;
        e_inc += plant_kw[q] * v.power / 60.0;
        s_inc += plant_kw[q] * v.power / 0.75 / 60.0;
        e_c2 += c2_kw[q] * v.power / 60.0;
        e_pump += 10.0 * v.power / 60.0;
        gas += 0.5;
        let mut polls: Vec<(&str, Vec<Reading>)> = vec![
            (
                "c1",
                vec![
                    reading("active_energy_import", e_c1, "kWh"),
                    reading(
                        "load_state",
                        [1.0, 1.0, 1.0, 0.0, 0.0][m.rem_euclid(5) as usize],
                        "",
                    ),
                ],
            ),
            (
                "line",
                vec![reading(
                    "production_count",
                    (5000 + 10 * m.min(29)) as f64,
                    "count",
                )],
            ),
            ("ch", vec![reading("active_energy_import", e_ch, "kWh")]),
            ("c2", vec![reading("active_energy_import", e_c2, "kWh")]),
            ("pump", vec![reading("active_energy_import", e_pump, "kWh")]),
            ("boiler", vec![reading("gas_volume", gas, "m³")]),
            (
                "inc",
                vec![
                    reading("active_energy_import", e_inc, "kWh"),
                    reading("apparent_energy", s_inc, "kVAh"),
                ],
            ),
        ];
        let p_bar = if m.rem_euclid(2) == 0 { 6.8 } else { 7.2 };
        let (supply, ret) = (7.0, 7.0 + chiller_dt[q]);
        let mut hdr = vec![];
        if !(v.flow_gap && (16..=22).contains(&m)) {
            hdr.push(if v.other_units {
                reading("air_flow", 5.0 / 0.06, "L/s")
            } else {
                reading("air_flow", 5.0, "m³/min")
            });
        }
        hdr.push(if v.other_units {
            reading("pressure", p_bar * 100.0, "kPa")
        } else {
            reading("pressure", p_bar, "bar")
        });
        polls.push(("hdr", hdr));
        polls.push((
            "chw",
            if v.other_units {
                let f = |c: f64| c * 9.0 / 5.0 + 32.0;
                vec![
                    reading("chw_supply_temp", f(supply), "°F"),
                    reading("chw_return_temp", f(ret), "°F"),
                    reading("water_flow", 60.0 / 0.227_124_707_2, "gpm"),
                ]
            } else {
                vec![
                    reading("chw_supply_temp", supply, "°C"),
                    reading("chw_return_temp", ret, "°C"),
                    reading("water_flow", 60.0, "m³/h"),
                ]
            },
        ));
        for (device, readings) in polls {
            batch.push(Incoming::Poll(DevicePoll {
                version: SCHEMA_VERSION,
                site: "s".into(),
                device: device.into(),
                seq: (m + 1) as u64,
                ts: t0() + Duration::minutes(m),
                readings,
            }));
        }
    }
    store.write(&batch).unwrap();
    while store.refresh_rollups(10_000).unwrap() > 0 {}
    let now = (t0() + Duration::days(40)).timestamp_millis();
    recompute(
        &mut store,
        &assets,
        t0().timestamp_millis(),
        now,
        now,
        || {},
    )
    .unwrap();
    (store, assets)
}

fn hour(store: &Store, assets: &Assets, asset: &str) -> Row {
    let from = t0().timestamp_millis();
    let r = read(store, assets, asset, Step::Hour, from, from + 3_600_000)
        .unwrap()
        .unwrap();
    assert_eq!(r.rows.len(), 1, "{asset}: one hour");
    r.rows[0].clone()
}

fn close(row: &Row, name: &str, want: f64) {
    let got = row
        .values
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing: {:?}", row.missing.get(name)));
    assert!(
        (got - want).abs() <= 1e-6 * want.abs().max(1.0),
        "{name}: got {got}, want {want}"
    );
}

#[test]
fn compressor_indicators_match_hand_computed_values() {
    let (s, a) = scenario("air", PLAIN);
    let r = hour(&s, &a, "air");
    // 40 kW for an hour; 5 m³/min → 300 m³; SP = 40 / 5.
    close(&r, "energy_kwh", 40.0);
    close(&r, "avg_power_kw", 40.0);
    close(&r, "air_volume_m3", 300.0);
    close(&r, "avg_flow_m3min", 5.0);
    close(&r, "specific_power", 8.0);
    close(&r, "kwh_per_m3", 40.0 / 300.0);
    // Load signal 1,1,1,0,0 each minute: 3 of 5 minutes loaded (edges count half), one rise
    // per 5 minutes.
    close(&r, "loaded_pct", 60.0);
    close(&r, "cycles_per_hour", 12.0);
    // Production stops after 08:29: quarters from 08:30 are the leak test.
    close(&r, "leakage_pct", 60.0);
    close(&r, "leak_flow_m3min", 5.0);
    // Alternating 6.8 / 7.2 bar a minute.
    close(&r, "pressure_avg", 7.0);
    close(&r, "pressure_min", 6.8);
    close(&r, "pressure_max", 7.2);
    close(&r, "pressure_band", 0.4);
    assert!(!r.partial);
}

#[test]
fn chiller_indicators_match_hand_computed_values() {
    let (s, a) = scenario("chiller", PLAIN);
    let r = hour(&s, &a, "ch");
    // TR = 1.163 × 60 m³/h × ΔT / 3.517 with ΔT 5, 3.75, 2.5, 1.25 °C per quarter:
    // 99.2039, 74.4029, 49.6019, 24.8010 TR; kW 70, 45, 28, 18.
    close(&r, "energy_kwh", 40.25);
    close(&r, "cooling_trh", 62.002_416_832_5);
    close(&r, "cooling_tr", 62.002_416_832_5);
    close(&r, "cooling_kw", 62.002_416_832_5 * 3.517);
    close(&r, "kw_per_tr", 0.649_168_243_05);
    close(&r, "cop", 5.417_701_863_35);
    close(&r, "delta_t", 3.125);
    close(&r, "load_pct", 62.002_416_832_5);
    close(&r, "kw_per_tr_100", 0.705_617_655_49);
    close(&r, "kw_per_tr_75", 0.604_815_133_28);
    close(&r, "kw_per_tr_50", 0.564_494_124_39);
    close(&r, "kw_per_tr_25", 0.725_778_159_93);
    close(&r, "iplv_kw_per_tr", 0.598_403_665_43);
    // With the 10 kW chilled-water pump.
    close(&r, "plant_kw_per_tr", 50.25 / 62.002_416_832_5);
}

#[test]
fn load_from_power_and_an_idle_schedule() {
    let (s, a) = scenario("air2", PLAIN);
    let r = hour(&s, &a, "air2");
    // Quarters at 50, 32.5, 23.75 and 5 kW between 15 kW unloaded and 50 kW loaded: loaded
    // 1, 0.5, 0.25 of the quarter, then stopped. Running 0.75 h, loaded 0.4375 h.
    close(&r, "energy_kwh", (50.0 + 32.5 + 23.75 + 5.0) / 4.0);
    close(&r, "loaded_pct", 100.0 * 0.4375 / 0.75);
    // Scheduled idle 16:30-17:00 local: one quarter loaded a quarter of the time, one stopped.
    close(&r, "leakage_pct", 25.0);
    close(&r, "leak_flow_m3min", 5.0);
    assert!(r.missing["cycles_per_hour"].contains("load_state"));
    assert!(r.missing["pressure_avg"].contains("pressure"));
}

#[test]
fn plant_indicators_match_hand_computed_values() {
    let (s, a) = scenario("plant", PLAIN);
    let r = hour(&s, &a, "plant");
    // Quarters at 200, 400, 300, 100 kW: 250 kWh, demand 400 kW against a 350 kW contract.
    close(&r, "energy_kwh", 250.0);
    close(&r, "production", 300.0);
    close(&r, "sec", 250.0 / 300.0);
    close(&r, "demand_kw", 400.0);
    close(&r, "contract_kw", 350.0);
    close(&r, "headroom_kw", -50.0);
    close(&r, "exceedances", 1.0);
    close(&r, "load_factor_pct", 62.5);
    close(&r, "power_factor", 0.75);
    // Summer weekday 16:00-17:00 is peak at 9.34/kWh; PF 75 % is 5 points under 80 %: +0.5 %.
    close(&r, "energy_cost", 2335.0);
    close(&r, "kwh_peak", 250.0);
    close(&r, "cost_peak", 2335.0);
    close(&r, "kwh_off_peak", 0.0);
    close(&r, "pf_adjustment", 11.675);
    // 2026 has no published factor: 2023's 0.494 kg/kWh.
    close(&r, "co2e_scope2_kg", 123.5);
    // 0.5 m³ of gas a minute × 1.879 kg CO2e/m³.
    close(&r, "co2e_scope1_kg", 30.0 * 1.879);
    close(&r, "co2e_kg", 123.5 + 30.0 * 1.879);
    assert!(r.missing["basic_charge"].contains("1mo"));
    // The quarter rows show the demand where it happened.
    let q = read(
        &s,
        &a,
        "plant",
        Step::Quarter,
        t0().timestamp_millis(),
        t0().timestamp_millis() + 3_600_000,
    )
    .unwrap()
    .unwrap();
    let demands: Vec<f64> = q.rows.iter().map(|r| r.values["demand_kw"]).collect();
    assert_eq!(demands.len(), 4);
    for (d, want) in demands.iter().zip([200.0, 400.0, 300.0, 100.0]) {
        assert!((d - want).abs() < 1e-6, "{demands:?}");
    }
    assert!(
        q.warnings.iter().any(|w| w.contains("2023")),
        "{:?}",
        q.warnings
    );
}

#[test]
fn monthly_bill_basic_over_contract_and_power_factor() {
    let config = SiteConfig::parse(SITE, "enpi-test.toml", &ProfileLibrary::builtin()).unwrap();
    let assets = Assets::from_site(&config, "enpi-test.toml").unwrap();
    let (_, spec) = assets.get("plant").unwrap();
    let mut f = Facts::quarter();
    f.quarters = 31 * 96;
    f.set(facts::F::KWH, Ok(100_000.0));
    f.set(facts::F::KVAH, Ok(100_000.0 / 0.9));
    f.set(facts::F::PF_KWH, Ok(100_000.0));
    f.set(facts::F::DEMAND_KW, Ok(400.0));
    // The highest demand was in the peak period (the seed tariff's first); 300 kW elsewhere.
    for (k, kw) in [400.0, 300.0, 300.0, 300.0].into_iter().enumerate() {
        f.set_slot(facts::period_demand(k), Ok(kw));
    }
    f.set(facts::F::ENERGY_COST, Ok(500_000.0));
    let july = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
    let v: BTreeMap<&str, indicators::V> = indicators::compute(
        &assets,
        spec,
        &f,
        Span {
            hours: 744.0,
            month: Some(july),
        },
    )
    .into_iter()
    .collect();
    let get = |n: &str| v[n].clone().unwrap();
    // 350 kW × 236.20 summer basic rate; 50 kW over: 35 kW (10 %) at 2×, 15 kW at 3×.
    assert!((get("basic_charge") - 82_670.0).abs() < 1e-6);
    assert!((get("over_contract_charge") - 27_163.0).abs() < 1e-6);
    // PF 90 %: 10 points above 80 % → 1 % credit on the whole bill.
    let bill = 500_000.0 + 82_670.0 + 27_163.0;
    assert!((get("pf_adjustment") + 0.01 * bill).abs() < 1e-6);
    assert!((get("total_cost") - 0.99 * bill).abs() < 1e-6);
    assert!((get("load_factor_pct") - 100.0 * 100_000.0 / (400.0 * 744.0)).abs() < 1e-9);
}

/// The monthly bill with `[site.contracts]`: July, allowances peak 350, half-peak 400,
/// Saturday 400, off-peak 500 kW.
/// basic = 350×236.20 + 50×173.20 + 100×47.20 = 82 670 + 8 660 + 4 720 = 96 050
/// over: peak 400 → 50 over 350: 35 (10 %) ×2×236.20 + 15×3×236.20 = 16 534 + 10 629 = 27 163;
///       half-peak 420 → 20 over 400 (10 % is 40): 20×2×173.20 = 6 928;
///       Saturday 380 ≤ 400 and off-peak 480 ≤ 500: 0. Total 34 091.
#[test]
fn monthly_bill_with_several_contracts() {
    let site = SITE.replace(
        "contract_kw = 350.0\n",
        "[site.contracts]\nregular = 350.0\nhalf_peak = 50.0\noff_peak = 100.0\n",
    );
    // The table must come after the [site] keys: move the tariff lines above it.
    let site = site.replace(
        "[site.contracts]\nregular = 350.0\nhalf_peak = 50.0\noff_peak = 100.0\ntariff = \"tariffs/example-hv-three-period.toml\"\nemission_factors = \"emission-factors.toml\"\n",
        "tariff = \"tariffs/example-hv-three-period.toml\"\nemission_factors = \"emission-factors.toml\"\n[site.contracts]\nregular = 350.0\nhalf_peak = 50.0\noff_peak = 100.0\n",
    );
    let config = SiteConfig::parse(&site, "enpi-test.toml", &ProfileLibrary::builtin()).unwrap();
    let assets = Assets::from_site(&config, "enpi-test.toml").unwrap();
    let (_, spec) = assets.get("plant").unwrap();
    let mut f = Facts::quarter();
    f.quarters = 31 * 96;
    f.set(facts::F::KWH, Ok(100_000.0));
    f.set(facts::F::DEMAND_KW, Ok(480.0));
    for (k, kw) in [400.0, 420.0, 380.0, 480.0].into_iter().enumerate() {
        f.set_slot(facts::period_demand(k), Ok(kw));
    }
    f.set(facts::F::ENERGY_COST, Ok(500_000.0));
    let july = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
    let v: BTreeMap<&str, indicators::V> = indicators::compute(
        &assets,
        spec,
        &f,
        Span {
            hours: 744.0,
            month: Some(july),
        },
    )
    .into_iter()
    .collect();
    let get = |n: &str| v[n].clone().unwrap();
    assert!(
        (get("basic_charge") - 96_050.0).abs() < 1e-6,
        "{}",
        get("basic_charge")
    );
    assert!((get("over_contract_charge") - 34_091.0).abs() < 1e-6);
    assert_eq!(get("contract_kw"), 350.0);
    // The least headroom: the peak's 350 − 400.
    assert_eq!(get("headroom_kw"), -50.0);
    // A half-peak capacity the two-period tariff cannot bill is a configuration error.
    let lv = site.replace("example-hv-three-period", "example-lv-two-period");
    let config = SiteConfig::parse(&lv, "enpi-test.toml", &ProfileLibrary::builtin()).unwrap();
    let e = Assets::from_site(&config, "enpi-test.toml").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("site.contracts.half_peak"), "{e}");
}

/// A tariff file with a `basic` key that is not a contract kind: the error names the site file,
/// the `site.tariff` key, the tariff file and the tariff's own key.
#[test]
fn a_malformed_tariff_is_an_error_with_file_and_key() {
    let dir = std::env::temp_dir().join(format!("kw-enpi-bad-tariff-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let hv = include_str!("../../../seeds/tariffs/example-hv-three-period.toml");
    let cases = [
        (
            hv.replace(
                "[basic]\n",
                "[basic]\nsemi_peak = { summer = 1.0, non_summer = 1.0 }\n",
            ),
            "basic.semi_peak: not a contract kind",
        ),
        (
            hv.replace(
                "off_peak = { summer = 47.20, non_summer = 33.30 }",
                "off_peak = { summer = 47.20, non_summer = \"cheap\" }",
            ),
            "basic.off_peak.non_summer: ",
        ),
        (
            hv.replace(
                "off_peak = { summer = 47.20, non_summer = 33.30 }",
                "off_peak = { summer = 47.20 }",
            ),
            "basic.off_peak.non_summer: missing rate",
        ),
    ];
    for (text, want) in cases {
        assert_ne!(text, hv, "the case must change the tariff");
        std::fs::write(dir.join("bad-tariff.toml"), &text).unwrap();
        let site = SITE.replace("tariffs/example-hv-three-period.toml", "bad-tariff.toml");
        let file = dir.join("site.toml");
        let file = file.to_str().unwrap();
        let config = SiteConfig::parse(&site, file, &ProfileLibrary::builtin()).unwrap();
        let e = Assets::from_site(&config, file).unwrap_err();
        assert_eq!(e.file, file);
        assert_eq!(e.key.as_deref(), Some("site.tariff"), "{e}");
        let tariff = dir.join("bad-tariff.toml");
        assert!(
            e.what.starts_with(&format!("{}: ", tariff.display())),
            "{e}"
        );
        assert!(e.what.contains(want), "{e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn doubling_power_doubles_specific_power_and_kw_per_tr() {
    let (s1, a1) = scenario("p1", PLAIN);
    let (s2, a2) = scenario(
        "p2",
        Variant {
            power: 2.0,
            ..PLAIN
        },
    );
    for (asset, names) in [
        ("air", &["specific_power", "kwh_per_m3", "energy_kwh"][..]),
        ("ch", &["kw_per_tr", "kw_per_tr_50", "iplv_kw_per_tr"][..]),
        (
            "plant",
            &["sec", "demand_kw", "energy_cost", "co2e_scope2_kg"][..],
        ),
    ] {
        let (r1, r2) = (hour(&s1, &a1, asset), hour(&s2, &a2, asset));
        for n in names {
            let ratio = r2.values[*n] / r1.values[*n];
            assert!((ratio - 2.0).abs() < 1e-9, "{asset}.{n}: ×{ratio}");
        }
        // Ratios of power to power do not move.
        for n in [
            "loaded_pct",
            "load_factor_pct",
            "power_factor",
            "cooling_tr",
        ] {
            if let (Some(a), Some(b)) = (r1.values.get(n), r2.values.get(n)) {
                assert!((a - b).abs() < 1e-9, "{asset}.{n}");
            }
        }
    }
}

#[test]
fn other_units_give_the_same_indicators() {
    let (s1, a1) = scenario("u1", PLAIN);
    let (s2, a2) = scenario(
        "u2",
        Variant {
            other_units: true,
            ..PLAIN
        },
    );
    for asset in ["air", "ch", "plant"] {
        let (r1, r2) = (hour(&s1, &a1, asset), hour(&s2, &a2, asset));
        assert_eq!(r1.values.len(), r2.values.len(), "{asset}");
        for (n, v) in &r1.values {
            let w = r2.values[n];
            assert!(
                (v - w).abs() <= 1e-9 * v.abs().max(1.0),
                "{asset}.{n}: {v} vs {w}"
            );
        }
    }
}

#[test]
fn a_gap_leaves_what_needs_the_input_missing_and_says_why() {
    let (s, a) = scenario(
        "gap",
        Variant {
            flow_gap: true,
            ..PLAIN
        },
    );
    let r = hour(&s, &a, "air");
    close(&r, "energy_kwh", 40.0);
    close(&r, "loaded_pct", 60.0);
    for n in [
        "air_volume_m3",
        "specific_power",
        "kwh_per_m3",
        "avg_flow_m3min",
    ] {
        assert!(!r.values.contains_key(n), "{n} must not be made up");
        let why = &r.missing[n];
        assert!(
            why.contains("hdr/air_flow") && why.contains("gap") && why.contains("1 of 4"),
            "{n}: {why}"
        );
    }
    // The quarters without the gap keep their value.
    let q = read(
        &s,
        &a,
        "air",
        Step::Quarter,
        t0().timestamp_millis(),
        t0().timestamp_millis() + 3_600_000,
    )
    .unwrap()
    .unwrap();
    let sp: Vec<bool> = q
        .rows
        .iter()
        .map(|r| r.values.contains_key("specific_power"))
        .collect();
    assert_eq!(sp, [true, false, true, true]);
    // Before any data: every indicator missing, none invented.
    let early = t0().timestamp_millis() - 86_400_000;
    let e = read(&s, &a, "plant", Step::Hour, early, early + 3_600_000)
        .unwrap()
        .unwrap();
    assert!(e
        .rows
        .iter()
        .all(|r| r.values.values().all(|v| v.is_finite())));
    for r in &e.rows {
        assert!(!r.values.contains_key("energy_kwh"), "{r:?}");
    }
}

#[test]
fn config_errors_name_the_asset_key() {
    let profiles = ProfileLibrary::builtin();
    let bad = SITE.replace("flow = \"hdr/air_flow\"", "flow = \"hdr/pressure\"");
    let c = SiteConfig::parse(&bad, "x.toml", &profiles).unwrap();
    let e = Assets::from_site(&c, "x.toml").unwrap_err().to_string();
    assert!(e.contains("x.toml") && e.contains("assets[0].flow"), "{e}");
    let bad = SITE.replace("type = \"chiller\"", "type = \"kettle\"");
    let c = SiteConfig::parse(&bad, "x.toml", &profiles).unwrap();
    let e = Assets::from_site(&c, "x.toml").unwrap_err().to_string();
    assert!(e.contains("assets[1]") && e.contains("kettle"), "{e}");
    let bad = SITE.replace(
        "load_state = \"c1/load_state\"",
        "load_state = \"c1/loadstate\"",
    );
    let c = SiteConfig::parse(&bad, "x.toml", &profiles).unwrap();
    let e = Assets::from_site(&c, "x.toml").unwrap_err().to_string();
    assert!(
        e.contains("assets[0].load_state") && e.contains("loadstate"),
        "{e}"
    );
}

/// The demo plant's physics against what the engine recovers from its metered history.
#[test]
fn simulated_plant_leakage_and_kw_per_tr_match_the_simulator_truth() {
    use crate::sim::plant::Plant;
    // Ten days before the leak repair (2026-10-15): the configured leak is 30 % of compressor
    // 1's capacity.
    let end: DateTime<Utc> = "2026-10-12T16:00:00Z".parse().unwrap();
    let (config, assets, mut store, report) =
        crate::backfill::demo_history("enpi-sim", std::time::Duration::from_secs(10 * 86_400), end);
    let (from, to) = (report.from.timestamp_millis(), report.to.timestamp_millis());
    recompute(&mut store, &assets, from, to, to, || {}).unwrap();

    // Truth: the same plant stepped the same way, integrating chiller kW and cooling TR.
    let settings = crate::sim::plant_settings(&config, "demo-site.toml").unwrap();
    let mut plant = Plant::new(settings, config.timezone());
    for k in (1..=300).rev() {
        plant.step(report.from - Duration::seconds(k), 1.0);
    }
    // Summary from the first whole local day to the last.
    let day0 = Step::Day.bucket_end(
        Step::Day.bucket_start(from, assets.timezone),
        assets.timezone,
    );
    let day_n = Step::Day.bucket_start(to, assets.timezone);
    let (mut kwh, mut trh) = (0.0, 0.0);
    let mut t = report.from;
    while t < report.to {
        plant.step(t, 1.0);
        let ms = t.timestamp_millis();
        if ms >= day0 && ms < day_n {
            let s = plant.snapshot();
            kwh += s.chiller_kw / 3600.0;
            trh += s.cooling_tr / 3600.0;
        }
        t += Duration::seconds(1);
    }
    let chiller = read(&store, &assets, "chiller", Step::Day, day0, day_n)
        .unwrap()
        .unwrap();
    let got = chiller.summary.values["kw_per_tr"];
    let want = kwh / trh;
    assert!(
        ((got - want) / want).abs() < 0.02,
        "kW/TR from meters {got:.4} vs simulator {want:.4}"
    );
    let air = read(&store, &assets, "compressed-air", Step::Day, day0, day_n)
        .unwrap()
        .unwrap();
    let leak = air.summary.values["leakage_pct"];
    assert!(
        (leak - 30.0).abs() < 2.0,
        "leakage {leak:.2} % vs 30 % configured"
    );
    // Specific power of a healthy system at part load: within CAGI-like bounds.
    let sp = air.summary.values["specific_power"];
    assert!((5.0..12.0).contains(&sp), "specific power {sp}");
    let plant_r = read(&store, &assets, "plant", Step::Day, day0, day_n)
        .unwrap()
        .unwrap();
    assert!(plant_r.summary.values["power_factor"] > 0.8);
    assert!(plant_r.rows.iter().all(|r| !r.partial));
}

/// Compressors and chillers are not billed: their monthly summaries list no cost items (and no
/// missing indicator without its reason).
#[test]
fn monthly_summaries_of_unbilled_assets_have_no_cost_items() {
    let (s, a) = scenario("monthly", PLAIN);
    let from = t0().timestamp_millis();
    for asset in ["air", "ch", "air2"] {
        let r = read(&s, &a, asset, Step::Month, from, from + 3_600_000)
            .unwrap()
            .unwrap();
        for (name, why) in &r.summary.missing {
            assert!(!why.is_empty(), "{asset}: {name} missing without a reason");
        }
        assert!(!r.summary.missing.contains_key("total_cost"), "{asset}");
        assert!(!r.summary.values.contains_key("total_cost"), "{asset}");
        assert!(
            r.warnings.iter().any(|w| w.contains("billing-month")),
            "{asset}: {:?}",
            r.warnings
        );
    }
}
