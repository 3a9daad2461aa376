//! Demand management on a small synthetic series worked by hand.
//!
//! Summer 2026 (Asia/Taipei), the example high-voltage tariff:
//!   Wed 07-15 10:00  80 kW (half_peak) · 16:00 100 · 16:15 120 · 16:30 90 (peak)
//!   Thu 07-16 16:00 110 · 16:15 130 (peak)
//!   Sat 07-18 10:00  60 (saturday_half_peak) · Sun 07-19 10:00 50 (off_peak)
//! Profile, weekday/peak: 16:00 mean (100 + 110) / 2 = 105, max 110, 2 days; 16:15 mean
//! (120 + 130) / 2 = 125, max 130; 16:30 mean = max = 90, 1 day. weekday/half_peak 10:00 80;
//! saturday/saturday_half_peak 10:00 60; sunday_holiday/off_peak 10:00 50.
//! Events, one a day, highest first: Thu 16:15 130, Wed 16:15 120, Sat 60, Sun 50.
//! Shave 25 kW: peak 130, level 105; above it Wed 16:15 (15 kW → 3.75 kWh), Thu 16:00 (5 kW)
//! and 16:15 (25 kW) → (5 + 25) × 0.25 = 7.5 kWh; total 11.25 kWh, 3 quarter-hours, 2 days,
//! longest run 2 (Thu 16:00–16:30).

use chrono::{NaiveDate, NaiveDateTime, TimeZone};

use super::*;
use crate::enpi::tariff::Tariff;

const HV: &str = include_str!("../../../seeds/tariffs/example-hv-three-period.toml");
const TZ: chrono_tz::Tz = chrono_tz::Asia::Taipei;

fn at(s: &str) -> i64 {
    TZ.from_local_datetime(&NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
        .unwrap()
        .timestamp_millis()
}

fn series() -> Vec<Quarter> {
    [
        ("2026-07-15 10:00", 80.0),
        ("2026-07-15 16:00", 100.0),
        ("2026-07-15 16:15", 120.0),
        ("2026-07-15 16:30", 90.0),
        ("2026-07-16 16:00", 110.0),
        ("2026-07-16 16:15", 130.0),
        ("2026-07-18 10:00", 60.0),
        ("2026-07-19 10:00", 50.0),
    ]
    .iter()
    .map(|&(s, kw)| Quarter { ts: at(s), kw })
    .collect()
}

#[test]
fn day_types_follow_the_tariff() {
    let t = Tariff::parse(HV).unwrap();
    let d = |s: &str| t.day_type(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap());
    assert_eq!(d("2026-07-15"), 0);
    assert_eq!(d("2026-07-18"), 1);
    assert_eq!(d("2026-07-19"), 2);
    // Monday 2026-09-28 is a listed holiday: billed like a Sunday.
    assert_eq!(d("2026-09-28"), 2);
}

#[test]
fn profile_by_period_and_day_type() {
    let t = Tariff::parse(HV).unwrap();
    let p = profile(&t, TZ, &series());
    let keys: Vec<(&str, &str)> = p
        .groups
        .iter()
        .map(|g| (g.day_type, g.period.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("weekday", "peak"),
            ("weekday", "half_peak"),
            ("saturday", "saturday_half_peak"),
            ("sunday_holiday", "off_peak")
        ]
    );
    let slots: Vec<(&str, f64, f64, usize)> = p.groups[0]
        .slots
        .iter()
        .map(|s| (s.time.as_str(), s.mean_kw, s.max_kw, s.count))
        .collect();
    assert_eq!(
        slots,
        [
            ("16:00", 105.0, 110.0, 2),
            ("16:15", 125.0, 130.0, 2),
            ("16:30", 90.0, 90.0, 1)
        ]
    );
    for (g, kw) in [(1, 80.0), (2, 60.0), (3, 50.0)] {
        let s = &p.groups[g].slots;
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].time.as_str(), s[0].mean_kw, s[0].max_kw),
            ("10:00", kw, kw)
        );
    }
}

#[test]
fn top_events_one_a_day_with_meter_shares() {
    let t = Tariff::parse(HV).unwrap();
    let all = top_events(&t, TZ, &series(), 10);
    let got: Vec<(&str, f64)> = all
        .iter()
        .map(|e| (e.start.as_str(), e.demand_kw))
        .collect();
    assert_eq!(
        got,
        [
            ("2026-07-16T16:15", 130.0),
            ("2026-07-15T16:15", 120.0),
            ("2026-07-18T10:00", 60.0),
            ("2026-07-19T10:00", 50.0)
        ]
    );
    assert_eq!(all[0].period, "peak");
    assert_eq!(all[2].day_type, "saturday");
    assert_eq!(top_events(&t, TZ, &series(), 2).len(), 2);
    assert!(top_events(&t, TZ, &[], 10).is_empty());

    // Two sub-meters in the 130 kW quarter-hour: 52 kW (0.4) and one without data; the
    // remainder 130 − 52 = 78 kW (0.6).
    let meters = [
        SubMeter {
            id: "a".into(),
            name: None,
        },
        SubMeter {
            id: "b".into(),
            name: Some("B".into()),
        },
    ];
    let q = events::peaks(TZ, &series(), 1)[0];
    let e = events::event(&t, TZ, q, &meters, &[Some(52.0), None]);
    assert_eq!(e.meters[0].kw, Some(52.0));
    assert_eq!(e.meters[0].share, Some(0.4));
    assert_eq!(e.meters[1].kw, None);
    assert_eq!(e.meters[1].share, None);
    assert_eq!(e.unmetered_kw, 78.0);
    assert_eq!(e.unmetered_share, 0.6);
}

#[test]
fn shaving_25_kw_off_the_peak() {
    let s = shave(TZ, &series(), 25.0).unwrap();
    assert_eq!((s.peak_kw, s.level_kw), (130.0, 105.0));
    assert_eq!(s.energy_kwh, 11.25);
    assert_eq!(s.quarters, 3);
    assert_eq!(s.longest_run, 2);
    let days: Vec<(&str, f64, usize, f64)> = s
        .days
        .iter()
        .map(|d| (d.date.as_str(), d.energy_kwh, d.quarters, d.max_kw))
        .collect();
    assert_eq!(
        days,
        [
            ("2026-07-15", 3.75, 1, 120.0),
            ("2026-07-16", 7.5, 2, 130.0)
        ]
    );
    // Cutting below every quarter-hour: 130 − 85 = 45 kW level, all 8 above; the run Wed
    // 16:00–16:45 is 3 long.
    let all = shave(TZ, &series(), 85.0).unwrap();
    assert_eq!(all.quarters, 8);
    assert_eq!(all.longest_run, 3);
    assert_eq!(
        all.energy_kwh,
        (80.0 + 100.0 + 120.0 + 90.0 + 110.0 + 130.0 + 60.0 + 50.0 - 8.0 * 45.0) * 0.25
    );
    for bad in [0.0, -5.0, f64::NAN, f64::INFINITY] {
        assert!(shave(TZ, &series(), bad).is_none(), "{bad}");
    }
    assert!(shave(TZ, &[], 10.0).is_none());
}
