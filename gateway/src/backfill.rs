//! History backfill: runs the simulated plant over a past period in one-second physics steps
//! and loads samples and their rollups straight into the store, so dashboards and savings
//! verification have data at first start. Each device is sampled as its poller would be (its
//! own phase, a little jitter, instrument noise; of a device polled faster than once a minute,
//! the last poll of each minute: see `sim::sampling`). The same plant object then goes live, so the
//! history and the live stream join without a gap or an overlap and counters continue.
//!
//! Alongside, a truth file records the energy each configured retrofit saved per plant-local
//! day (from the plant's counterfactual twins), for checking what the analytics recover.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use kilowatch_site::config::SiteConfig;
use kilowatch_site::vocab;

use crate::rollup::{self, Agg, RESOLUTIONS};
use crate::sim::plant::{Part, Plant};
use crate::sim::rng::Rng;
use crate::sim::sampling::{self, Poller};
use crate::sim::{plant_devices, plant_settings};
use crate::store::Store;

/// Quantities kept in history per part (live polls carry everything the device reports).
fn history_quantities(part: Part) -> &'static [&'static str] {
    match part {
        Part::Incomer | Part::CompressorFixed | Part::CompressorVsd | Part::Chiller => &[
            "active_power",
            "reactive_power",
            "power_factor",
            "active_energy_import",
            "reactive_energy_import",
        ],
        Part::AirHeader => &["pressure", "air_flow"],
        Part::ChilledWater => &[
            "chw_supply_temp",
            "chw_return_temp",
            "water_flow",
            "differential_pressure",
        ],
        Part::Weather => &["outdoor_temp", "wet_bulb_temp"],
        Part::Production => &["production_count"],
        // Drives: their power (they have no kWh register) is what the EnPIs need.
        Part::ChwPump | Part::CwPump | Part::TowerFan | Part::ExhaustFan => &["active_power"],
        Part::CondenserWater => &[
            "cw_supply_temp",
            "cw_return_temp",
            "water_flow",
            "differential_pressure",
        ],
        Part::Boiler => &[
            "steam_flow",
            "steam_pressure",
            "feedwater_temp",
            "flue_gas_temp",
            "flue_gas_o2",
            "combustion_air_temp",
        ],
        Part::GasMeter => &["gas_volume"],
        Part::ExhaustDuct => &["air_flow", "differential_pressure"],
    }
}

/// One plant device in the history: its part, voltage, frequency, (quantity, series id) and
/// its poller.
type DeviceSeries = (Part, f64, f64, Vec<(&'static str, i64)>, Poller);

/// Incremental rollups of one series fed one sample at a time, in time order.
struct Builder {
    kind: vocab::Kind,
    /// The last sample before the open minute.
    prev: Option<(i64, f64)>,
    /// The open minute and its samples.
    minute: (i64, Vec<(i64, f64)>),
    /// Open bucket per coarser resolution: (start, finer parts).
    open: [(i64, Vec<Agg>); 3],
}

impl Builder {
    fn new(kind: vocab::Kind) -> Self {
        Self {
            kind,
            prev: None,
            minute: (i64::MIN, Vec::new()),
            open: Default::default(),
        }
    }

    fn push(
        &mut self,
        id: i64,
        ts: i64,
        v: f64,
        gap: i64,
        tz: chrono_tz::Tz,
        out: &mut Vec<(i64, i64, i64, Agg)>,
    ) {
        let minute = ts - ts.rem_euclid(60_000);
        if minute != self.minute.0 {
            self.close_minute(id, gap, tz, out);
            self.minute.0 = minute;
        }
        self.minute.1.push((ts, v));
    }

    /// Rolls up the open minute (a late poll can put two samples in one minute).
    fn close_minute(
        &mut self,
        id: i64,
        gap: i64,
        tz: chrono_tz::Tz,
        out: &mut Vec<(i64, i64, i64, Agg)>,
    ) {
        let (minute, samples) = (self.minute.0, std::mem::take(&mut self.minute.1));
        let Some(&last) = samples.last() else {
            return;
        };
        let agg = rollup::aggregate(self.kind, self.prev, &samples, gap, None);
        self.prev = Some(last);
        out.push((id, 60, minute, agg));
        self.feed(0, minute, agg, id, tz, out);
    }

    /// Adds a finished finer bucket to the open bucket of the next level, closing that one
    /// (and feeding it upwards) when the finer bucket belongs to a new one.
    fn feed(
        &mut self,
        level: usize,
        finer_start: i64,
        agg: Agg,
        id: i64,
        tz: chrono_tz::Tz,
        out: &mut Vec<(i64, i64, i64, Agg)>,
    ) {
        if level >= self.open.len() {
            return;
        }
        let res = RESOLUTIONS[level + 1];
        let start = rollup::bucket_start(finer_start, res, tz);
        let (open_start, parts) = &mut self.open[level];
        if !parts.is_empty() && *open_start != start {
            let (done_start, done) = (*open_start, rollup::combine(parts));
            parts.clear();
            *open_start = start;
            parts.push(agg);
            out.push((id, res, done_start, done));
            self.feed(level + 1, done_start, done, id, tz, out);
        } else {
            *open_start = start;
            parts.push(agg);
        }
    }

    /// Closes the open buckets (partial at the end of the history; live data completes them).
    fn finish(
        &mut self,
        id: i64,
        gap: i64,
        tz: chrono_tz::Tz,
        out: &mut Vec<(i64, i64, i64, Agg)>,
    ) {
        self.close_minute(id, gap, tz, out);
        for level in 0..self.open.len() {
            let (start, parts) = &mut self.open[level];
            if parts.is_empty() {
                continue;
            }
            let (done_start, done) = (*start, rollup::combine(parts));
            parts.clear();
            out.push((id, RESOLUTIONS[level + 1], done_start, done));
            self.feed(level + 1, done_start, done, id, tz, out);
        }
    }
}

/// What a backfill did.
#[derive(Debug)]
pub struct Report {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub samples: u64,
    /// (plant-local date, measure, kWh saved that day).
    pub truth: Vec<(NaiveDate, &'static str, f64)>,
}

/// The history fill was stopped (Ctrl-C) before its end: what was written so far stays.
#[derive(Debug, thiserror::Error)]
#[error("the history fill was stopped before its end")]
pub struct Cancelled;

/// Fills `store` with `length` of history ending at `now` (floored to the minute).
/// Returns the plant, run up to the end, for the live simulator to continue.
pub fn backfill(
    config: &SiteConfig,
    file: &str,
    store: &mut Store,
    length: std::time::Duration,
    now: DateTime<Utc>,
    progress: bool,
) -> anyhow::Result<(Plant, DateTime<Utc>, Report)> {
    backfill_until(
        config,
        file,
        store,
        (length, now),
        progress,
        &AtomicBool::new(false),
    )
}

/// [`backfill`] that stops with [`Cancelled`] soon after `cancel` is set (a long history takes
/// minutes, and a Ctrl-C must not wait for it).
pub fn backfill_until(
    config: &SiteConfig,
    file: &str,
    store: &mut Store,
    (length, now): (std::time::Duration, DateTime<Utc>),
    progress: bool,
    cancel: &AtomicBool,
) -> anyhow::Result<(Plant, DateTime<Utc>, Report)> {
    let tz = config.timezone();
    let settings = plant_settings(config, file)?;
    let devices = plant_devices(config, file)?;
    anyhow::ensure!(
        !devices.is_empty(),
        "{file}: no device shows the simulated plant (`plant = \"…\"` in [devices.simulate]); nothing to backfill"
    );
    let end_ms = now.timestamp_millis() - now.timestamp_millis().rem_euclid(60_000);
    let end = DateTime::from_timestamp_millis(end_ms).expect("valid time");
    let start = end - Duration::from_std(length)?;
    let gap = i64::try_from(config.gateway.gap_limit.as_millis()).unwrap_or(i64::MAX);
    let raw_from = config.gateway.retention.raw.map_or(i64::MIN, |d| {
        end_ms - i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
    });
    let settings_seed = settings.seed;
    let mut rng = Rng::new(settings.seed ^ 0xbac7);
    let mut plant = Plant::new(settings, tz);
    for k in (1..=300).rev() {
        plant.step(start - Duration::seconds(k), 1.0);
    }

    // Series ids and builders for the history quantities.
    let mut series: Vec<DeviceSeries> = Vec::new();
    let mut builders: HashMap<i64, Builder> = HashMap::new();
    let start_ms = start.timestamp_millis();
    for (index, (d, part)) in devices.iter().enumerate() {
        let interval = i64::try_from(d.interval.as_millis()).unwrap_or(i64::MAX);
        let poller = Poller::new(settings_seed, index, interval, start_ms);
        let mut ids = Vec::new();
        for &q in history_quantities(part.plant) {
            let quantity = vocab::quantity(q)?;
            let id = store.ensure_series(&config.site.id, &d.id, q, quantity.unit)?;
            builders.insert(id, Builder::new(quantity.kind));
            ids.push((q, id));
        }
        series.push((part.plant, part.voltage_ln, part.frequency, ids, poller));
    }

    let minutes = (end - start).num_minutes().max(0) as u64;
    let bar = if progress {
        indicatif::ProgressBar::new(minutes)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("history {bar:40} {percent:>3}% {msg} (eta {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    // The physics runs here while a second thread writes the previous batch: two cores, two
    // stages. The bounded channel keeps at most two batches in memory.
    type Batch = (Vec<(i64, i64, f64)>, Vec<(i64, i64, i64, Agg)>);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(1);
    let (total, truth) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> anyhow::Result<()> {
            for (samples, rollups) in rx {
                store.bulk_load(&samples, &rollups)?;
            }
            Ok(())
        });
        let mut samples = Vec::with_capacity(300_000);
        let mut rollups = Vec::with_capacity(300_000);
        let mut total = 0u64;
        let mut truth = Vec::new();
        let mut day = start.with_timezone(&tz).date_naive();
        let mut saved_at_day_start = [0.0; MEASURES.len()];
        // Minute marks in [start, end): the plant was settled up to start − 1 s.
        let mut t = start - Duration::seconds(1);
        loop {
            t += Duration::seconds(1);
            if t >= end {
                // Leave the plant at `end`; the live simulator continues from there.
                plant.step(end, 1.0);
                // A history ending at local midnight completes its last day: its truth too.
                if end.with_timezone(&tz).time() == chrono::NaiveTime::MIN {
                    day_truth(&mut truth, day, saved_at_day_start, plant.snapshot());
                }
                break;
            }
            plant.step(t, 1.0);
            let now_ms = t.timestamp_millis();
            let snap = plant.snapshot();
            // Polls in [t, t + 1 s) read the state after this step, as the simulator's
            // registers hold it until the next one; polls at or after `end` are live.
            let until = (now_ms + 1000).min(end_ms);
            for (part, v_ln, freq, ids, poller) in &mut series {
                while let Some(ts) = poller.due(until) {
                    let values = sampling::read(*part, snap, *v_ln, *freq, &mut rng);
                    for (q, id) in ids.iter() {
                        if let Some(&v) = values.get(q) {
                            // Raw samples only within raw retention; rollups for all of it.
                            if ts >= raw_from {
                                samples.push((*id, ts, v));
                            }
                            if let Some(b) = builders.get_mut(id) {
                                b.push(*id, ts, v, gap, tz, &mut rollups);
                            }
                        }
                    }
                }
            }
            if now_ms.rem_euclid(60_000) != 0 {
                continue;
            }
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let local_day = t.with_timezone(&tz).date_naive();
            if local_day != day {
                saved_at_day_start = day_truth(&mut truth, day, saved_at_day_start, snap);
                day = local_day;
            }
            if samples.len() + rollups.len() >= 500_000 {
                total += samples.len() as u64;
                let batch = (
                    std::mem::replace(&mut samples, Vec::with_capacity(300_000)),
                    std::mem::replace(&mut rollups, Vec::with_capacity(300_000)),
                );
                if tx.send(batch).is_err() {
                    break;
                }
            }
            bar.inc(1);
            if now_ms.rem_euclid(86_400_000) == 0 {
                bar.set_message(format!("{}", local_day));
            }
        }
        for (id, b) in builders.iter_mut() {
            b.finish(*id, gap, tz, &mut rollups);
        }
        total += samples.len() as u64;
        let _ = tx.send((samples, rollups));
        drop(tx);
        writer
            .join()
            .map_err(|_| anyhow::anyhow!("history writer panicked"))??;
        anyhow::Ok((total, truth))
    })?;
    bar.finish_and_clear();
    if cancel.load(Ordering::Relaxed) {
        return Err(Cancelled.into());
    }
    Ok((
        plant,
        end,
        Report {
            from: start,
            to: end,
            samples: total,
            truth,
        },
    ))
}

/// How much a measure saved so far, read from the plant's snapshot.
type Saved = fn(&crate::sim::plant::Snapshot) -> f64;

/// The measures with a truth, and what each saved so far: electricity (kWh) but for the
/// boiler's O2 trim, whose saving is fuel energy (kWh on the net heating value).
const MEASURES: [(&str, Saved); 5] = [
    ("leak_repair", |s| s.saved_leak_kwh),
    ("chiller_retrofit", |s| s.saved_chiller_kwh),
    ("pump_vfd", |s| s.utilities.saved_pump_kwh),
    ("boiler_o2_trim", |s| s.utilities.saved_boiler_kwh),
    ("fan_vfd", |s| s.utilities.saved_fan_kwh),
];

/// Appends the energy each measure saved on `day` (from the counterfactual twins) and returns
/// the running totals at the day's end.
fn day_truth(
    truth: &mut Vec<(NaiveDate, &'static str, f64)>,
    day: NaiveDate,
    at_start: [f64; MEASURES.len()],
    snap: &crate::sim::plant::Snapshot,
) -> [f64; MEASURES.len()] {
    let mut now = at_start;
    for (k, (measure, saved)) in MEASURES.iter().enumerate() {
        now[k] = saved(snap);
        if now[k] > at_start[k] {
            truth.push((day, measure, now[k] - at_start[k]));
        }
    }
    now
}

/// Writes the truth file: `date,measure,kwh_saved`.
pub fn write_truth(path: &Path, report: &Report) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    writeln!(f, "date,measure,kwh_saved")?;
    for (d, m, kwh) in &report.truth {
        writeln!(f, "{d},{m},{kwh:.3}")?;
    }
    Ok(())
}

/// The demo site, its assets and a fresh store (in a scratch directory named for `name`) filled
/// with `length` of history ending at `end`: the set-up of the tests that check indicators and
/// the energy review against the simulator.
#[cfg(test)]
pub(crate) fn demo_history(
    name: &str,
    length: std::time::Duration,
    end: DateTime<Utc>,
) -> (SiteConfig, crate::enpi::Assets, Store, Report) {
    use kilowatch_site::profile::ProfileLibrary;
    let file = "demo-site.toml";
    let config = SiteConfig::parse(crate::DEMO_SITE, file, &ProfileLibrary::builtin()).unwrap();
    let assets = crate::enpi::Assets::from_site(&config, file).unwrap();
    let dir = std::env::temp_dir().join(format!("kw-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut store = Store::open(&dir.join("t.db")).unwrap().with_settings(
        crate::store::StoreSettings::for_site(&config, &ProfileLibrary::builtin()),
    );
    let (_, _, report) = backfill(&config, file, &mut store, length, end, false).unwrap();
    (config, assets, store, report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Incoming, StoreSettings};
    use kilowatch_site::payload::{DevicePoll, Quality, Reading, SCHEMA_VERSION};
    use kilowatch_site::profile::ProfileLibrary;

    pub(super) fn site() -> SiteConfig {
        SiteConfig::parse(
            crate::DEMO_SITE,
            "demo-site.toml",
            &ProfileLibrary::builtin(),
        )
        .unwrap()
    }

    pub(super) fn store(name: &str, site: &SiteConfig) -> Store {
        let dir = std::env::temp_dir().join(format!("kw-backfill-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Store::open(&dir.join("t.db"))
            .unwrap()
            .with_settings(StoreSettings::for_site(site, &ProfileLibrary::builtin()))
    }

    fn now() -> DateTime<Utc> {
        "2026-10-16T03:17:42Z".parse().unwrap()
    }

    #[test]
    fn history_is_complete_consistent_and_joins_live_data_without_gap_or_overlap() {
        let site = site();
        let mut s = store("join", &site);
        let length = std::time::Duration::from_secs(2 * 86_400);
        let (mut plant, end, report) =
            backfill(&site, "demo-site.toml", &mut s, length, now(), false).unwrap();
        assert_eq!(end.timestamp_millis() % 60_000, 0);
        assert_eq!(
            report.samples,
            2 * 1440 * 46,
            "46 history quantities a minute for 2 days"
        );
        let power = s
            .find_series("demo-plant/incomer/active_power")
            .unwrap()
            .unwrap();
        let energy = s
            .find_series("demo-plant/incomer/active_energy_import")
            .unwrap()
            .unwrap();
        let raw = s.query(power.id, 0, i64::MAX, 0).unwrap();
        assert_eq!(raw.len(), 2 * 1440);
        // The last poll of each minute of a device polled every second (late by its jitter).
        assert!(
            raw.windows(2)
                .all(|w| ((w[1].ts - w[0].ts).num_milliseconds() - 60_000).abs() < 1_300),
            "minute gaps"
        );
        let last = raw.last().unwrap().ts;
        assert!(last < end && last > end - Duration::seconds(2), "{last}");

        // Energy counters match the integral of power (1-minute samples) within 0.5 %.
        let hours_e = s.query(energy.id, 0, i64::MAX, 3600).unwrap();
        let hours_p = s.query(power.id, 0, i64::MAX, 3600).unwrap();
        let counted: f64 = hours_e.iter().filter_map(|p| p.agg.delta).sum();
        let integrated: f64 = hours_p.iter().filter_map(|p| p.agg.integral).sum();
        assert!(
            ((counted - integrated) / counted).abs() < 0.005,
            "counter {counted} kWh vs ∫P {integrated} kWh"
        );

        // The leak repair (2026-10-15) is in the window: its saving is in the truth rows.
        assert!(report
            .truth
            .iter()
            .any(|(d, m, kwh)| d.to_string() == "2026-10-15" && *m == "leak_repair" && *kwh > 0.0));

        // Live polls continue the same plant from `end`, once a second.
        let mut t = end;
        let mut polls = Vec::new();
        for _ in 0..120 {
            t += Duration::seconds(1);
            plant.step(t, 1.0);
            let snap = plant.snapshot();
            polls.push(Incoming::Poll(DevicePoll {
                version: SCHEMA_VERSION,
                site: "demo-plant".into(),
                device: "incomer".into(),
                seq: 0,
                ts: t,
                readings: vec![
                    Reading {
                        quantity: "active_power".into(),
                        value: Some(snap.incomer_kw),
                        unit: "kW".into(),
                        quality: Quality::Good,
                    },
                    Reading {
                        quantity: "active_energy_import".into(),
                        value: Some(snap.incomer_kwh),
                        unit: "kWh".into(),
                        quality: Quality::Good,
                    },
                ],
            }));
        }
        s.write(&polls).unwrap();
        while s.refresh_rollups(1000).unwrap() > 0 {}
        let around = |id| {
            s.query(
                id,
                (end - Duration::minutes(5)).timestamp_millis(),
                (end + Duration::minutes(2)).timestamp_millis(),
                60,
            )
            .unwrap()
        };
        let minutes: Vec<i64> = around(power.id).iter().map(|p| p.ts.timestamp()).collect();
        assert_eq!(
            minutes.len(),
            7,
            "one bucket per minute across the join: {minutes:?}"
        );
        assert!(minutes.windows(2).all(|w| w[1] - w[0] == 60));
        // No overlap: the last history sample is before the first live one.
        let raw = s.query(power.id, 0, i64::MAX, 0).unwrap();
        let k = raw.iter().position(|p| p.ts > last).unwrap();
        assert_eq!(raw[k].ts, end + Duration::seconds(1));
        // The counter carries on: no reset across the join.
        let e = around(energy.id);
        assert!(e.iter().all(|p| p.agg.resets == 0), "{e:?}");
        assert!(e.iter().all(|p| p.agg.delta.unwrap_or(0.0) >= 0.0));
    }

    #[test]
    fn same_seed_same_history() {
        let site = site();
        let length = std::time::Duration::from_secs(6 * 3600);
        let run = |name| {
            let mut s = store(name, &site);
            backfill(&site, "demo-site.toml", &mut s, length, now(), false).unwrap();
            let id = s
                .find_series("demo-plant/compressor-1/active_power")
                .unwrap()
                .unwrap()
                .id;
            s.query(id, 0, i64::MAX, 0).unwrap()
        };
        assert_eq!(run("seed-a"), run("seed-b"));
    }
}

#[cfg(test)]
#[path = "backfill_tests.rs"]
mod sampling_tests;
