//! Priced savings against a bill computed by hand.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::*;
use crate::mv::frame::{Obs, Zone};

const TZ: Zone = Zone::Named(chrono_tz::Asia::Taipei);
const HV: &str = include_str!("../../../seeds/tariffs/example-hv-three-period.toml");
const FACTORS: &str = include_str!("../../../seeds/emission-factors.toml");

fn at(y: i32, m: u32, d: u32, h: u32) -> i64 {
    TZ.instant(
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap(),
    )
}

/// Quarter-hours of one day at `kw(hour)`.
fn day(y: i32, m: u32, d: u32, kw: impl Fn(u32) -> f64) -> Vec<Obs> {
    (0..96)
        .map(|q| Obs {
            ts: at(y, m, d, 0) + q as i64 * QUARTER_MS,
            energy: Some(kw(q / 4) / 4.0),
            temp: None,
            vars: vec![],
        })
        .collect()
}

fn close(what: &str, got: f64, want: f64) {
    assert!((got - want).abs() < 1e-6, "{what}: {got} vs {want}");
}

#[test]
fn priced_savings_match_a_hand_computed_bill() {
    // Fri 2026-05-29 (non-summer) at a flat 100 kW; Mon 2026-06-01 (summer) at 100 kW but
    // 400 kW over the summer peak hours 16-22.
    let mut obs = day(2026, 5, 29, |_| 100.0);
    obs.extend(day(2026, 6, 1, |h| {
        if (16..22).contains(&h) {
            400.0
        } else {
            100.0
        }
    }));
    let raw = Raw {
        zone: TZ,
        interval: QUARTER_MS,
        obs,
        has_temp: false,
        vars: vec![],
    };
    let periods = [
        // 2400 kWh measured, 240 kWh avoided.
        Avoided {
            start: at(2026, 5, 29, 0),
            end: at(2026, 5, 30, 0),
            actual: 2400.0,
            adjusted: 2640.0,
        },
        // 900 off-peak + 900 half-peak + 2400 peak = 4200 kWh measured, 420 kWh avoided.
        Avoided {
            start: at(2026, 6, 1, 0),
            end: at(2026, 6, 2, 0),
            actual: 4200.0,
            adjusted: 4620.0,
        },
    ];
    let pricing = Pricing {
        tariff: Some(Tariff::parse(HV).unwrap()),
        factors: Some(EmissionFactors::parse(FACTORS).unwrap()),
        contract_kw: Some(380.0),
        no_demand: None,
        power_factor: Some(BTreeMap::from([("2026-06".to_owned(), 0.90)])),
    };
    let p = price(&raw, Granularity::Day, &periods, &pricing).unwrap();
    // Energy, split like the measured load:
    //   May 29, non-summer weekday: half-peak 06-11 + 14-24 = 15 h, off-peak 9 h of a flat load
    //     half_peak 240 × 15/24 = 150 kWh × 5.47 = 820.5;  off_peak 90 kWh × 2.32 = 208.8
    //   June 1, summer weekday: peak 2400/4200, half-peak 900/4200, off-peak 900/4200 of 420
    //     peak 240 kWh × 9.34 = 2241.6; half_peak 90 × 5.85 = 526.5; off_peak 90 × 2.53 = 227.7
    let want = [
        ("peak", "summer", 240.0, 9.34),
        ("half_peak", "non_summer", 150.0, 5.47),
        ("half_peak", "summer", 90.0, 5.85),
        ("off_peak", "non_summer", 90.0, 2.32),
        ("off_peak", "summer", 90.0, 2.53),
    ];
    assert_eq!(p.by_period.len(), want.len(), "{:#?}", p.by_period);
    for (name, season, kwh, rate) in want {
        let row = p
            .by_period
            .iter()
            .find(|r| r.period == name && r.season == season)
            .unwrap();
        close(&format!("{name} {season} kWh"), row.kwh, kwh);
        assert_eq!(row.rate, rate);
        close(&format!("{name} {season} cost"), row.cost, kwh * rate);
    }
    close(
        "energy cost",
        p.energy_cost,
        820.5 + 208.8 + 2241.6 + 526.5 + 227.7,
    );
    // Demand, contract 380 kW:
    //   May: peak 100 kW; + 150 kWh / 15 half-peak hours = 10 kW → 110 kW: no over-contract.
    //   June: peak 400 kW; + 240 kWh / 6 peak hours = 40 kW → 440 kW estimated.
    //     basic 236.20 (summer); 10 % of 380 = 38 kW at 2×, the rest at 3×
    //     440: 38 × 2 × 236.2 + 22 × 3 × 236.2 = 17 951.2 + 15 589.2 = 33 540.4
    //     400: 20 × 2 × 236.2 = 9 448.0            → saved 24 092.4
    assert_eq!(p.demand.len(), 2);
    close("May actual peak", p.demand[0].actual_peak_kw, 100.0);
    close(
        "May baseline peak",
        p.demand[0].baseline_peak_kw_estimate,
        110.0,
    );
    close("May demand", p.demand[0].cost, 0.0);
    close("June actual peak", p.demand[1].actual_peak_kw, 400.0);
    close(
        "June baseline peak",
        p.demand[1].baseline_peak_kw_estimate,
        440.0,
    );
    close("demand cost", p.demand_cost.unwrap(), 33_540.4 - 9_448.0);
    // Power factor: June measured 0.90, 10 points above the 0.80 base: −1 % of June's saved
    // charges (2995.8 + 24 092.4) = −270.882; May unmeasured: no adjustment.
    close(
        "pf adjustment",
        p.pf_adjustment,
        -0.01 * (2995.8 + 24_092.4),
    );
    close("total", p.total, 4025.1 + 24_092.4 - 270.882);
    // CO2e: 660 kWh in 2026 at the 2023 factor (the latest published), 0.494 kg/kWh.
    close("CO2e", p.co2e_kg.unwrap(), 660.0 * 0.494);
    assert_eq!(
        p.emission_factors,
        [FactorUsed {
            year: 2026,
            factor: 0.494,
            source_year: 2023
        }]
    );
    assert_eq!(p.currency, "TWD");
    assert!(p
        .assumptions
        .iter()
        .any(|a| a.contains("shaped like the measured load")));
    assert!(p.assumptions.iter().any(|a| a.contains("ESTIMATE")));
    assert!(p
        .assumptions
        .iter()
        .any(|a| a.contains("2026-05: no measured power factor")));
}

#[test]
fn hours_classify_exactly_and_coarse_data_cannot_price_demand() {
    let obs = day(2026, 6, 1, |_| 100.0);
    let hourly: Vec<Obs> = obs
        .chunks(4)
        .map(|c| Obs {
            energy: Some(100.0),
            ..c[0].clone()
        })
        .collect();
    let raw = Raw {
        zone: TZ,
        interval: HOUR_MS,
        obs: hourly,
        has_temp: false,
        vars: vec![],
    };
    // 16:00 on a summer Monday is peak, 08:00 off-peak.
    let periods = [
        Avoided {
            start: at(2026, 6, 1, 16),
            end: at(2026, 6, 1, 17),
            actual: 100.0,
            adjusted: 110.0,
        },
        Avoided {
            start: at(2026, 6, 1, 8),
            end: at(2026, 6, 1, 9),
            actual: 100.0,
            adjusted: 105.0,
        },
    ];
    let pricing = Pricing {
        tariff: Some(Tariff::parse(HV).unwrap()),
        contract_kw: Some(380.0),
        ..Default::default()
    };
    let p = price(&raw, Granularity::Hour, &periods, &pricing).unwrap();
    close("energy", p.energy_cost, 10.0 * 9.34 + 5.0 * 2.53);
    assert_eq!(p.demand_cost, None);
    assert!(
        p.assumptions
            .iter()
            .any(|a| a.contains("interval is 60 min")),
        "{:?}",
        p.assumptions
    );
    assert!(p
        .assumptions
        .iter()
        .any(|a| a.contains("no reactive or apparent energy")));
    assert_eq!(p.co2e_kg, None);
    close("total", p.total, p.energy_cost);
    // No tariff: nothing to price.
    assert!(price(&raw, Granularity::Hour, &periods, &Pricing::default()).is_none());
}
