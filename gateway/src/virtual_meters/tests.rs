//! Virtual meters equal the arithmetic of their sources, through the real store and rollups.

use chrono::{TimeZone, Utc};
use kilowatch_site::config::SiteConfig;
use kilowatch_site::payload::{DevicePoll, Quality, Reading, SCHEMA_VERSION};
use kilowatch_site::profile::ProfileLibrary;
use proptest::prelude::*;

use super::*;
use crate::store::{Incoming, Store, StoreSettings};

const SITE: &str = r#"
[site]
id = "s"

[[devices]]
id = "incomer"
profile = "eastron-sdm630"
tcp = "127.0.0.1:502"

[[devices]]
id = "compressor-1"
profile = "eastron-sdm630"
tcp = "127.0.0.1:503"
parent = "incomer"

[[devices]]
id = "pump"
profile = "delta-c2000"
tcp = "127.0.0.1:504"
parent = "incomer"

[[virtual]]
id = "rest"
expr = "incomer - compressor-1 - pump"
parent = "incomer"

[[virtual]]
id = "half-rest"
expr = "0.5 * rest"

[[virtual]]
id = "rest-kw"
quantity = "active_power"
expr = "incomer - compressor-1 - pump"
"#;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn reading(quantity: &'static str, unit: &'static str, v: f64) -> Reading {
    Reading {
        quantity: quantity.into(),
        value: Some(v),
        unit: unit.into(),
        quality: Quality::Good,
    }
}

fn poll(device: &str, seq: u64, ts: i64, readings: Vec<Reading>) -> Incoming {
    Incoming::Poll(DevicePoll {
        version: SCHEMA_VERSION,
        site: "s".into(),
        device: device.into(),
        seq,
        ts: Utc.timestamp_millis_opt(ts).unwrap(),
        readings,
    })
}

fn store(name: &str) -> Store {
    let dir = std::env::temp_dir().join(format!("kw-virtual-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = SiteConfig::parse(SITE, "site.toml", &ProfileLibrary::builtin()).unwrap();
    Store::open(&dir.join("t.db"))
        .unwrap()
        .with_settings(StoreSettings::for_site(&config, &ProfileLibrary::builtin()))
}

/// Writes one poll a minute (at :30) per device: the incomer's and the compressor's energy
/// registers step by the given kWh, the pump (a drive without an energy register) holds the
/// given kW. `None` skips that device's poll of that minute.
fn write(s: &mut Store, incomer: &[Option<f64>], comp: &[Option<f64>], pump: &[Option<f64>]) {
    let (mut e_in, mut e_c) = (1000.0, 500.0);
    let mut batch = Vec::new();
    for k in 0..incomer.len() {
        let ts = T0 + k as i64 * 60_000 + 30_000;
        if let Some(d) = incomer[k] {
            e_in += d;
            batch.push(poll(
                "incomer",
                k as u64,
                ts,
                vec![
                    reading("active_energy_import", "kWh", e_in),
                    reading("active_power", "kW", d * 60.0),
                ],
            ));
        }
        if let Some(d) = comp[k] {
            e_c += d;
            batch.push(poll(
                "compressor-1",
                k as u64,
                ts,
                vec![
                    reading("active_energy_import", "kWh", e_c),
                    reading("active_power", "kW", d * 60.0),
                ],
            ));
        }
        if let Some(kw) = pump[k] {
            batch.push(poll(
                "pump",
                k as u64,
                ts,
                vec![reading("active_power", "kW", kw)],
            ));
        }
    }
    s.write(&batch).unwrap();
    while s.refresh_rollups(500).unwrap() > 0 {}
}

fn minutes(s: &Store, device: &str, quantity: &str) -> Vec<(i64, crate::rollup::Agg)> {
    let id = s
        .find_series(&format!("s/{device}/{quantity}"))
        .unwrap()
        .unwrap_or_else(|| panic!("no series {device}/{quantity}"))
        .id;
    s.rollup_rows(id, 60, T0, T0 + 86_400_000).unwrap()
}

#[test]
fn virtual_minutes_are_the_arithmetic_of_their_sources() {
    let mut s = store("arith");
    let n = 6;
    write(&mut s, &[Some(3.0); 6], &[Some(1.0); 6], &[Some(30.0); 6]);
    let rest = minutes(&s, "rest", "active_energy_import");
    // The first poll of each source starts it (no increment, no integral yet); then every
    // minute is 3 kWh - 1 kWh - (30 kW · 1 min).
    assert_eq!(rest.len(), n, "{rest:?}");
    assert_eq!(rest[0].1.delta, Some(0.0));
    for (_, a) in &rest[1..] {
        assert!((a.delta.unwrap() - 1.5).abs() < 1e-9, "{a:?}");
    }
    let half = minutes(&s, "half-rest", "active_energy_import");
    assert_eq!(half.len(), rest.len());
    assert!((half[1].1.delta.unwrap() - 0.75).abs() < 1e-9);
    let kw = minutes(&s, "rest-kw", "active_power");
    assert!(
        (kw[1].1.avg.unwrap() - (180.0 - 60.0 - 30.0)).abs() < 1e-9,
        "{kw:?}"
    );
    // Rolled up like a measured series: the hour holds the minutes' sum.
    let id = s
        .find_series("s/rest/active_energy_import")
        .unwrap()
        .unwrap()
        .id;
    let hour = s.rollup_rows(id, 3600, T0, T0 + 3_600_000).unwrap();
    assert!((hour[0].1.delta.unwrap() - 1.5 * (n - 1) as f64).abs() < 1e-9);
    // And the store's energy read sees it as a counter.
    let (_, points) = s
        .energy("s", "rest", T0, T0 + 3_600_000, 3600)
        .unwrap()
        .unwrap();
    assert!((points[0].kwh.unwrap() - 7.5).abs() < 1e-9);
}

#[test]
fn a_minute_with_a_missing_source_is_missing_with_its_reason() {
    let mut s = store("missing");
    let mut comp = vec![Some(1.0); 6];
    comp[3] = None;
    write(&mut s, &[Some(3.0); 6], &comp, &[Some(30.0); 6]);
    let rest = minutes(&s, "rest", "active_energy_import");
    let at: Vec<i64> = rest.iter().map(|(b, _)| (b - T0) / 60_000).collect();
    assert_eq!(at, [0, 1, 2, 4, 5], "minute 3 has no compressor reading");
    // The compressor's increment since minute 2's reading is credited to minute 4.
    assert!((rest[3].1.delta.unwrap() - 1.5).abs() < 1e-9, "{rest:?}");
    let id = s
        .find_series("s/rest/active_energy_import")
        .unwrap()
        .unwrap()
        .id;
    let why = s.virtual_missing(id, T0, T0 + 3_600_000).unwrap();
    assert!(
        why.contains(&("compressor-1: no data".to_owned(), 1)),
        "{why:?}"
    );
    // The data arrives late: the minute is computed and no longer missing.
    write(&mut s, &[Some(3.0); 6], &[Some(1.0); 6], &[Some(30.0); 6]);
    assert_eq!(minutes(&s, "rest", "active_energy_import").len(), 6);
    let why = s.virtual_missing(id, T0, T0 + 3_600_000).unwrap();
    assert!(
        !why.iter().any(|(r, _)| r.starts_with("compressor-1")),
        "{why:?}"
    );
}

#[test]
fn the_plan_orders_virtual_meters_after_their_sources() {
    let text = SITE.replace(
        "[[virtual]]\nid = \"rest\"",
        "[[virtual]]\nid = \"quarter\"\nexpr = \"0.5 * half-rest\"\n\n[[virtual]]\nid = \"rest\"",
    );
    let config = SiteConfig::parse(&text, "site.toml", &ProfileLibrary::builtin()).unwrap();
    let plan = VirtualPlan::for_site(&config);
    let order: Vec<&str> = plan.meters.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(order, ["rest", "rest-kw", "half-rest", "quarter"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_data_gives_the_arithmetic_or_a_missing_minute(
        data in prop::collection::vec(
            (prop::option::weighted(0.85, 0.0f64..10.0),
             prop::option::weighted(0.85, 0.0f64..5.0),
             prop::option::weighted(0.85, 0.0f64..200.0)),
            3..12,
        ),
    ) {
        let mut s = store("prop");
        let (i, c, p): (Vec<_>, Vec<_>, Vec<_>) = data.iter().copied().fold(
            (vec![], vec![], vec![]),
            |(mut a, mut b, mut c), (x, y, z)| { a.push(x); b.push(y); c.push(z); (a, b, c) },
        );
        write(&mut s, &i, &c, &p);
        let by_minute = |d: &str, q: &str| -> std::collections::HashMap<i64, crate::rollup::Agg> {
            s.find_series(&format!("s/{d}/{q}")).unwrap()
                .map(|x| s.rollup_rows(x.id, 60, T0, T0 + 86_400_000).unwrap())
                .unwrap_or_default().into_iter().collect()
        };
        let (inc, comp, pump) = (
            by_minute("incomer", "active_energy_import"),
            by_minute("compressor-1", "active_energy_import"),
            by_minute("pump", "active_power"),
        );
        let rest = by_minute("rest", "active_energy_import");
        for k in 0..data.len() as i64 {
            let b = T0 + k * 60_000;
            let parts = (inc.get(&b), comp.get(&b), pump.get(&b));
            match (parts, rest.get(&b)) {
                ((Some(x), Some(y), Some(z)), Some(r)) => {
                    let want = x.delta.unwrap() - y.delta.unwrap() - z.integral.unwrap();
                    prop_assert!((r.delta.unwrap() - want).abs() < 1e-9);
                }
                ((Some(x), Some(y), Some(z)), None) => {
                    // Only a gap or a reset in a source may leave it out.
                    prop_assert!(x.gaps + y.gaps + z.gaps + x.resets + y.resets > 0);
                }
                (_, r) => prop_assert!(r.is_none(), "minute {k}: a source is missing"),
            }
        }
    }
}
