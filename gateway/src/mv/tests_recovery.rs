//! Truth recovery on synthetic plants with known savings: interval coverage, no verdict where
//! nothing was saved, the placebo back-test at its nominal rate, and the calendar and
//! occupancy models chosen where the data call for them.

use chrono::{Datelike, Duration, NaiveDate, Timelike};

use super::analysis::Request;
use super::frame::{parse_range, Granularity, Obs, Raw, VarSpec, Zone};
use super::model::TempUnit;
use super::verify::analyse;
use crate::sim::rng::Rng;

const TZ: Zone = Zone::Named(chrono_tz::Asia::Taipei);

/// A daily plant from 2025-01-01 with weather, production (weekday, Saturday, Sunday and
/// holiday levels), AR(1) noise (ρ = 0.5) and `saving` (a fraction) from 2026-01-01. Returns
/// the data and the true savings over the reporting period 2026-01-01..2026-06-30.
fn daily(seed: u64, saving: f64, with_production: bool) -> (Raw, f64, Vec<NaiveDate>) {
    let mut rng = Rng::new(seed);
    let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let retrofit = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let holidays: Vec<NaiveDate> = [
        "2025-02-03",
        "2025-04-04",
        "2025-10-10",
        "2026-02-16",
        "2026-04-03",
    ]
    .iter()
    .map(|d| d.parse().unwrap())
    .collect();
    let mut e_prev = 0.0;
    let mut truth = 0.0;
    let mut obs = Vec::new();
    for i in 0..(365 + 181) {
        let day = start + Duration::days(i);
        let season = (std::f64::consts::TAU * (i as f64 - 200.0) / 365.0).cos();
        let t = 23.0 + 6.0 * season + 1.5 * rng.gauss();
        let level = if holidays.contains(&day) {
            0.1
        } else {
            match day.weekday() {
                chrono::Weekday::Sat => 0.5,
                chrono::Weekday::Sun => 0.15,
                _ => 1.0,
            }
        };
        let p = 8000.0 * level * (0.9 + 0.2 * rng.uniform());
        e_prev = 0.5 * e_prev + 60.0 * rng.gauss();
        let base = 1200.0 + 40.0 * (t - 20.0).max(0.0) + 0.08 * p + e_prev;
        let e = if day >= retrofit {
            truth += saving * base;
            base * (1.0 - saving)
        } else {
            base
        };
        obs.push(Obs {
            ts: TZ.instant(day.and_time(Default::default())),
            energy: Some(e),
            temp: Some(t),
            vars: if with_production {
                vec![Some(p)]
            } else {
                vec![]
            },
        });
    }
    let raw = Raw {
        zone: TZ,
        interval: 86_400_000,
        obs,
        has_temp: true,
        vars: if with_production {
            vec![VarSpec::parse("units").unwrap()]
        } else {
            vec![]
        },
    };
    (raw, truth, holidays)
}

fn request(g: Granularity, baseline: &str, reporting: &str, holidays: &[NaiveDate]) -> Request {
    Request {
        source: "synthetic".into(),
        energy_unit: "kWh".into(),
        temp_unit: TempUnit::C,
        granularity: g,
        baseline: parse_range(baseline, TZ).unwrap(),
        reporting: parse_range(reporting, TZ).unwrap(),
        model: None,
        adjustments: vec![],
        holidays: holidays.to_vec(),
        accept_extrapolation: false,
        placebo: false,
    }
}

#[test]
fn truth_lies_in_the_interval_and_nothing_saved_is_never_verified() {
    let mut inside = 0;
    let cases = 30;
    for seed in 1..=cases {
        // Independent plants: no savings, 8 % with production metered, 12 % without.
        let (saving, production) = [(0.0, true), (0.08, true), (0.12, false)][seed as usize % 3];
        let (raw, truth, hol) = daily(seed, saving, production);
        let req = request(
            Granularity::Day,
            "2025-01-01..2025-12-31",
            "2026-01-01..2026-06-30",
            &hol,
        );
        let r = analyse(&raw, &req).unwrap();
        let s = &r.savings;
        let u90 = s.uncertainty_90.unwrap();
        inside += usize::from((s.avoided - truth).abs() <= u90);
        if saving == 0.0 {
            assert!(
                !s.verified,
                "seed {seed}: nothing was saved, yet {}",
                s.verdict
            );
            assert!(!s.reasons.is_empty());
        } else {
            assert!(s.verified, "seed {seed}: {}", s.verdict);
        }
        // Without a production driver the day types carry the weekly pattern.
        if !production {
            assert!(
                r.model.form.contains("+daytype"),
                "seed {seed}: {}",
                r.model.form
            );
        }
    }
    // Nominal 90 % intervals; 30 plants leave room for chance (the benchmark runs more).
    assert!(
        inside * 100 >= cases as usize * 85,
        "truth inside the 90 % interval in {inside} of {cases}"
    );
}

#[test]
fn placebo_windows_are_called_verified_at_most_at_the_nominal_rate() {
    let mut windows = 0;
    let mut verified = 0;
    for seed in 11..=14 {
        let (raw, _, hol) = daily(seed, 0.10, true);
        let mut req = request(
            Granularity::Day,
            "2025-01-01..2025-12-31",
            "2026-01-01..2026-01-31",
            &hol,
        );
        req.placebo = true;
        let r = analyse(&raw, &req).unwrap();
        let p = r.placebo.as_ref().unwrap();
        assert_eq!(p.window_periods, 31);
        assert_eq!(p.windows, 11, "{:?}", p.note);
        windows += p.windows;
        verified += p.verified;
        assert!(
            p.results.iter().all(|w| w.status != "error"),
            "{:#?}",
            p.results
        );
        // The measure itself is still found, with the back-test beside it.
        assert!(r.savings.verified, "{}", r.savings.verdict);
    }
    assert!(
        verified as f64 <= 0.05 * windows as f64,
        "{verified} of {windows} placebo windows called verified"
    );
}

#[test]
fn holidays_the_baseline_lacks_are_an_extrapolation() {
    let (raw, _, _) = daily(3, 0.1, false);
    // The baseline knows of no holiday; the reporting period has twelve.
    let hol: Vec<NaiveDate> = (0..12)
        .map(|i| NaiveDate::from_ymd_opt(2026, 3, 2).unwrap() + Duration::days(i))
        .collect();
    let mut req = request(
        Granularity::Day,
        "2025-01-01..2025-12-31",
        "2026-03-01..2026-03-31",
        &hol,
    );
    req.model = Some(super::model::Spec::parse("3p-cooling+daytype").unwrap());
    let r = analyse(&raw, &req).unwrap();
    assert!(
        r.savings
            .reasons
            .iter()
            .any(|w| w.starts_with("extrapolation: 12 of 31 reporting days are holiday days")),
        "{:#?}",
        r.savings.reasons
    );
}

#[test]
fn occupancy_gets_its_own_temperature_response_on_hourly_data() {
    let inside: usize = (1..=6).map(occupancy_case).sum();
    assert!(
        inside >= 5,
        "truth inside the 90 % interval in {inside} of 6"
    );
}

/// Twelve weeks of hourly data, 10 % saved over the last four; whether the truth lies in the
/// interval.
fn occupancy_case(seed: u64) -> usize {
    let mut rng = Rng::new(seed);
    let start = NaiveDate::from_ymd_opt(2025, 6, 2)
        .unwrap()
        .and_time(Default::default());
    let hours = 24 * 7 * 12;
    let retrofit = 24 * 7 * 8;
    let mut truth = 0.0;
    let mut ar = 0.0;
    let obs = (0..hours)
        .map(|i| {
            let local = start + Duration::hours(i as i64);
            let day = i as f64 / 24.0;
            let t = 27.0
                + 4.0 * (std::f64::consts::TAU * (local.hour() as f64 - 9.0) / 24.0).sin()
                + 2.0 * (day / 9.0).sin()
                + rng.gauss();
            let occupied =
                local.weekday().num_days_from_monday() < 5 && (8..18).contains(&local.hour());
            // Occupied hours cool the production hall: a steep response; unoccupied a flat one.
            let slope = if occupied { 12.0 } else { 2.0 };
            ar = 0.6 * ar + 4.0 * rng.gauss();
            let base = if occupied { 220.0 } else { 70.0 } + slope * (t - 22.0).max(0.0) + ar;
            let e = if i >= retrofit {
                truth += 0.1 * base;
                0.9 * base
            } else {
                base
            };
            Obs {
                ts: TZ.instant(local),
                energy: Some(e),
                temp: Some(t),
                vars: vec![],
            }
        })
        .collect();
    let raw = Raw {
        zone: TZ,
        interval: 3_600_000,
        obs,
        has_temp: true,
        vars: vec![],
    };
    let req = request(
        Granularity::Hour,
        "2025-06-02..2025-07-27",
        "2025-07-28..2025-08-24",
        &[],
    );
    let r = analyse(&raw, &req).unwrap();
    assert_eq!(
        r.model.form, "tow-temp-occupancy",
        "{:#?}",
        r.model.candidates
    );
    // Judged as a whole: no per-indicator p-value checks.
    assert!(r
        .model
        .checks
        .iter()
        .all(|c| !c.name.contains("variable p-value")));
    let s = &r.savings;
    assert!(s.verified, "seed {seed}: {}", s.verdict);
    usize::from((s.avoided - truth).abs() <= s.uncertainty_90.unwrap())
}
