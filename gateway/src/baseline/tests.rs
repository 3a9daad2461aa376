//! A baseline saved then tracked on a real SQLite store with known savings, compared with the
//! M&V engine over the same periods.

use kilowatch_site::config::SiteConfig;
use kilowatch_site::profile::ProfileLibrary;

use super::{fit, track, Record, SaveRequest, Target};
use crate::enpi::Assets;
use crate::mv::frame::Zone;
use crate::rollup::Agg;
use crate::sim::rng::Rng;
use crate::store::Store;

const SITE: &str = r#"
[site]
id = "s"
timezone = "Asia/Taipei"

[[devices]]
id = "m"
profile = "eastron-sdm630"
tcp = "127.0.0.1:5020"

[[assets]]
id = "line"
type = "plant"
power = ["m"]
"#;

const DAY: i64 = 86_400_000;

/// 2024 and 2025 day by day: 2 000 kWh plus 60 kWh per °C above 20 °C, 5 % less from 2025.
fn fill(store: &mut Store, zone: Zone) {
    let e = store
        .ensure_series("s", "m", "active_energy_import", "kWh")
        .unwrap();
    let t = store.ensure_series("s", "w", "outdoor_temp", "°C").unwrap();
    let start = zone.instant("2024-01-01T00:00:00".parse().unwrap());
    let saving_from = zone.instant("2025-01-01T00:00:00".parse().unwrap());
    let mut rng = Rng::new(7);
    let (mut rollups, mut counter) = (Vec::new(), 0.0);
    for d in 0..731 {
        let day0 = start + d * DAY;
        let season = (std::f64::consts::TAU * (d as f64 - 200.0) / 365.0).cos();
        let temp = 23.0 + 7.0 * season + 1.5 * rng.gauss();
        let mut kwh = 2000.0 + 60.0 * (temp - 20.0).max(0.0) + 40.0 * rng.gauss();
        if day0 >= saving_from {
            kwh *= 0.95;
        }
        for q in 0..96 {
            let at = day0 + q * 900_000;
            counter += kwh / 96.0;
            let energy = Agg {
                count: 1,
                avg: Some(counter),
                min: Some(counter),
                max: Some(counter),
                delta: Some(kwh / 96.0),
                ..Agg::default()
            };
            let weather = Agg {
                count: 1,
                avg: Some(temp),
                min: Some(temp),
                max: Some(temp),
                ..Agg::default()
            };
            rollups.push((e, 900, at, energy));
            rollups.push((t, 900, at, weather));
        }
    }
    store.bulk_load(&[], &rollups).unwrap();
}

#[test]
fn a_saved_baseline_tracks_with_the_senpi_of_the_mv_engine() {
    let profiles = ProfileLibrary::builtin();
    let config = SiteConfig::parse(SITE, "site.toml", &profiles).unwrap();
    let assets = Assets::from_site(&config, "site.toml").unwrap();
    let zone = Zone::Named(assets.timezone);
    let dir = std::env::temp_dir().join(format!("kw-baseline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut store = Store::open(&dir.join("t.db")).unwrap();
    fill(&mut store, zone);

    let req = SaveRequest {
        name: "line-2024".into(),
        asset: Some("line".into()),
        from: "2024-01-01".into(),
        to: "2024-12-31".into(),
        target: Some("percent:1.5".into()),
        saved_by: Some("lin".into()),
        ..Default::default()
    };
    let rec = fit(&store, &assets, &req, 0).unwrap();
    assert_eq!(rec.model.form, "3p-cooling", "{rec:#?}");
    assert_eq!(rec.model.variables, ["temperature"]);
    assert!((rec.model.balance_points[0] - 20.0).abs() < 1.0, "{rec:#?}");
    assert!(rec.fit.r2 > 0.9 && rec.fit.valid, "{:?}", rec.fit);
    assert_eq!(rec.fit.n, 366);
    // Stored and read back (JSON numbers may lose their last bit).
    assert!(store.put_baseline(&rec.to_row(0), false).unwrap());
    let back = Record::from_row(&store.baseline("line-2024").unwrap().unwrap()).unwrap();
    assert_eq!(
        (&back.name, &back.model.form, back.target),
        (&rec.name, &rec.model.form, rec.target)
    );
    for (a, b) in back.model.coefficients.iter().zip(&rec.model.coefficients) {
        assert!((a.value.unwrap() - b.value.unwrap()).abs() < 1e-9 * b.value.unwrap().abs());
    }

    let end = zone.instant("2026-01-01T00:00:00".parse().unwrap());
    let t = track(&store, &assets, &back, end, None).unwrap();
    assert!(
        t.warnings.iter().all(|w| !w.contains("changed")),
        "{:?}",
        t.warnings
    );
    assert_eq!(t.months.len(), 24);
    assert!(t.months[..12].iter().all(|m| m.baseline));

    // The M&V engine on the same periods with the same form: the same monthly SEnPI.
    let o = crate::mv::Options {
        baseline: "2024-01-01..2024-12-31".into(),
        reporting: "2025-01-01..2025-12-31".into(),
        model: Some(rec.model.form.clone()),
        ..Default::default()
    };
    let q = crate::mv::input::StoreQuery {
        asset: Some("line".into()),
        ..Default::default()
    };
    let report = crate::mv::from_store(&store, &assets, &q, &o).unwrap();
    assert_eq!(report.monthly.len(), 12);
    for (m, r) in t.months[12..].iter().zip(&report.monthly) {
        assert_eq!(m.month, r.month);
        assert!(!m.baseline);
        let (a, b) = (m.senpi.unwrap(), r.senpi.unwrap());
        assert!((a - b).abs() < 1e-12, "{}: {a} vs {b}", m.month);
        // The truth: 5 % saved.
        assert!((a - 0.95).abs() < 0.02, "{}: SEnPI {a}", m.month);
        assert!(
            (m.yoy_improvement_percent.unwrap() - 5.0).abs() < 2.5,
            "{m:?}"
        );
    }
    // Selection without the form chooses the same model, so the same answer.
    let free = crate::mv::from_store(
        &store,
        &assets,
        &q,
        &crate::mv::Options { model: None, ..o },
    )
    .unwrap();
    assert_eq!(free.model.form, rec.model.form);
    // CUSUM: the M&V series' running sum at each month's last period.
    let last = report.series.last().unwrap().cusum;
    assert!((t.months[23].cusum - last).abs() < 1e-6);
    assert!(
        t.months[11].cusum.abs() < 1e-6 * last.abs(),
        "{}",
        t.months[11].cusum
    );
    assert!(last < 0.0);

    // 1.5 % a year: 2025 aims at SEnPI 0.985 and ends near 0.95 — on track.
    let p = t.target.unwrap();
    assert_eq!(p.target, Target::Percent { per_year: 1.5 });
    assert_eq!(p.year, 2025);
    assert!((p.target_value - 0.985).abs() < 1e-12);
    assert!(
        (p.forecast.unwrap()
            - report.reporting.actual / report.reporting.adjusted_baseline.unwrap())
        .abs()
            < 1e-9
    );
    assert_eq!(p.on_track, Some(true));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_requests_are_input_errors() {
    let profiles = ProfileLibrary::builtin();
    let config = SiteConfig::parse(SITE, "site.toml", &profiles).unwrap();
    let assets = Assets::from_site(&config, "site.toml").unwrap();
    let dir = std::env::temp_dir().join(format!("kw-baseline-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(&dir.join("t.db")).unwrap();
    let ok = SaveRequest {
        name: "b".into(),
        asset: Some("line".into()),
        from: "2024-01-01".into(),
        to: "2024-12-31".into(),
        ..Default::default()
    };
    let err = |r: SaveRequest| fit(&store, &assets, &r, 0).unwrap_err().to_string();
    assert!(err(SaveRequest {
        name: "a b".into(),
        ..ok.clone()
    })
    .contains("baseline name"));
    assert!(err(SaveRequest {
        to: "2023-01-01".into(),
        ..ok.clone()
    })
    .contains("baseline period"));
    assert!(err(SaveRequest {
        target: Some("x:1".into()),
        ..ok.clone()
    })
    .contains("target"));
    assert!(err(SaveRequest {
        asset: Some("nope".into()),
        ..ok.clone()
    })
    .contains("no such asset"));
    assert!(err(ok).contains("no energy"));
    let _ = std::fs::remove_dir_all(&dir);
}
