//! The baseline and verdict on a series worked by hand (Asia/Taipei, the example tariff, whose
//! holidays include Fri 2026-06-19, 端午節).
//!
//! Event Thu 2026-06-25 13:00–13:30, two quarter-hours. Going back: Wed 06-24 is an earlier
//! event day, Sun 06-21, Sat 06-20 and the holiday 06-19 are skipped (each 1000 kW, so using
//! one would show). The five days: 06-23, 06-22, 06-18, 06-17, 06-16 with 13:00 at 140, 130,
//! 120, 110, 100 kW and 13:15 ten more, so their highest demands in the window are 150, 140,
//! 130, 120, 110: baseline (650 / 5) 130 kW.
//! Event day 13:00 40 kW, 13:15 60 kW: the event's highest 60, delivered 130 − 60 = 70 kW
//! (≥ 50, counted); committed 70 → pass, 75 → fail. Against the baseline the quarters are 90
//! and 70 kW below: average 80, (90 + 70) × 0.25 = 40 kWh.
//! At 100 kW in both quarters: 30 kW delivered, below the 50 kW minimum, counted as 0 → fail.
//! Additive: 10:00–12:00 is 100 kW on the baseline days; on the event day 110 → +10 kW
//! (baseline 140); at 200 → +100, capped at 20 % of 130: 156.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use kilowatch_site::config::{Adjustment, DrEvent};

use super::cbl::{verify, Calendar, Skipped};
use crate::enpi::tariff::Tariff;

const HV: &str = include_str!("../../../seeds/tariffs/example-hv-three-period.toml");
const TZ: chrono_tz::Tz = chrono_tz::Asia::Taipei;

fn at(day: &str, hhmm: &str) -> i64 {
    TZ.from_local_datetime(
        &NaiveDateTime::parse_from_str(&format!("{day} {hhmm}"), "%Y-%m-%d %H:%M").unwrap(),
    )
    .unwrap()
    .timestamp_millis()
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

const MORNING: [&str; 8] = [
    "10:00", "10:15", "10:30", "10:45", "11:00", "11:15", "11:30", "11:45",
];

/// The series above, the event day's morning at `morning` kW.
fn series(morning: f64) -> HashMap<i64, f64> {
    let mut m = HashMap::new();
    let days = [
        ("2026-06-15", 1000.0),
        ("2026-06-16", 100.0),
        ("2026-06-17", 110.0),
        ("2026-06-18", 120.0),
        ("2026-06-19", 1000.0),
        ("2026-06-20", 1000.0),
        ("2026-06-21", 1000.0),
        ("2026-06-22", 130.0),
        ("2026-06-23", 140.0),
        ("2026-06-24", 1000.0),
    ];
    for (d, kw) in days {
        m.insert(at(d, "13:00"), kw);
        m.insert(at(d, "13:15"), kw + 10.0);
        for t in MORNING {
            m.insert(at(d, t), 100.0);
        }
    }
    m.insert(at("2026-06-25", "13:00"), 40.0);
    m.insert(at("2026-06-25", "13:15"), 60.0);
    for t in MORNING {
        m.insert(at("2026-06-25", t), morning);
    }
    m
}

fn event(committed_kw: f64, adjustment: Adjustment) -> DrEvent {
    DrEvent {
        id: "e".into(),
        date: date("2026-06-25"),
        start: "13:00".into(),
        end: "13:30".into(),
        committed_kw,
        adjustment,
    }
}

fn run(e: &DrEvent, demand: &HashMap<i64, f64>) -> super::Verification {
    let tariff = Tariff::parse(HV).unwrap();
    let earlier: HashSet<NaiveDate> = [date("2026-06-24")].into();
    let cal = Calendar {
        tz: TZ,
        tariff: Some(&tariff),
        event_days: &earlier,
    };
    verify(e, "site", &cal, demand)
}

fn close(a: Option<f64>, b: f64) {
    let a = a.unwrap();
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn the_baseline_skips_saturdays_holidays_sundays_and_earlier_event_days() {
    let v = run(&event(40.0, Adjustment::None), &series(100.0));
    assert_eq!(
        v.baseline_days,
        [
            "2026-06-23",
            "2026-06-22",
            "2026-06-18",
            "2026-06-17",
            "2026-06-16"
        ]
        .map(date)
    );
    let skip = |d: &str, reason| Skipped {
        date: date(d),
        reason,
    };
    assert_eq!(
        v.skipped_days,
        [
            skip("2026-06-24", "dr_event"),
            skip("2026-06-21", "sunday_holiday"),
            skip("2026-06-20", "saturday"),
            skip("2026-06-19", "sunday_holiday"),
        ]
    );
    assert_eq!(v.quarters.len(), 2);
    assert_eq!(v.quarters[0].start, "13:00");
    assert_eq!(v.quarters[1].ts, at("2026-06-25", "13:15"));
    close(v.baseline_kw, 130.0);
    close(v.event_max_kw, 60.0);
    close(v.reduction_kw, 70.0);
    close(v.quarters[0].cbl_kw, 130.0);
    close(v.quarters[1].cbl_kw, 130.0);
    close(v.quarters[0].reduction_kw, 90.0);
    close(v.quarters[1].reduction_kw, 70.0);
    close(v.average_reduction_kw, 80.0);
    close(v.delivered_kwh, 40.0);
    close(v.fraction_met, 1.0);
    assert_eq!((v.verdict, v.reason.as_deref()), ("pass", None));
    assert_eq!(v.adjustment_kw, None);

    let v = run(&event(75.0, Adjustment::None), &series(100.0));
    assert_eq!(v.verdict, "fail");
    close(v.reduction_kw, 70.0);
    close(v.fraction_met, 0.5);
}

#[test]
fn a_reduction_below_the_fifty_kw_minimum_counts_as_zero() {
    let mut s = series(100.0);
    s.insert(at("2026-06-25", "13:00"), 100.0);
    s.insert(at("2026-06-25", "13:15"), 100.0);
    let v = run(&event(1.0, Adjustment::None), &s);
    close(v.event_max_kw, 100.0);
    close(v.reduction_kw, 0.0);
    assert_eq!(v.minimum_kw, 50.0);
    assert_eq!(v.verdict, "fail");
}

#[test]
fn the_additive_adjustment_moves_the_baseline_within_twenty_percent() {
    let v = run(&event(40.0, Adjustment::Additive), &series(110.0));
    close(v.adjustment_kw, 10.0);
    close(v.baseline_kw, 140.0);
    close(v.quarters[1].cbl_kw, 140.0);
    close(v.reduction_kw, 80.0);

    let v = run(&event(40.0, Adjustment::Additive), &series(200.0));
    close(v.adjustment_kw, 100.0);
    close(v.baseline_kw, 156.0);
}

#[test]
fn a_day_with_missing_data_is_passed_over_for_an_older_one() {
    let mut s = series(100.0);
    s.remove(&at("2026-06-16", "13:15"));
    let v = run(&event(40.0, Adjustment::None), &s);
    assert_eq!(v.baseline_days[4], date("2026-06-15"));
    assert!(v.skipped_days.contains(&Skipped {
        date: date("2026-06-16"),
        reason: "missing_data"
    }));
    // (1010 + 120 + 130 + 140 + 150) / 5
    close(v.baseline_kw, 310.0);
}

#[test]
fn too_few_eligible_days_is_insufficient_data_not_a_verdict() {
    let mut s = series(100.0);
    s.remove(&at("2026-06-15", "13:00"));
    s.remove(&at("2026-06-16", "13:00"));
    let v = run(&event(1.0, Adjustment::None), &s);
    assert_eq!(v.verdict, "insufficient_data");
    assert_eq!(v.baseline_days.len(), 4);
    assert!(
        v.reason.as_deref().unwrap().contains("only 4 of the 5"),
        "{:?}",
        v.reason
    );
    assert_eq!((v.baseline_kw, v.quarters[0].cbl_kw), (None, None));
    assert_eq!((v.reduction_kw, v.delivered_kwh), (None, None));
}

#[test]
fn a_missing_event_quarter_is_insufficient_data_naming_it() {
    let mut s = series(100.0);
    s.remove(&at("2026-06-25", "13:15"));
    let v = run(&event(1.0, Adjustment::None), &s);
    assert_eq!(v.verdict, "insufficient_data");
    assert_eq!(v.missing_quarters, ["13:15"]);
    assert!(v.reason.as_deref().unwrap().contains("13:15"));
    // The baseline is still shown; no reduction is claimed.
    close(v.baseline_kw, 130.0);
    assert_eq!((v.reduction_kw, v.fraction_met), (None, None));

    // The adjustment's window counts too when the adjustment is asked for.
    let mut s = series(100.0);
    s.remove(&at("2026-06-25", "10:30"));
    let v = run(&event(1.0, Adjustment::Additive), &s);
    assert_eq!(v.verdict, "insufficient_data");
    assert_eq!(v.missing_quarters, ["10:30"]);
}
