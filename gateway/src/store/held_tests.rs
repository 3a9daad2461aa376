//! Rollups of series reported by exception: the incremental engine, fed samples late and out
//! of order in small batches, ends where a full recompute does, and holds values across
//! silences.

use super::types::ms_to_utc;
use super::*;
use kilowatch_site::payload::{DevicePoll, Quality, Reading, SCHEMA_VERSION};

const MIN: i64 = 60_000;
/// 2026-01-01T00:00Z.
const T0: i64 = 1_767_225_600_000;

fn reading(quantity: &'static str, unit: &'static str, v: f64) -> Reading {
    Reading {
        quantity: quantity.into(),
        value: Some(v),
        unit: unit.into(),
        quality: Quality::Good,
    }
}

fn poll(ts_ms: i64, readings: Vec<Reading>) -> Incoming {
    Incoming::Poll(DevicePoll {
        version: SCHEMA_VERSION,
        site: "s".into(),
        device: "m".into(),
        seq: 0,
        ts: ms_to_utc(ts_ms),
        readings,
    })
}

fn held_dir(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("kw-held-{name}-{}", std::process::id()))
}

fn held_store(name: &str) -> Store {
    let dir = held_dir(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut settings = StoreSettings::default();
    settings.held.insert(
        "m".into(),
        HeldDevice {
            interval_ms: 1000,
            ..HeldDevice::default()
        },
    );
    Store::open(&dir.join("t.db"))
        .unwrap()
        .with_settings(settings)
}

/// Every rollup row of both series at every resolution.
fn all_rollups(s: &Store) -> Vec<(String, i64, Vec<Point>)> {
    let mut out = Vec::new();
    for name in ["s/m/active_power", "s/m/active_energy_import"] {
        let id = s.find_series(name).unwrap().unwrap().id;
        for res in crate::rollup::RESOLUTIONS {
            let rows = s
                .query(id, T0 - 2 * 86_400_000, T0 + 2 * 86_400_000, res)
                .unwrap();
            out.push((name.to_owned(), res, rows));
        }
    }
    out
}

/// A small deterministic generator (xorshift).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn incremental_held_rollups_equal_a_full_recompute() {
    // Three hours of a device reported by exception: silences of 1 s to 4 min, and now and
    // then one of 7 minutes (longer than the 5-minute gap limit: not bridged).
    let mut rng = Lcg(0x2545_f491_4f6c_dd1d);
    let (mut t, mut kw, mut kwh) = (T0 + 7_300, 50.0, 1000.0);
    let mut polls = Vec::new();
    while t < T0 + 3 * 3_600_000 {
        polls.push(poll(
            t,
            vec![
                reading("active_power", "kW", kw),
                reading("active_energy_import", "kWh", kwh),
            ],
        ));
        let silence = match rng.next(20) {
            0 => 7 * MIN,
            1..=9 => (1 + rng.next(240)) as i64 * 1000,
            _ => (1 + rng.next(20)) as i64 * 1000,
        };
        kwh += kw * silence as f64 / 3_600_000.0;
        kw = (kw + rng.next(21) as f64 - 10.0).max(0.0);
        t += silence;
    }
    let mut full = held_store("full");
    full.write(&polls).unwrap();
    while full.refresh_rollups(1000).unwrap() > 0 {}

    // Shuffled, written in batches of 1-40 polls with a small refresh after each.
    let mut shuffled = polls.clone();
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, rng.next(i as u64 + 1) as usize);
    }
    let mut inc = held_store("incremental");
    let mut rest = &shuffled[..];
    while !rest.is_empty() {
        let n = (1 + rng.next(40) as usize).min(rest.len());
        inc.write(&rest[..n]).unwrap();
        rest = &rest[n..];
        inc.refresh_rollups(3).unwrap();
    }
    while inc.refresh_rollups(7).unwrap() > 0 {}

    let (a, b) = (all_rollups(&full), all_rollups(&inc));
    for ((name, res, fa), (_, _, fb)) in a.iter().zip(&b) {
        assert_eq!(fa.len(), fb.len(), "{name} at {res} s: rows");
        for (x, y) in fa.iter().zip(fb) {
            assert_eq!(x.ts, y.ts, "{name} at {res} s");
            let close = |p: Option<f64>, q: Option<f64>| match (p, q) {
                (Some(p), Some(q)) => (p - q).abs() <= 1e-9 * p.abs().max(1.0),
                (p, q) => p == q,
            };
            let (p, q) = (&x.agg, &y.agg);
            assert!(
                p.count == q.count
                    && p.gaps == q.gaps
                    && p.resets == q.resets
                    && close(p.avg, q.avg)
                    && close(p.min, q.min)
                    && close(p.max, q.max)
                    && close(p.delta, q.delta)
                    && close(p.integral, q.integral),
                "{name} at {res} s, {}: {p:?} vs {q:?}",
                x.ts
            );
        }
    }

    // The held integral is the zero-order hold of the samples, gaps left out.
    let pts: Vec<(i64, f64)> = polls
        .iter()
        .map(|p| match p {
            Incoming::Poll(p) => (p.ts.timestamp_millis(), p.readings[0].value.unwrap()),
            _ => unreachable!(),
        })
        .collect();
    let zoh: f64 = pts
        .windows(2)
        .filter(|w| w[1].0 - w[0].0 <= 5 * MIN)
        .map(|w| w[0].1 * (w[1].0 - w[0].0) as f64 / 3_600_000.0)
        .sum();
    let day = &a
        .iter()
        .find(|(n, r, _)| n == "s/m/active_power" && *r == 86_400)
        .unwrap()
        .2;
    let stored: f64 = day.iter().map(|p| p.agg.integral.unwrap()).sum();
    assert!((stored - zoh).abs() < 1e-6, "{stored} vs {zoh}");
    // Every minute of a bridged silence has its row.
    let minutes = &a
        .iter()
        .find(|(n, r, _)| n == "s/m/active_power" && *r == 60)
        .unwrap()
        .2;
    let covered: std::collections::BTreeSet<i64> = pts
        .windows(2)
        .filter(|w| w[1].0 - w[0].0 <= 5 * MIN)
        .flat_map(|w| {
            let first = w[0].0 - w[0].0.rem_euclid(MIN);
            (first..w[1].0).step_by(MIN as usize)
        })
        .collect();
    let rows: std::collections::BTreeSet<i64> =
        minutes.iter().map(|p| p.ts.timestamp_millis()).collect();
    assert!(
        covered.is_subset(&rows),
        "minutes of bridged silences without a row"
    );
    // The counter's increments all arrive, whatever the silences.
    let energy = &a
        .iter()
        .find(|(n, r, _)| n == "s/m/active_energy_import" && *r == 86_400)
        .unwrap()
        .2;
    let delta: f64 = energy.iter().map(|p| p.agg.delta.unwrap()).sum();
    assert!((delta - (kwh_last(&polls) - 1000.0)).abs() < 1e-6);
    drop((full, inc));
    for name in ["full", "incremental"] {
        let _ = std::fs::remove_dir_all(held_dir(name));
    }
}

fn kwh_last(polls: &[Incoming]) -> f64 {
    match polls.last() {
        Some(Incoming::Poll(p)) => p.readings[1].value.unwrap(),
        _ => f64::NAN,
    }
}
