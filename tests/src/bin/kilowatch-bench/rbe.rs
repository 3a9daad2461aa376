//! `kilowatch-bench rbe`: what report by exception saves on the demo plant. The demo site's
//! simulated devices are polled at their intervals for HOURS of simulated time (the plant
//! physics of `kilowatch_gateway::sim`, the values through each register's encoding and decoding, as
//! the agent reads them), and the polls go to MQTT as the agent would send them: every poll,
//! or through `Rbe`. Counts messages and bytes of the JSON payloads (and of Sparkplug DDATA),
//! and checks that the gateway's hourly energy is the same from both streams, each rolled up by
//! the gateway's own 1-minute aggregate (`rollup::aggregate` for every poll, trapezoids;
//! `rollup::aggregate_held` for report by exception, the value held across a silence): the
//! counters' hourly increments exactly, the integral of active power within the bound the
//! deadband allows (`held_bound`).

use std::collections::BTreeMap;

use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use kilowatch_agent::rbe::Rbe;
use kilowatch_agent::sparkplug::{device_message, Aliases};
use kilowatch_gateway::rollup;
use kilowatch_gateway::sim::plant::Plant;
use kilowatch_gateway::sim::rng::Rng;
use kilowatch_gateway::sim::sampling;
use kilowatch_gateway::sim::{plant_devices, plant_settings};
use kilowatch_site::config::{Deadband, ReportByException, SiteConfig};
use kilowatch_site::payload::{DevicePoll, Quality, Reading, SCHEMA_VERSION};
use kilowatch_site::profile::{ProfileLibrary, Table};
use kilowatch_site::vocab;
use kilowatch_site::vocab::Kind;

/// Messages and bytes of one stream, and what the gateway would compute from it.
#[derive(Default)]
struct Stream {
    messages: u64,
    readings: u64,
    json_bytes: u64,
    sparkplug_bytes: u64,
    /// (device, quantity) → (ts ms, value) as received.
    points: BTreeMap<(String, String), Vec<(i64, f64)>>,
    /// Polls from here on are only the ones that close the last silences (not counted).
    end_ms: i64,
}

impl Stream {
    fn send(&mut self, poll: &DevicePoll, aliases: &mut Aliases, seq: &mut u8) {
        if poll.ts.timestamp_millis() < self.end_ms {
            self.messages += 1;
            self.readings += poll.readings.len() as u64;
            self.json_bytes += poll.to_json().len() as u64;
            self.sparkplug_bytes += device_message(poll, *seq, aliases, false).len() as u64;
            *seq = seq.wrapping_add(1);
        }
        for r in &poll.readings {
            if let (Quality::Good, Some(v)) = (r.quality, r.value) {
                self.points
                    .entry((poll.device.clone(), r.quantity.to_string()))
                    .or_default()
                    .push((poll.ts.timestamp_millis(), v));
            }
        }
    }

    /// Per (device, hour): the counter's increment and the integral of active power, kWh, from
    /// the gateway's 1-minute rollups of this stream (held when `held` gives the poll interval).
    fn hourly(
        &self,
        start: i64,
        hours: i64,
        gap: i64,
        held: Option<&BTreeMap<String, i64>>,
    ) -> BTreeMap<(String, i64), (f64, f64)> {
        let mut out = BTreeMap::new();
        for ((device, q), pts) in &self.points {
            let kind = match q.as_str() {
                "active_energy_import" => Kind::Counter,
                "active_power" => Kind::Instantaneous,
                _ => continue,
            };
            let interval = held.and_then(|h| h.get(device).copied());
            for h in 0..hours {
                let mut sum = 0.0;
                for m in 0..60 {
                    let b = start + h * 3_600_000 + m * 60_000;
                    let (i, j) = (
                        pts.partition_point(|p| p.0 < b),
                        pts.partition_point(|p| p.0 < b + 60_000),
                    );
                    let before = i.checked_sub(1).map(|i| pts[i]);
                    let inside = &pts[i..j];
                    let agg = match interval {
                        None => rollup::aggregate(kind, before, inside, gap, None),
                        Some(iv) => {
                            let after = pts.get(j).map(|p| p.0);
                            let bucket = (b, b + 60_000);
                            rollup::aggregate_held(
                                kind, bucket, before, inside, after, gap, None, iv,
                            )
                        }
                    };
                    sum += match kind {
                        Kind::Counter => agg.delta.unwrap_or(0.0),
                        _ => agg.integral.unwrap_or(0.0),
                    };
                }
                let e = out.entry((device.clone(), h)).or_insert((0.0, 0.0));
                match kind {
                    Kind::Counter => e.0 = sum,
                    _ => e.1 = sum,
                }
            }
        }
        out
    }
}

/// How far the held integral of active power over [a, b) may be from every poll's trapezoids,
/// kWh: each held-back poll is within the deadband of the value held (the deadband × ∫|P| dt,
/// or the absolute deadband × the hour); at each reported change every poll's trapezoid ramps
/// over one poll interval where the hold steps (half the step, plus the deadband the poll
/// before it may differ by, × the interval); and at each end of the hour the trapezoid across
/// the boundary is credited whole to the later hour where the hold is cut (at most the larger
/// value either side × one interval).
fn held_bound(pts: &[(i64, f64)], a: i64, b: i64, interval: i64, deadband: Deadband) -> f64 {
    let i = pts.partition_point(|p| p.0 < a).saturating_sub(1);
    let j = pts.partition_point(|p| p.0 < b);
    let (mut energy, mut steps) = (0.0, 0.0);
    for w in pts[i..(j + 1).min(pts.len())].windows(2) {
        let ((t0, v0), (t1, v1)) = (w[0], w[1]);
        let (s, e) = (t0.max(a), t1.min(b));
        if e > s {
            energy += v0.abs() * (e - s) as f64;
        }
        if t1 >= a && t1 < b {
            steps += (v1 - v0).abs() + band_of(deadband, v0);
        }
    }
    // The polls either side of the boundary: the value held (within its deadband) or the next
    // reported one.
    let edge = |t: i64| {
        let k = pts.partition_point(|p| p.0 < t);
        let held = k.checked_sub(1).map_or(0.0, |k| {
            let v = pts[k].1;
            v.abs() + band_of(deadband, v)
        });
        held.max(pts.get(k).map_or(0.0, |p| p.1.abs()))
    };
    let band = match deadband {
        Deadband::Percent(p) => p / 100.0 * energy,
        Deadband::Absolute(d) => d * (b - a) as f64,
    };
    let iv = interval as f64;
    (band + steps * iv / 2.0 + (edge(a) + edge(b)) * iv) / 3_600_000.0
}

/// The deadband around `last`, in its unit.
fn band_of(d: Deadband, last: f64) -> f64 {
    match d {
        Deadband::Percent(p) => last.abs() * p / 100.0,
        Deadband::Absolute(a) => a,
    }
}

pub fn rbe_bench(args: &[String]) -> anyhow::Result<()> {
    let mut config_path = "seeds/demo-site.toml".to_owned();
    let mut hours = 24i64;
    let mut deadband = "0.5%".to_owned();
    let mut heartbeat = "300s".to_owned();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().context("missing value");
        match a.as_str() {
            "--config" => config_path = val()?,
            "--hours" => hours = val()?.parse()?,
            "--deadband" => deadband = val()?,
            "--heartbeat" => heartbeat = val()?,
            other => bail!("unknown option {other}"),
        }
    }
    let profiles = ProfileLibrary::builtin();
    let config = SiteConfig::load(std::path::Path::new(&config_path), &profiles)?;
    let rbe: ReportByException = toml::from_str(&format!(
        "enabled = true\nheartbeat = \"{heartbeat}\"\ndefault_deadband = \"{deadband}\""
    ))?;
    let tz = config.timezone();
    let settings = plant_settings(&config, &config_path)?;
    let devices = plant_devices(&config, &config_path)?;
    let gap = i64::try_from(config.gateway.gap_limit.as_millis())?;
    let seed = settings.seed;
    let mut rng = Rng::new(seed ^ 0x7be);
    let mut plant = Plant::new(settings, tz);
    // A working day in July: chillers and compressors both busy.
    let start: DateTime<Utc> = "2026-07-14T00:00:00Z".parse()?;
    for k in (1..=300).rev() {
        plant.step(start - chrono::Duration::seconds(k), 1.0);
    }
    let start_ms = start.timestamp_millis();
    struct Dev {
        id: String,
        part: kilowatch_gateway::sim::plant::PartSettings,
        profile: kilowatch_site::profile::Profile,
        /// The next poll (every interval, the device's own phase).
        next: i64,
        interval: i64,
        rbe: Rbe,
        seq: u64,
    }
    let mut devs = Vec::new();
    for (index, (d, part)) in devices.into_iter().enumerate() {
        let profile = profiles
            .get(&d.profile)
            .with_context(|| format!("unknown profile {}", d.profile))?
            .for_device(&d.channels)
            .map_err(|e| anyhow::anyhow!(e))?;
        let interval = i64::try_from(d.interval.as_millis())?;
        devs.push(Dev {
            next: start_ms + (index as i64 * 137) % interval,
            interval,
            rbe: Rbe::new(rbe.clone(), d.interval),
            id: d.id,
            part,
            profile,
            seq: 0,
        });
    }
    let (mut all, mut filtered) = (Stream::default(), Stream::default());
    let (mut all_aliases, mut rbe_aliases) = (Aliases::default(), Aliases::default());
    let (mut all_seq, mut rbe_seq) = (0u8, 0u8);
    let end = start + chrono::Duration::hours(hours);
    all.end_ms = end.timestamp_millis();
    filtered.end_ms = all.end_ms;
    // The gateway holds a value once the sample that ends its silence is in: run on for a
    // heartbeat more, so the silences open at the end are closed as they would be live.
    let run_until = end + chrono::Duration::from_std(rbe.heartbeat)? + chrono::Duration::seconds(5);
    let mut t = start;
    while t < run_until {
        plant.step(t, 1.0);
        let snap = plant.snapshot();
        let until = t.timestamp_millis() + 1000;
        for d in &mut devs {
            while d.next < until {
                let ts = d.next;
                d.next += d.interval;
                let values = sampling::read(
                    d.part.plant,
                    snap,
                    d.part.voltage_ln,
                    d.part.frequency,
                    &mut rng,
                );
                let mut readings = Vec::new();
                for r in &d.profile.registers {
                    if matches!(r.table, Table::Coil | Table::DiscreteInput) {
                        continue;
                    }
                    let Some(&v) = values.get(r.quantity.as_str()) else {
                        continue;
                    };
                    // The value as the agent decodes it from the register the simulator serves.
                    let order = d.profile.order(r);
                    let value = match r.to_canonical(&r.from_canonical(v, order), order) {
                        Ok(kilowatch_site::profile::Value::Good(x)) => x,
                        _ => continue,
                    };
                    let unit = vocab::quantity(&r.quantity).map_or("", |q| q.unit);
                    readings.push(Reading {
                        quantity: r.quantity.clone().into(),
                        value: Some(value),
                        unit: unit.into(),
                        quality: Quality::Good,
                    });
                }
                d.seq += 1;
                let poll = DevicePoll {
                    version: SCHEMA_VERSION,
                    site: config.site.id.clone(),
                    device: d.id.clone(),
                    seq: d.seq,
                    ts: DateTime::from_timestamp_millis(ts).context("time")?,
                    readings,
                };
                all.send(&poll, &mut all_aliases, &mut all_seq);
                if let Some(p) = d.rbe.filter(poll) {
                    filtered.send(&p, &mut rbe_aliases, &mut rbe_seq);
                }
            }
        }
        t += chrono::Duration::seconds(1);
    }

    // Energy per device-hour from both streams.
    let intervals: BTreeMap<String, i64> =
        devs.iter().map(|d| (d.id.clone(), d.interval)).collect();
    let (a, b) = (
        all.hourly(start_ms, hours, gap, None),
        filtered.hourly(start_ms, hours, gap, Some(&intervals)),
    );
    let power_deadband = rbe
        .deadband_of("active_power")
        .unwrap_or(Deadband::Absolute(0.0));
    let (mut counter_diff, mut power_diff, mut power_total) = (0f64, 0f64, 0f64);
    let (mut worst_share, mut over) = (0f64, Vec::new());
    for ((device, h), (ca, pa)) in &a {
        let (cb, pb) = b
            .get(&(device.clone(), *h))
            .copied()
            .unwrap_or((f64::NAN, f64::NAN));
        if ca.is_finite() || cb.is_finite() {
            counter_diff = counter_diff.max((ca - cb).abs());
        }
        power_diff = power_diff.max((pa - pb).abs() / pa.abs().max(1e-9));
        power_total += pa;
        let key = (device.clone(), "active_power".to_owned());
        if let Some(pts) = filtered.points.get(&key) {
            let from = start_ms + h * 3_600_000;
            let to = from + 3_600_000;
            let bound = held_bound(pts, from, to, intervals[device], power_deadband);
            let diff = (pa - pb).abs();
            worst_share = worst_share.max(diff / bound.max(1e-12));
            if diff > bound {
                over.push(format!("{device} hour {h}: {diff:.6} kWh > {bound:.6} kWh"));
            }
        }
    }
    let h = hours as f64;
    let per_hour = |x: u64| x as f64 / h;
    println!(
        "report by exception on {config_path}: {} devices, {hours} h simulated from {start}, deadband {deadband}, heartbeat {heartbeat}\n",
        devs.len()
    );
    println!("| stream | messages/h | readings/h | JSON bytes/h | JSON bytes/reading | Sparkplug DDATA bytes/h | Sparkplug bytes/reading |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, s) in [("every poll", &all), ("report by exception", &filtered)] {
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:.1} | {:.0} | {:.1} |",
            per_hour(s.messages),
            per_hour(s.readings),
            per_hour(s.json_bytes),
            s.json_bytes as f64 / s.readings.max(1) as f64,
            per_hour(s.sparkplug_bytes),
            s.sparkplug_bytes as f64 / s.readings.max(1) as f64,
        );
    }
    println!(
        "\nsaved: {:.1} % of messages, {:.1} % of JSON bytes",
        100.0 * (1.0 - filtered.messages as f64 / all.messages.max(1) as f64),
        100.0 * (1.0 - filtered.json_bytes as f64 / all.json_bytes.max(1) as f64)
    );
    println!(
        "hourly energy, {} device-hours: counter increments differ by at most {counter_diff} kWh; \
         ∫ active power differs by at most {:.4} % of the hour's ({power_total:.0} kWh in all)",
        a.len(),
        100.0 * power_diff
    );
    println!(
        "the largest difference is {:.1} % of its device-hour's bound (deadband × ∫|P| dt, plus \
         half a poll interval × each reported step, plus one interval at the hour's ends)",
        100.0 * worst_share
    );
    if counter_diff != 0.0 {
        bail!("the counters' hourly increments differ: {counter_diff} kWh");
    }
    if !over.is_empty() {
        bail!(
            "the integral of active power differs by more than its bound in {} device-hours: {}",
            over.len(),
            over.join("; ")
        );
    }
    Ok(())
}
