//! The energy review of the demo plant against the simulator's truth.

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::sim::plant::Plant;

fn u(id: &str, kwh: f64, kind: UseKind) -> Use {
    Use {
        rank: 0,
        id: id.into(),
        name: None,
        kind,
        parent: None,
        asset: None,
        kwh,
        percent: 0.0,
        cumulative_percent: 0.0,
        significant: false,
        drivers: vec![],
        enpis: vec![],
    }
}

#[test]
fn pareto_and_the_significance_rule() {
    let mut uses = vec![
        u("c", 10.0, UseKind::Meter),
        u("a", 50.0, UseKind::Meter),
        u("rest", 20.0, UseKind::Unmetered),
        u("b", 16.0, UseKind::Meter),
        u("d", 4.0, UseKind::Meter),
    ];
    rank(&mut uses, 100.0, Significant::default());
    let got: Vec<(&str, bool)> = uses
        .iter()
        .map(|u| (u.id.as_str(), u.significant))
        .collect();
    // a (50) and b (16) before the 80 % line; rest is unmetered; c crosses it (86 %): flagged
    // as well; d is past it.
    assert_eq!(
        got,
        [
            ("a", true),
            ("rest", false),
            ("b", true),
            ("c", false),
            ("d", false)
        ]
    );
    assert_eq!(uses[2].cumulative_percent, 86.0);
    rank(
        &mut uses,
        100.0,
        Significant {
            cumulative_percent: 100.0,
            min_percent: 12.0,
        },
    );
    let flagged: Vec<&str> = uses
        .iter()
        .filter(|u| u.significant)
        .map(|u| u.id.as_str())
        .collect();
    assert_eq!(flagged, ["a", "b"]);
}

#[test]
fn the_demo_plant_review_ranks_its_uses_as_the_simulator_draws_them() {
    // A working day in Taipei: 2026-11-17 (a Tuesday), plus an hour before it.
    let end: DateTime<Utc> = "2026-11-17T16:00:00Z".parse().unwrap();
    let (config, assets, store, report) = crate::backfill::demo_history(
        "review-demo",
        std::time::Duration::from_secs(86_400 + 3600),
        end,
    );
    let (from, to) = (end - Duration::days(1), end);

    // The truth: what the simulator drew, second by second.
    let settings = crate::sim::plant_settings(&config, "demo-site.toml").unwrap();
    let mut plant = Plant::new(settings, config.timezone());
    for k in (1..=300).rev() {
        plant.step(report.from - Duration::seconds(k), 1.0);
    }
    let mut truth: HashMap<&str, f64> = HashMap::new();
    let mut t = report.from;
    while t < to {
        plant.step(t, 1.0);
        if t >= from {
            let s = plant.snapshot();
            let u = &s.utilities;
            for (id, kw) in [
                ("incomer", s.incomer_kw),
                ("compressor-1", s.fixed_kw),
                ("compressor-2", s.vsd_kw),
                ("chiller-1", s.chiller_kw),
                ("chw-pump", u.chw_pump_kw),
                ("cw-pump", u.cw_pump_kw),
                ("tower-fan", u.tower_fan_kw),
                ("exhaust-fan", u.exhaust_kw),
            ] {
                *truth.entry(id).or_default() += kw / 3600.0;
            }
        }
        t += Duration::seconds(1);
    }
    let metered: f64 = truth
        .iter()
        .filter(|(k, _)| **k != "incomer")
        .map(|(_, v)| v)
        .sum();
    truth.insert("incomer (unmetered)", truth["incomer"] - metered);

    let site = ReviewSite::for_site(&config);
    let r = review(
        &store,
        &site,
        &assets,
        from.timestamp_millis(),
        to.timestamp_millis(),
    )
    .unwrap();
    assert!(
        (r.total_kwh - truth["incomer"]).abs() < 0.01 * truth["incomer"],
        "total {} vs {}",
        r.total_kwh,
        truth["incomer"]
    );
    // Every use within 2 % of the truth (noise, sampling) and ranked as the truth ranks them.
    let mut by_truth: Vec<(&str, f64)> = truth
        .iter()
        .filter(|(k, _)| **k != "incomer")
        .map(|(k, v)| (*k, *v))
        .collect();
    by_truth.sort_by(|a, b| b.1.total_cmp(&a.1));
    let ranked: Vec<&str> = r.uses.iter().map(|u| u.id.as_str()).collect();
    let want: Vec<&str> = by_truth.iter().map(|(k, _)| *k).collect();
    assert_eq!(ranked, want, "{:#?}", r.uses);
    for use_ in &r.uses {
        let t = truth[use_.id.as_str()];
        assert!(
            (use_.kwh - t).abs() < 0.02 * t.max(1.0),
            "{}: {} kWh, the simulator drew {t}",
            use_.id,
            use_.kwh
        );
    }
    // The compressors and the chiller are significant, with their drivers and EnPIs.
    let get = |id: &str| r.uses.iter().find(|u| u.id == id).unwrap();
    for id in ["compressor-1", "compressor-2", "chiller-1"] {
        let u = get(id);
        let share = 100.0 * truth[id] / truth["incomer"];
        assert_eq!(
            u.significant,
            share >= 5.0 && u.cumulative_percent - u.percent < 80.0,
            "{id}: {u:?}"
        );
        assert!(!u.enpis.is_empty(), "{id}: {u:?}");
    }
    assert!(get("chiller-1").significant, "{:#?}", r.uses);
    assert!(get("compressor-1")
        .drivers
        .contains(&"air-header/air_flow".to_owned()));
    assert!(get("chiller-1")
        .drivers
        .contains(&"chw/water_flow".to_owned()));
    assert!(!get("incomer (unmetered)").significant);
    // The virtual meters are stored like measured ones and equal their sources' arithmetic.
    let energy = |id: &str| -> f64 {
        let (_, pts) = store
            .energy(
                "demo-plant",
                id,
                from.timestamp_millis(),
                to.timestamp_millis(),
                3600,
            )
            .unwrap()
            .unwrap();
        pts.iter().filter_map(|p| p.kwh).sum()
    };
    let air = energy("air-compressors");
    assert!((air - energy("compressor-1") - energy("compressor-2")).abs() < 1e-6 * air);
    let rest = energy("rest-of-plant");
    let want = energy("incomer") - air - energy("chw-plant-power");
    assert!(
        (rest - want).abs() < 1e-6 * want.abs().max(1.0),
        "{rest} vs {want}"
    );
}
