//! The demo plant's utilities against the simulator: three days of metered history (sampled
//! like the poller, with instrument noise) through the EnPI engine, each indicator within
//! 0.1 % of the same quantity integrated second by second from the simulator's own state, and
//! the retrofits' truth against the affinity laws and the Siegert loss.

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::sim::plant::Plant;

/// Sums over whole plant-local days, second by second, of what the simulator did.
#[derive(Default)]
struct Twin {
    chw_pump_kwh: f64,
    chw_m3: f64,
    cw_pump_kwh: f64,
    cw_m3: f64,
    fan_kwh: f64,
    fan_air_m3: f64,
    tower_kwh: f64,
    rejected_kwh: f64,
    range_s: f64,
    approach_s: f64,
    seconds: f64,
    chiller_kwh: f64,
    cooling_trh: f64,
    steam_kwh: f64,
    fuel_kwh: f64,
    loss_kwh: f64,
}

fn near(got: f64, want: f64, what: &str) {
    assert!(
        ((got - want) / want).abs() < 0.001,
        "{what}: from the meters {got:.5}, from the simulator {want:.5} ({:+.3} %)",
        100.0 * (got - want) / want
    );
}

#[test]
fn utility_enpis_on_the_simulated_history_match_the_simulator_within_0_1_pct() {
    // 2026-11-15 (a Sunday) to 2026-11-17, Asia/Taipei: the pump and fan drives are in, the
    // boiler's O2 trim starts on the 16th.
    let end: DateTime<Utc> = "2026-11-17T16:00:00Z".parse().unwrap();
    let (config, assets, mut store, report) = crate::backfill::demo_history(
        "enpi-sim-util",
        std::time::Duration::from_secs(3 * 86_400 + 3600),
        end,
    );
    let (from, to) = (report.from.timestamp_millis(), report.to.timestamp_millis());
    recompute(&mut store, &assets, from, to, to, || {}).unwrap();

    let settings = crate::sim::plant_settings(&config, "demo-site.toml").unwrap();
    let boiler = settings.boiler.clone();
    let mut plant = Plant::new(settings, config.timezone());
    for k in (1..=300).rev() {
        plant.step(report.from - Duration::seconds(k), 1.0);
    }
    let day0 = Step::Day.bucket_end(
        Step::Day.bucket_start(from, assets.timezone),
        assets.timezone,
    );
    let day_n = Step::Day.bucket_start(to, assets.timezone);
    assert_eq!(day_n - day0, 3 * 86_400_000, "three whole days");
    let mut w = Twin::default();
    let mut t = report.from;
    let h = 1.0 / 3600.0;
    while t < report.to {
        plant.step(t, 1.0);
        let ms = t.timestamp_millis();
        if ms >= day0 && ms < day_n {
            let s = plant.snapshot();
            let u = &s.utilities;
            w.chw_pump_kwh += u.chw_pump_kw * h;
            w.chw_m3 += u.chw_flow_m3h * h;
            w.cw_pump_kwh += u.cw_pump_kw * h;
            w.cw_m3 += u.cw_flow_m3h * h;
            w.fan_kwh += u.exhaust_kw * h;
            w.fan_air_m3 += u.exhaust_flow_m3min / 60.0;
            w.tower_kwh += u.tower_fan_kw * h;
            w.rejected_kwh += u.heat_rejected_kw * h;
            w.range_s += u.cw_return_c - u.cw_supply_c;
            w.approach_s += u.cw_supply_c - u.wet_bulb_c;
            w.seconds += 1.0;
            w.chiller_kwh += s.chiller_kw * h;
            w.cooling_trh += s.cooling_tr * h;
            w.steam_kwh +=
                u.steam_tph / 3.6 * (boiler.steam_h_kj_kg - 4.186 * boiler.feedwater_c) * h;
            w.fuel_kwh += u.fuel_kw * h;
            w.loss_kwh +=
                boiler.flue_loss_pct(u.flue_c, u.combustion_air_c, u.flue_o2_pct) * u.fuel_kw * h;
        }
        t += Duration::seconds(1);
    }
    let summary = |asset: &str| {
        let r = read(&store, &assets, asset, Step::Day, day0, day_n)
            .unwrap()
            .unwrap();
        assert!(r.rows.iter().all(|r| !r.partial), "{asset}: partial days");
        r.summary.values
    };

    // Pumps: electricity per m³, and the wire-to-water efficiency the simulator was built with.
    let chw = summary("chw-pump");
    near(
        chw["kwh_per_m3"],
        w.chw_pump_kwh / w.chw_m3,
        "CHW pump kWh/m³",
    );
    near(chw["wire_to_water_pct"], 62.0, "CHW pump wire-to-water");
    let cw = summary("cw-pump");
    near(cw["kwh_per_m3"], w.cw_pump_kwh / w.cw_m3, "CW pump kWh/m³");
    near(cw["wire_to_water_pct"], 60.0, "CW pump wire-to-water");
    // The CW pump runs at its rated point: a drive is estimated to save nothing there.
    assert!(
        cw["vfd_savings_pct"].abs() < 0.5,
        "{}",
        cw["vfd_savings_pct"]
    );

    // Exhaust fan: specific fan power and system efficiency.
    let fan = summary("exhaust-fan");
    near(
        fan["sfp_kw_per_m3s"],
        3600.0 * w.fan_kwh / w.fan_air_m3,
        "fan SFP",
    );
    near(fan["fan_efficiency_pct"], 55.0, "fan efficiency");

    // Cooling tower: range, approach, heat rejected, fan kW per rejected TR.
    let tower = summary("cooling-tower");
    near(tower["range_c"], w.range_s / w.seconds, "tower range");
    near(
        tower["approach_c"],
        w.approach_s / w.seconds,
        "tower approach",
    );
    near(tower["heat_rejected_kwh"], w.rejected_kwh, "heat rejected");
    near(
        tower["fan_kw_per_tr"],
        w.tower_kwh / (w.rejected_kwh / 3.517),
        "tower fan kW/TR",
    );

    // Chilled-water plant: chiller, both pumps and the tower fan per TR of cooling.
    let plant_r = summary("chw-plant");
    near(
        plant_r["plant_kw_per_tr"],
        (w.chiller_kwh + w.chw_pump_kwh + w.cw_pump_kwh + w.tower_kwh) / w.cooling_trh,
        "plant kW/TR",
    );

    // Boiler: direct efficiency (steam heat / fuel), the Siegert loss weighted by fuel, and
    // the indirect efficiency they imply; the simulator burns exactly what they say.
    let b = summary("boiler");
    near(b["fuel_energy_kwh"], w.fuel_kwh, "boiler fuel energy");
    near(
        b["direct_efficiency_pct"],
        100.0 * w.steam_kwh / w.fuel_kwh,
        "boiler direct efficiency",
    );
    near(
        b["flue_gas_loss_pct"],
        w.loss_kwh / w.fuel_kwh,
        "boiler flue-gas loss",
    );
    near(
        b["indirect_efficiency_pct"],
        b["direct_efficiency_pct"],
        "indirect vs direct efficiency",
    );

    // The truth: each drive saves what the affinity laws say, every day; the O2 trim saves
    // fuel from its first day.
    let days = |m: &str| -> Vec<(chrono::NaiveDate, f64)> {
        report
            .truth
            .iter()
            .filter(|(d, measure, _)| *measure == m && d.to_string().as_str() >= "2026-11-15")
            .map(|(d, _, kwh)| (*d, *kwh))
            .collect()
    };
    let full =
        crate::sim::utilities::pump_point(&crate::sim::utilities::default_chw_pump(), 90.0, 1.0).2;
    for (d, kwh) in days("pump_vfd") {
        // A day of 11.05 kW × (1 − 0.8³).
        near(
            kwh,
            24.0 * full * (1.0 - 0.8f64.powi(3)),
            &format!("pump {d}"),
        );
    }
    assert_eq!(days("pump_vfd").len(), 3);
    assert!(days("fan_vfd").iter().all(|(_, kwh)| *kwh > 0.0));
    // (The plant step that ends at midnight runs the new day's plant: its one second, a few
    // watt-hours, lands on the day before.)
    let trim: Vec<String> = days("boiler_o2_trim")
        .iter()
        .filter(|(_, kwh)| *kwh > 0.1)
        .map(|(d, _)| d.to_string())
        .collect();
    assert_eq!(trim, ["2026-11-16", "2026-11-17"], "O2 trim from its date");
    // Trimming O2 from 6 % to 3 % cuts the flue loss by (t_flue − t_air) × 0.66 × (1/15 −
    // 1/18), about 1.3 points: some 1.5 % of the fuel.
    let (_, saved) = *days("boiler_o2_trim").last().unwrap();
    let share = saved / (b["fuel_energy_kwh"] / 3.0);
    assert!(
        (0.01..0.025).contains(&share),
        "O2 trim saved {share:.4} of a day's fuel"
    );
}
