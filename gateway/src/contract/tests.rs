//! The optimiser against brute force over a 1 kW grid of capacities, billed by the EnPI
//! engine's own bill (`month_bill`), on synthetic and on the demo plant's demand.

use chrono::{DateTime, Duration, Utc};
use kilowatch_site::config::Contracts;

use super::months::{from_quarters, MonthDemand};
use super::optimise::{optimise, year_cost};
use crate::enpi::contract_bill::Capacities;
use crate::enpi::tariff::Tariff;

const HV: &str = include_str!("../../../seeds/tariffs/example-hv-three-period.toml");

/// A small deterministic generator (no dependency for a test's noise).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Twelve months (Jan..Dec 2026) of maxima, multiples of 11 kW up to `max` so every breakpoint
/// (D and D / 1.1) is a whole kW and lies on the brute-force grid.
fn synthetic(t: &Tariff, seed: u64, max: u64) -> Vec<MonthDemand> {
    let mut rng = Lcg(seed);
    let summer = t.season(chrono::NaiveDate::from_ymd_opt(2026, 7, 1).unwrap());
    (1..=12u32)
        .map(|m| {
            let first = chrono::NaiveDate::from_ymd_opt(2026, m, 1).unwrap();
            let season = t.season(first);
            let mut d = || Some(11.0 * (1 + rng.next(max / 11)) as f64);
            MonthDemand {
                month: format!("2026-{m:02}"),
                season,
                // Peak has no hours outside summer in this tariff.
                demand_kw: [if season == summer { d() } else { None }, d(), d(), d()],
            }
        })
        .collect()
}

/// The least cost over every whole-kW set of capacities with regular ≥ 1 kW and the total up
/// to `max` (more than the highest demand only adds basic charges).
fn brute_force(t: &Tariff, months: &[MonthDemand], max: usize, step: usize) -> (f64, Capacities) {
    let mut best = (f64::INFINITY, [0.0; 4]);
    for r in (1..=max).step_by(step) {
        for h in (0..=max - r).step_by(step) {
            for s in (0..=max - r - h).step_by(step) {
                for o in (0..=max - r - h - s).step_by(step) {
                    let caps = [r as f64, h as f64, s as f64, o as f64];
                    let c = year_cost(t, months, &caps).unwrap().total;
                    if c < best.0 {
                        best = (c, caps);
                    }
                }
            }
        }
    }
    best
}

#[test]
fn optimum_matches_brute_force_on_synthetic_demand() {
    let t = Tariff::parse(HV).unwrap();
    for seed in [1, 7, 42] {
        let months = synthetic(&t, seed, 55);
        let o = optimise(&t, months.clone(), None).unwrap();
        let (brute, at) = brute_force(&t, &months, 55, 1);
        assert!(
            (o.best.total - brute).abs() < 1e-6,
            "seed {seed}: optimiser {} at {:?}, brute force {brute} at {at:?}",
            o.best.total,
            o.best.capacities
        );
        // The reported cost is the bill's at the reported capacities.
        let caps = crate::enpi::contract_bill::capacities(&o.best.capacities);
        assert!((year_cost(&t, &months, &caps).unwrap().total - o.best.total).abs() < 1e-6);
        // The curve's lowest point is the optimum.
        for c in &o.curves {
            let low = c.points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
            assert!(low >= o.best.total - 1e-6, "{}: {low}", c.kind);
        }
    }
}

#[test]
fn too_low_and_too_high_contracts_cost_more_and_the_saving_says_how_much() {
    let t = Tariff::parse(HV).unwrap();
    let months = synthetic(&t, 3, 55);
    for current in [
        Contracts::regular_only(11.0),
        Contracts::regular_only(60.0),
        Contracts {
            regular: 30.0,
            half_peak: 10.0,
            saturday_half_peak: 5.0,
            off_peak: 5.0,
        },
    ] {
        let o = optimise(&t, months.clone(), Some(&current)).unwrap();
        let cur = o.current.as_ref().unwrap();
        assert!(cur.total > o.best.total, "{current:?}");
        assert!((o.saving.unwrap() - (cur.total - o.best.total)).abs() < 1e-9);
    }
    // The exceedances listed are exactly the months billed an excess at the optimum.
    let o = optimise(&t, months.clone(), None).unwrap();
    let sum: f64 = o.exceeded.iter().map(|e| e.charge).sum();
    assert!((sum - o.best.over_contract).abs() < 1e-6);
    assert!(o.exceeded.iter().all(|e| e.demand_kw > e.allowed_kw));
}

#[test]
fn the_two_period_tariff_keeps_unpriced_kinds_at_zero() {
    let lv = include_str!("../../../seeds/tariffs/example-lv-two-period.toml");
    let t = Tariff::parse(lv).unwrap();
    let months = synthetic(&t, 5, 44)
        .into_iter()
        .map(|mut m| {
            // Only peak (regular) and off-peak periods exist.
            m.demand_kw = [m.demand_kw[1], None, None, m.demand_kw[3]];
            m
        })
        .collect::<Vec<_>>();
    let o = optimise(&t, months.clone(), None).unwrap();
    assert_eq!(o.best.capacities.half_peak, 0.0);
    assert_eq!(o.best.capacities.saturday_half_peak, 0.0);
    let mut brute = f64::INFINITY;
    for r in 1..=44 {
        for off in 0..=44 - r {
            let c = year_cost(&t, &months, &[r as f64, 0.0, 0.0, off as f64]).unwrap();
            brute = brute.min(c.total);
        }
    }
    assert!(
        (o.best.total - brute).abs() < 1e-6,
        "{} {brute}",
        o.best.total
    );
    assert_eq!(
        o.curves.len(),
        2,
        "no curve for kinds the tariff does not price"
    );
}

/// A year of the demo plant's incomer demand (the simulator stepped each minute), optimised
/// and checked against brute force on a grid of allowances, whole kW, around every breakpoint.
#[test]
fn optimum_matches_brute_force_on_demo_plant_demand() {
    use kilowatch_site::config::SiteConfig;
    use kilowatch_site::profile::ProfileLibrary;
    let config = SiteConfig::parse(
        crate::DEMO_SITE,
        "demo-site.toml",
        &ProfileLibrary::builtin(),
    )
    .unwrap();
    let tz = config.timezone();
    let settings = crate::sim::plant_settings(&config, "demo-site.toml").unwrap();
    let mut plant = crate::sim::plant::Plant::new(settings, tz);
    let start: DateTime<Utc> = "2025-01-01T00:00:00+08:00".parse().unwrap();
    let mut quarters = Vec::with_capacity(35_040);
    let mut t = start;
    let mut last = plant.snapshot().incomer_kwh;
    for q in 0..35_040 {
        for _ in 0..15 {
            t += Duration::seconds(60);
            plant.step(t, 60.0);
        }
        let kwh = plant.snapshot().incomer_kwh;
        quarters.push((start.timestamp_millis() + q * 900_000, (kwh - last) / 0.25));
        last = kwh;
    }
    let t = Tariff::parse(HV).unwrap();
    let months = from_quarters(&t, tz, quarters);
    assert_eq!(months.len(), 12);
    let o = optimise(&t, months.clone(), config.contracts().as_ref()).unwrap();
    // Brute force: every whole kW of each capacity, with the total up to the highest demand
    // rounded up; too many points for four nested loops at 1 kW over the plant's range, so each
    // capacity is searched at 1 kW within ±15 kW of the optimum, and coarse (a thirtieth of the range) over the
    // whole range (the coarse search cannot beat the exact optimum either).
    let best = crate::enpi::contract_bill::capacities(&o.best.capacities);
    let mut local = f64::INFINITY;
    let around = |x: f64, lo: f64| {
        let a = (x.floor() - 15.0).max(lo) as i64;
        (a..=x.ceil() as i64 + 15)
            .map(|v| v as f64)
            .collect::<Vec<_>>()
    };
    for r in around(best[0], 1.0) {
        for h in around(best[1], 0.0) {
            for s in around(best[2], 0.0).iter().step_by(3) {
                for off in around(best[3], 0.0) {
                    let c = year_cost(&t, &months, &[r, h, *s, off]).unwrap().total;
                    local = local.min(c);
                }
            }
        }
    }
    assert!(
        o.best.total <= local + 1e-6,
        "optimiser {} vs local grid {local}",
        o.best.total
    );
    let max = months
        .iter()
        .flat_map(|m| m.demand_kw.iter().flatten())
        .fold(0.0f64, |a, b| a.max(*b))
        .ceil() as usize;
    let (coarse, _) = brute_force(&t, &months, max, (max / 30).max(1));
    assert!(
        o.best.total <= coarse + 1e-6,
        "{} vs {coarse}",
        o.best.total
    );
    // A 1 kW grid can only miss the exact optimum by the cost of under 1 kW of the dearest
    // slope: the optimum is not a rounding artefact.
    assert!(local - o.best.total < 12.0 * 4.0 * 3.3 * 236.2);
    assert!(o.saving.unwrap() >= -1e-6);
}
