//! The history as analytics meet it: sampled like the live poller (no aliasing with the
//! compressor's cycle), a power factor equal to the meter's, and a join with live data that
//! neither stretches nor shifts a quarter-hour.

use chrono::{DateTime, Duration, Utc};
use kilowatch_site::payload::{DevicePoll, Quality, Reading, SCHEMA_VERSION};

use super::backfill;
use super::tests::{site, store};
use crate::enpi::{self, Assets, Step};
use crate::sim::plant::Part;
use crate::sim::rng::Rng;
use crate::sim::sampling;
use crate::store::Incoming;

/// A Sunday without production (2026-10-11, Asia/Taipei): only leaks draw air, so the
/// load/unload compressor cycles inside its 6.5-7.2 bar band, loaded about 30 % of the time.
#[test]
fn an_idle_day_shows_the_pressure_band_and_the_loaded_compressor() {
    let site = site();
    let mut s = store("idle", &site);
    let end: DateTime<Utc> = "2026-10-11T16:00:00Z".parse().unwrap();
    backfill(
        &site,
        "demo-site.toml",
        &mut s,
        std::time::Duration::from_secs(86_400),
        end,
        false,
    )
    .unwrap();
    let pressure = s
        .find_series("demo-plant/air-header/pressure")
        .unwrap()
        .unwrap();
    let raw = s.query(pressure.id, 0, i64::MAX, 0).unwrap();
    let (lo, hi) = raw
        .iter()
        .filter_map(|p| p.agg.avg)
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    assert!(
        hi - lo > 0.5,
        "sampled pressure band {:.3} bar (the compressor's band is 0.7 bar)",
        hi - lo
    );
    let power = s
        .find_series("demo-plant/compressor-1/active_power")
        .unwrap()
        .unwrap();
    let raw = s.query(power.id, 0, i64::MAX, 0).unwrap();
    let loaded = raw
        .iter()
        .filter(|p| p.agg.avg.unwrap_or(0.0) > 40.0)
        .count();
    let share = 100.0 * loaded as f64 / raw.len() as f64;
    assert!(
        (share - 30.0).abs() < 8.0,
        "compressor 1 loaded in {share:.1} % of the samples (30 % leak load)"
    );
}

fn reading(quantity: &'static str, value: f64) -> Reading {
    Reading {
        quantity: quantity.into(),
        value: Some(value),
        unit: kilowatch_site::vocab::quantity(quantity)
            .map(|q| q.unit)
            .unwrap_or("")
            .into(),
        quality: Quality::Good,
    }
}

/// The incomer's meter reads a constant 0.9: every quarter-hour's power factor is 0.9, in the
/// history and across the join with live one-second polls (which carry apparent power too); the
/// quarter-hour of the join holds that quarter's energy, not a minute more.
#[test]
fn power_factor_is_the_meters_and_the_join_quarter_holds_fifteen_minutes() {
    let site = site();
    let assets = Assets::from_site(&site, "demo-site.toml").unwrap();
    let mut s = store("pf-join", &site);
    let now: DateTime<Utc> = "2026-10-16T03:17:42Z".parse().unwrap();
    let (mut plant, end, report) = backfill(
        &site,
        "demo-site.toml",
        &mut s,
        std::time::Duration::from_secs(86_400),
        now,
        false,
    )
    .unwrap();
    // Live: the incomer polled every second for 20 minutes, everything the SDM630 reports.
    let quarter = |t: DateTime<Utc>| {
        let ms = t.timestamp_millis();
        ms - ms.rem_euclid(900_000)
    };
    let join_q = quarter(end);
    let mut rng = Rng::new(9);
    let mut polls = Vec::new();
    let mut kwh_at_quarter = std::collections::BTreeMap::new();
    let mut t = end;
    for _ in 0..1200 {
        t += Duration::seconds(1);
        plant.step(t, 1.0);
        let snap = plant.snapshot();
        if t.timestamp_millis() % 900_000 == 0 {
            kwh_at_quarter.insert(t.timestamp_millis(), snap.incomer_kwh);
        }
        let values = sampling::read(Part::Incomer, snap, 220.0, 60.0, &mut rng);
        polls.push(Incoming::Poll(DevicePoll {
            version: SCHEMA_VERSION,
            site: "demo-plant".into(),
            device: "incomer".into(),
            seq: 0,
            ts: t,
            readings: values.iter().map(|(q, v)| reading(q, *v)).collect(),
        }));
    }
    s.write(&polls).unwrap();
    while s.refresh_rollups(10_000).unwrap() > 0 {}
    let from = report.from.timestamp_millis();
    let to = t.timestamp_millis();
    enpi::recompute(&mut s, &assets, from, to, to, || {}).unwrap();
    let r = enpi::read(&s, &assets, "plant", Step::Quarter, from, to)
        .unwrap()
        .unwrap();
    assert!(r.rows.len() > 90, "{}", r.rows.len());
    for row in &r.rows {
        let pf = row.values.get("power_factor").copied();
        assert!(
            pf.is_some_and(|pf| (pf - 0.9).abs() < 1e-6),
            "{}: power factor {pf:?} ({:?})",
            row.ts,
            row.missing.get("power_factor")
        );
    }
    // The join quarter's energy against the plant's own register: the quarter after the join
    // is the first one whose end the live polls reached; the join quarter's start is in the
    // history.
    let truth_end = kwh_at_quarter[&(join_q + 900_000)];
    let row = r
        .rows
        .iter()
        .find(|row| row.ts.timestamp_millis() == join_q)
        .unwrap();
    // The register at the quarter's start, by running the same plant again up to it.
    let mut twin = crate::sim::plant::Plant::new(
        crate::sim::plant_settings(&site, "demo-site.toml").unwrap(),
        site.timezone(),
    );
    for k in (1..=300).rev() {
        twin.step(report.from - Duration::seconds(k), 1.0);
    }
    let mut u = report.from;
    while u.timestamp_millis() < join_q {
        twin.step(u, 1.0);
        u += Duration::seconds(1);
    }
    twin.step(u, 1.0);
    let truth = truth_end - twin.snapshot().incomer_kwh;
    let got = row.values["energy_kwh"];
    assert!(
        ((got - truth) / truth).abs() < 0.003,
        "join quarter {got:.3} kWh vs {truth:.3} kWh in the plant's register"
    );
    let demand = row.values["demand_kw"];
    assert!(
        ((demand - truth * 4.0) / (truth * 4.0)).abs() < 0.003,
        "join quarter demand {demand:.2} kW vs {:.2} kW",
        truth * 4.0
    );
}
