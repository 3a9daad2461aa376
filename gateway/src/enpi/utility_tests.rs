//! Utility assets against a real SQLite store: one hour of one-minute samples whose rates
//! change each quarter-hour, every indicator set against a hand calculation (within 0.1 %),
//! and the site-file checks.

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

[[assets]]
id = "pump"
type = "pump"
power = ["p1"]
flow = "pm/water_volume"
suction_pressure = "pm/suction_pressure"
discharge_pressure = "pm/discharge_pressure"
vfd_estimate = { rated_flow_m3h = 120.0, rated_kw = 20.0, static_head_pct = 20.0 }

[[assets]]
id = "fan"
type = "fan"
power = ["f1"]
flow = "fm/air_volume"
pressure = "fm/differential_pressure"

[[assets]]
id = "boiler"
type = "boiler"
fuel = "natural_gas"
fuel_meter = "bg/gas_volume"
fuel_price = 15.0
steam = "bs/steam_mass"
steam_pressure = "bs/steam_pressure"
feedwater_temp = "bs/feedwater_temp"
flue_gas_temp = "bs/flue_gas_temp"
flue_gas_o2 = "bs/flue_gas_o2"
combustion_air_temp = "bs/combustion_air_temp"
other_losses_pct = 2.0

[[assets]]
id = "tower"
type = "cooling_tower"
power = ["ct"]
hot_water = "cw/cw_return_temp"
cold_water = "cw/cw_supply_temp"
flow = "cw/water_volume"
dry_bulb = "wx/outdoor_temp"
humidity = "wx/outdoor_humidity"

[[assets]]
id = "chw"
type = "chw_plant"
chillers = ["ch"]
chw_pumps = ["cp"]
cw_pumps = ["cwp"]
towers = ["ct"]
supply_temp = "chw/chw_supply_temp"
return_temp = "chw/chw_return_temp"
flow = "chw/water_flow"

[[assets]]
id = "hr"
type = "heat_recovery"
heat = "hrm/heat_energy"
displaced_fuel = "natural_gas"
displaced_efficiency = 0.9

[[assets]]
id = "light"
type = "lighting"
power = ["lt"]
on_kw = 5.0
area_m2 = 1000.0
"#;

fn t0() -> DateTime<Utc> {
    "2026-07-15T08:00:00Z".parse().unwrap()
}

fn reading(quantity: &str, value: f64, unit: &str) -> Reading {
    Reading {
        quantity: quantity.to_owned().into(),
        value: Some(value),
        unit: unit.to_owned().into(),
        quality: Quality::Good,
    }
}

/// Per-quarter rates; counters add each minute's share at the sample that ends it.
fn scenario() -> (Store, Assets) {
    let config = SiteConfig::parse(SITE, "u.toml", &ProfileLibrary::builtin()).unwrap();
    let assets = Assets::from_site(&config, "u.toml").unwrap();
    let dir = std::env::temp_dir().join(format!("kw-enpi-utility-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut store = Store::open(&dir.join("t.db"))
        .unwrap()
        .with_settings(StoreSettings {
            timezone: config.timezone(),
            ..StoreSettings::default()
        });
    // (device, quantity, unit, rate per hour by quarter): counters.
    let counters: &[(&str, &str, &str, [f64; 4])] = &[
        ("p1", "active_energy_import", "kWh", [20.0, 15.0, 10.0, 5.0]),
        ("pm", "water_volume", "m³", [120.0, 90.0, 60.0, 30.0]),
        ("f1", "active_energy_import", "kWh", [11.0, 11.0, 5.5, 5.5]),
        // 600 and 300 m³/min.
        (
            "fm",
            "air_volume",
            "m³",
            [36_000.0, 36_000.0, 18_000.0, 18_000.0],
        ),
        ("bg", "gas_volume", "m³", [100.0, 100.0, 50.0, 50.0]),
        // Stored in kg: converted to t.
        ("bs", "steam_mass", "kg", [1200.0, 1200.0, 600.0, 600.0]),
        ("ct", "active_energy_import", "kWh", [7.5; 4]),
        ("cw", "water_volume", "m³", [200.0; 4]),
        (
            "ch",
            "active_energy_import",
            "kWh",
            [70.0, 45.0, 28.0, 18.0],
        ),
        ("cp", "active_energy_import", "kWh", [10.0; 4]),
        ("cwp", "active_energy_import", "kWh", [8.0; 4]),
        // Stored in MJ: 180 MJ/h = 50 kW.
        ("hrm", "heat_energy", "MJ", [180.0, 180.0, 0.0, 0.0]),
        ("lt", "active_energy_import", "kWh", [12.0, 12.0, 1.0, 1.0]),
    ];
    // Instantaneous values by quarter.
    let values: &[(&str, &str, &str, [f64; 4])] = &[
        ("pm", "suction_pressure", "bar", [0.5; 4]),
        ("pm", "discharge_pressure", "bar", [3.5, 3.0, 2.5, 2.0]),
        // In Pa: converted to kPa.
        (
            "fm",
            "differential_pressure",
            "Pa",
            [800.0, 800.0, 500.0, 500.0],
        ),
        ("bs", "steam_pressure", "bar", [8.0; 4]),
        ("bs", "feedwater_temp", "°C", [80.0; 4]),
        ("bs", "flue_gas_temp", "°C", [200.0, 200.0, 180.0, 180.0]),
        ("bs", "flue_gas_o2", "%", [3.0, 3.0, 4.0, 4.0]),
        ("bs", "combustion_air_temp", "°C", [25.0; 4]),
        ("cw", "cw_return_temp", "°C", [35.0, 35.0, 33.0, 33.0]),
        ("cw", "cw_supply_temp", "°C", [30.0, 30.0, 29.0, 29.0]),
        ("wx", "outdoor_temp", "°C", [32.0; 4]),
        ("wx", "outdoor_humidity", "%", [60.0; 4]),
        ("chw", "chw_supply_temp", "°C", [7.0; 4]),
        ("chw", "chw_return_temp", "°C", [12.0, 10.75, 9.5, 8.25]),
        ("chw", "water_flow", "m³/h", [60.0; 4]),
    ];
    let mut totals = vec![1000.0; counters.len()];
    let mut batch = Vec::new();
    for m in -1i64..60 {
        let q = m.clamp(0, 59) as usize / 15;
        let mut by_device: BTreeMap<&str, Vec<Reading>> = BTreeMap::new();
        for (k, (d, quantity, unit, rate)) in counters.iter().enumerate() {
            totals[k] += rate[q] / 60.0;
            by_device
                .entry(d)
                .or_default()
                .push(reading(quantity, totals[k], unit));
        }
        for (d, quantity, unit, v) in values {
            by_device
                .entry(d)
                .or_default()
                .push(reading(quantity, v[q], unit));
        }
        for (device, readings) in by_device {
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

use std::collections::BTreeMap;

fn hour(store: &Store, assets: &Assets, asset: &str) -> Row {
    let from = t0().timestamp_millis();
    let r = read(store, assets, asset, Step::Hour, from, from + 3_600_000)
        .unwrap()
        .unwrap();
    assert_eq!(r.rows.len(), 1, "{asset}: one hour");
    r.rows[0].clone()
}

/// Within 0.1 % of the hand value.
fn near(row: &Row, name: &str, want: f64) {
    let got = row
        .values
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing: {:?}", row.missing.get(name)));
    assert!(
        (got - want).abs() <= 1e-3 * want.abs().max(1e-9),
        "{name}: got {got}, want {want}"
    );
}

#[test]
fn utility_indicators_match_hand_calculations() {
    let (s, a) = scenario();

    let r = hour(&s, &a, "pump");
    // Quarter volumes 30, 22.5, 15, 7.5 m³; Δp (discharge − 0.5 bar) 300, 250, 200, 150 kPa.
    near(&r, "energy_kwh", 12.5);
    near(&r, "water_m3", 75.0);
    near(&r, "avg_flow_m3h", 75.0);
    near(&r, "kwh_per_m3", 12.5 / 75.0);
    // (30·300 + 22.5·250 + 15·200 + 7.5·150) / 3 600 = 18 750 / 3 600 kWh.
    let eh = 18_750.0 / 3600.0;
    near(&r, "hydraulic_kwh", eh);
    near(&r, "wire_to_water_pct", 100.0 * eh / 12.5);
    // Flow-weighted head: 18 750 kJ / (998.2 × 9.806 65 × 75 m³) × 1 000.
    near(&r, "avg_head_m", 18_750_000.0 / (998.2 * 9.80665 * 75.0));
    // Drive at q = 1, 0.75, 0.5, 0.25 of 120 m³/h: 20 kW × q × (0.2 + 0.8 q²), a quarter each:
    // 20, 9.75, 4.0, 1.25 kW.
    let vfd = (20.0 + 9.75 + 4.0 + 1.25) * 0.25;
    near(&r, "vfd_estimate_kwh", vfd);
    near(&r, "vfd_savings_kwh", 12.5 - vfd);
    near(&r, "vfd_savings_pct", 100.0 * (12.5 - vfd) / 12.5);

    let r = hour(&s, &a, "fan");
    // 9 000 m³ a quarter at 600 m³/min, then 4 500 at 300.
    near(&r, "energy_kwh", 8.25);
    near(&r, "air_volume_m3", 27_000.0);
    near(&r, "avg_flow_m3s", 7.5);
    near(&r, "sfp_kw_per_m3s", 8.25 / 7.5);
    // (2 × 9 000 × 0.8 + 2 × 4 500 × 0.5) / 3 600 kWh.
    near(&r, "air_kwh", 18_900.0 / 3600.0);
    near(&r, "avg_pressure_kpa", 18_900.0 / 27_000.0);
    near(&r, "fan_efficiency_pct", 100.0 * 18_900.0 / 3600.0 / 8.25);

    let r = hour(&s, &a, "boiler");
    // 0.9 t of steam at 8 bar(g): IF97 h″(9.013 25 bar) = 2 773.096 kJ/kg, feedwater 80 °C
    // h′ = 334.95 kJ/kg (iapws.IAPWS97).
    let steam_kwh = 900.0 * (2773.096 - 334.95) / 3600.0;
    // 75 m³ of natural gas × 8 107 kcal/m³ × 4.186 8 kJ/kcal.
    let fuel_kwh = 75.0 * 8107.0 * 4.1868 / 3600.0;
    near(&r, "steam_t", 0.9);
    near(&r, "steam_energy_kwh", steam_kwh);
    near(&r, "fuel_used", 75.0);
    near(&r, "fuel_energy_kwh", fuel_kwh);
    near(&r, "fuel_kloe", 75.0 * 8107.0 / 1e7);
    near(&r, "direct_efficiency_pct", 100.0 * steam_kwh / fuel_kwh);
    // Siegert, natural gas (A2 0.66, B 0.009): 175 × (0.66/18 + 0.009) on 50 m³,
    // 155 × (0.66/17 + 0.009) on 25 m³.
    let q1 = 175.0 * (0.66 / 18.0 + 0.009);
    let q2 = 155.0 * (0.66 / 17.0 + 0.009);
    let loss = (50.0 * q1 + 25.0 * q2) / 75.0;
    near(&r, "flue_gas_loss_pct", loss);
    near(&r, "indirect_efficiency_pct", 100.0 - loss - 2.0);
    near(&r, "fuel_per_t", 75.0 / 0.9);
    near(&r, "cost", 75.0 * 15.0);
    near(&r, "cost_per_t", 75.0 * 15.0 / 0.9);
    // IPCC 2006 natural gas: 56 100 + 28 × 1 + 265 × 0.1 kg CO2e/TJ; 8 107 kcal/m³.
    let kg = 75.0 * 8107.0 * 4.1868e-9 * (56_100.0 + 28.0 + 26.5);
    near(&r, "co2e_kg", kg);
    near(&r, "co2e_per_t_kg", kg / 0.9);
    assert!(
        r.missing["electricity_kwh"].contains("power"),
        "{:?}",
        r.missing
    );

    let r = hour(&s, &a, "tower");
    // Stull (2011) wet bulb at 32 °C, 60 % RH: 25.7926 °C.
    let wb = 25.792_634;
    near(&r, "energy_kwh", 7.5);
    near(&r, "operating_h", 1.0);
    near(&r, "range_c", 4.5);
    near(&r, "approach_c", 29.5 - wb);
    near(&r, "wet_bulb_c", wb);
    near(&r, "effectiveness_pct", 100.0 * 4.5 / (4.5 + 29.5 - wb));
    // 50 m³ a quarter: 1.163 × (2 × 50 × 5 + 2 × 50 × 4) kWh.
    let rejected = 1.163 * 900.0;
    near(&r, "heat_rejected_kwh", rejected);
    near(&r, "heat_rejected_trh", rejected / 3.517);
    near(&r, "fan_kw_per_tr", 7.5 / (rejected / 3.517));

    let r = hour(&s, &a, "chw");
    // 15 m³ a quarter, ΔT 5, 3.75, 2.5, 1.25 °C.
    let trh = 1.163 * 15.0 * 12.5 / 3.517;
    let chillers = (70.0 + 45.0 + 28.0 + 18.0) / 4.0;
    near(&r, "cooling_trh", trh);
    near(&r, "cooling_tr", trh);
    near(&r, "chillers_kwh", chillers);
    near(&r, "chw_pumps_kwh", 10.0);
    near(&r, "cw_pumps_kwh", 8.0);
    near(&r, "towers_kwh", 7.5);
    near(&r, "energy_kwh", chillers + 25.5);
    near(&r, "plant_kw_per_tr", (chillers + 25.5) / trh);
    near(&r, "chillers_kw_per_tr", chillers / trh);
    near(&r, "chw_pumps_kw_per_tr", 10.0 / trh);
    near(&r, "cw_pumps_kw_per_tr", 8.0 / trh);
    near(&r, "towers_kw_per_tr", 7.5 / trh);
    near(&r, "plant_cop", trh * 3.517 / (chillers + 25.5));

    let r = hour(&s, &a, "hr");
    // 50 kW for half an hour; a 90 % gas heater would have burned 25 / 0.9 kWh.
    let fuel = 25.0 / 0.9;
    let m3 = fuel / (8107.0 * 4.1868 / 3600.0);
    near(&r, "recovered_kwh", 25.0);
    near(&r, "recovered_kw", 25.0);
    near(&r, "fuel_avoided_kwh", fuel);
    near(&r, "fuel_avoided", m3);
    near(&r, "fuel_avoided_kloe", m3 * 8107.0 / 1e7);
    near(&r, "co2e_avoided_kg", m3 * 8107.0 * 4.1868e-9 * 56_154.5);
    assert!(r.missing.contains_key("cost_avoided"));

    let r = hour(&s, &a, "light");
    // On (≥ 5 kW) in the first two quarters: 6.5 kWh over 0.5 h lit.
    near(&r, "energy_kwh", 6.5);
    near(&r, "operating_h", 0.5);
    near(&r, "kwh_per_operating_h", 13.0);
    near(&r, "kwh_per_m2", 0.0065);
    near(&r, "w_per_m2", 13.0);

    // The hour's summary merges its quarters' facts, never their ratios.
    let from = t0().timestamp_millis();
    let q = read(&s, &a, "pump", Step::Quarter, from, from + 3_600_000)
        .unwrap()
        .unwrap();
    let got = q.summary.values["wire_to_water_pct"];
    assert!((got - 100.0 * eh / 12.5).abs() < 1e-9, "{got}");
    let listed = list(&a);
    let kinds: Vec<&str> = listed.iter().map(|i| i.kind).collect();
    assert_eq!(
        kinds,
        [
            "pump",
            "fan",
            "boiler",
            "cooling_tower",
            "chw_plant",
            "heat_recovery",
            "lighting"
        ]
    );
    for info in &listed {
        let r = hour(&s, &a, &info.id);
        for d in &info.indicators {
            assert!(
                r.values.contains_key(&d.name) || r.missing.contains_key(&d.name),
                "{}: {} neither computed nor explained",
                info.id,
                d.name
            );
        }
    }
}

#[test]
fn stull_wet_bulb_matches_the_papers_example() {
    // Stull (2011): 20 °C and 50 % RH give a wet bulb of 13.7 °C.
    let wb = super::cooling_tower::stull_wet_bulb(20.0, 50.0);
    assert!((wb - 13.7).abs() < 0.05, "{wb}");
}

/// The error of a site file with `assets`; the devices listed only when `devices`.
fn config_error(assets: &str, devices: bool) -> String {
    let listed = "[[devices]]\nid = \"pm\"\nprofile = \"advantech-adam-4117\"\ntcp = \"127.0.0.1:502\"\nchannels = [{ channel = 0, quantity = \"water_flow\", unit = \"m³/h\", range = [0.0, 200.0] }, { channel = 1, quantity = \"differential_pressure\", unit = \"kPa\", range = [0.0, 500.0] }]\n\n[[devices]]\nid = \"p1\"\nprofile = \"eastron-sdm630\"\ntcp = \"127.0.0.1:502\"\n\n";
    let site = format!(
        "[site]\nid = \"s\"\ntimezone = \"Asia/Taipei\"\n\n{}{assets}",
        if devices { listed } else { "" }
    );
    let config = SiteConfig::parse(&site, "bad.toml", &ProfileLibrary::builtin())
        .unwrap_or_else(|e| panic!("{e}"));
    Assets::from_site(&config, "bad.toml")
        .unwrap_err()
        .to_string()
}

#[test]
fn site_file_errors_name_file_and_key() {
    let ok = "[[assets]]\nid = \"p\"\ntype = \"pump\"\npower = [\"p1\"]\nflow = \"pm/water_flow\"\nhead = \"pm/differential_pressure\"\n";
    for (assets, key, words) in [
        (
            ok.replace("head = \"pm/differential_pressure\"\n", ""),
            "assets[0].head",
            "missing required input",
        ),
        (
            ok.replace("pm/water_flow", "pm/differential_pressure"),
            "assets[0].flow",
            "expected a water_flow (m³/h) or water_volume (m³) series",
        ),
        (
            ok.replace("pm/water_flow", "pm/water_volume"),
            "assets[0].flow",
            "unknown input series `pm/water_volume`",
        ),
        (
            ok.replace("[\"p1\"]", "[\"p9\"]"),
            "assets[0].power",
            "unknown device `p9`",
        ),
        (
            ok.replace("type = \"pump\"", "type = \"kettle\""),
            "assets[0].type",
            "\"cooling_tower\"",
        ),
        (
            format!("{ok}density_kg_m3 = 5.0\n"),
            "assets[0].density_kg_m3",
            "outside",
        ),
        (
            "[[assets]]\nid = \"b\"\ntype = \"boiler\"\nfuel = \"natural_gas\"\nfuel_meter = \"pm/coal_mass\"\nsteam = \"pm/steam_mass\"\nsteam_enthalpy_kj_kg = 2800.0\nfeedwater_temp_c = 80.0\n".to_owned(),
            "assets[0].fuel",
            "cannot be converted",
        ),
        (
            "[[assets]]\nid = \"t\"\ntype = \"cooling_tower\"\npower = [\"p1\"]\nhot_water = \"pm/cw_return_temp\"\ncold_water = \"pm/cw_supply_temp\"\nflow = \"pm/water_flow\"\nhumidity = \"pm/outdoor_humidity\"\n".to_owned(),
            "assets[0].hot_water",
            "unknown input series",
        ),
        (
            "[[assets]]\nid = \"l\"\ntype = \"lighting\"\npower = [\"p1\"]\narea_m2 = 100.0\n".to_owned(),
            "assets[0].run",
            "missing required input",
        ),
    ] {
        // The boiler's fuel/meter mismatch shows on a site without [[devices]] (with them, the
        // meter's device is refused first).
        let e = config_error(&assets, !assets.contains("boiler"));
        assert!(
            e.contains("bad.toml") && e.contains(key) && e.contains(words),
            "{assets}\n→ {e}"
        );
    }
    // And the well-formed pump loads.
    let site = format!("[site]\nid = \"s\"\ntimezone = \"Asia/Taipei\"\n\n{ok}");
    let config = SiteConfig::parse(&site, "ok.toml", &ProfileLibrary::builtin()).unwrap();
    assert_eq!(Assets::from_site(&config, "ok.toml").unwrap().list.len(), 1);
}
