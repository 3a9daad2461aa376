//! The typical year from the normals, and normalized savings recovered on synthetic data.

use chrono::{Datelike, NaiveDate, Timelike};

use super::*;
use crate::mv::frame::{parse_range, Obs, Zone};
use crate::mv::verify::analyse;
use crate::sim::rng::Rng;

const TZ: Zone = Zone::Named(chrono_tz::Asia::Taipei);

#[test]
fn the_typical_year_keeps_the_monthly_normals() {
    let y = NormalYear::builtin();
    assert_eq!(y.name, "Taipei 1991–2020 normals (CWA)");
    let days = y.daily();
    assert_eq!(days.len(), 365);
    // Each month's interpolated days average close to its normal (interpolation smooths the
    // peaks a little), and the year's mean is kept.
    let mut first = 0;
    for m in 1..=12u32 {
        let a = NaiveDate::from_ymd_opt(2025, m, 1).unwrap();
        let b = NaiveDate::from_ymd_opt(2025 + (m / 12) as i32, m % 12 + 1, 1).unwrap();
        let n = (b - a).num_days() as usize;
        let mean = days[first..first + n].iter().map(|d| d.0).sum::<f64>() / n as f64;
        let normal = y.months[m as usize - 1].0;
        assert!((mean - normal).abs() < 0.6, "month {m}: {mean} vs {normal}");
        first += n;
    }
    let annual = days.iter().map(|d| d.0).sum::<f64>() / 365.0;
    assert!((annual - 23.4).abs() < 0.1, "{annual}");
    // Hourly: mid-July swings ±(35.0 − 26.8)/2 = 4.1 °C round the day's mean, hottest at 15:00.
    let (d, _) = y.drivers(Granularity::Hour, TempUnit::C, &[]);
    let t = d.temp.unwrap();
    let july16 = (NaiveDate::from_ymd_opt(2025, 7, 16).unwrap().ordinal0() * 24) as usize;
    let hours = &t[july16..july16 + 24];
    let hottest = (0..24)
        .max_by(|a, b| hours[*a].total_cmp(&hours[*b]))
        .unwrap();
    assert_eq!(d.local[july16 + hottest].hour(), 15);
    assert!((hours[15] - hours[3] - 8.2).abs() < 0.05, "{hours:?}");
    // °F for a model fitted in °F.
    let (f, _) = y.drivers(Granularity::Month, TempUnit::F, &[]);
    assert!((f.temp.unwrap()[0] - (15.9 * 1.8 + 32.0)).abs() < 1e-9);
}

#[test]
fn bad_normals_are_refused_with_the_line() {
    let e = NormalYear::parse("month,mean_c,mean_max_c,mean_min_c\n1,15,10,12\n").unwrap_err();
    assert!(e.starts_with("line 2"), "{e}");
    let e = NormalYear::parse("month,mean_c,mean_max_c,mean_min_c\n1,15,19,12\n").unwrap_err();
    assert!(e.contains("twelve"), "{e}");
    assert!(NormalYear::parse("m,t\n").unwrap_err().contains("header"));
}

/// Two years of days: energy = 900 + 45·(T − 19)⁺ + 0.06·units, 10 % less from 2026.
fn plant() -> Raw {
    let mut rng = Rng::new(7);
    let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let obs = (0..730)
        .map(|i| {
            let day = start + chrono::Duration::days(i);
            let season = (std::f64::consts::TAU * (i as f64 - 200.0) / 365.0).cos();
            let t = 22.0 + 8.0 * season + 2.0 * rng.gauss();
            let p = 8000.0 + 1000.0 * rng.uniform();
            let mut e = truth(t, p) + 20.0 * rng.gauss();
            if day.year() == 2026 {
                e *= 0.9;
            }
            Obs {
                ts: TZ.instant(day.and_time(Default::default())),
                energy: Some(e),
                temp: Some(t),
                vars: vec![Some(p)],
            }
        })
        .collect();
    Raw {
        zone: TZ,
        interval: 86_400_000,
        obs,
        has_temp: true,
        vars: vec![VarSpec::parse("units").unwrap()],
    }
}

fn truth(t: f64, p: f64) -> f64 {
    900.0 + 45.0 * (t - 19.0).max(0.0) + 0.06 * p
}

#[test]
fn normalized_savings_recover_the_measure_on_the_typical_year() {
    let raw = plant();
    let req = Request {
        source: "synthetic".into(),
        energy_unit: "kWh".into(),
        temp_unit: TempUnit::C,
        granularity: Granularity::Day,
        baseline: parse_range("2025-01-01..2025-12-31", TZ).unwrap(),
        reporting: parse_range("2026-01-01..2026-12-31", TZ).unwrap(),
        model: Some(Spec::parse("3p-cooling").unwrap()),
        adjustments: vec![],
        holidays: vec![],
        accept_extrapolation: false,
        placebo: false,
    };
    let report = analyse(&raw, &req).unwrap();
    let year = NormalYear::builtin();
    let n = normalize(&raw, &req, &report, Some(&year));
    let (b, r) = (n.baseline_annual.unwrap(), n.reporting_annual.unwrap());
    // The generating function over the typical year, production at its mean (8500).
    let want: f64 = year.daily().iter().map(|d| truth(d.0, 8500.0)).sum();
    assert!((b - want).abs() / want < 0.01, "{b} vs {want}: {}", n.note);
    assert!(
        (r - 0.9 * want).abs() / want < 0.01,
        "{r} vs {}",
        0.9 * want
    );
    assert!((n.percent.unwrap() - 10.0).abs() < 1.0, "{n:?}");
    assert!((n.savings.unwrap() - (b - r)).abs() < 1e-9);
    assert!(n.note.contains("units"), "{}", n.note);
    assert!(
        !n.note.contains("extrapolate"),
        "10-34 °C data covers the normals"
    );
    // No normal year, or a model without temperature: a note, no figures.
    let none = normalize(&raw, &req, &report, None);
    assert!(none.savings.is_none() && none.note.contains("--normal-weather"));
    let mean = analyse(
        &raw,
        &Request {
            model: Some(Spec::plain(crate::mv::model::Form::Mean)),
            ..req.clone()
        },
    )
    .unwrap();
    let m = normalize(&raw, &req, &mean, Some(&year));
    assert!(
        m.savings.is_none() && m.note.contains("does not use temperature"),
        "{}",
        m.note
    );
    // Too few reporting days for the form: why, not a number.
    let short = Request {
        reporting: parse_range("2026-01-01..2026-01-03", TZ).unwrap(),
        ..req
    };
    let s = normalize(&raw, &short, &report, Some(&year));
    assert!(
        s.savings.is_none() && s.note.contains("cannot be fitted on 3 days"),
        "{}",
        s.note
    );
}
