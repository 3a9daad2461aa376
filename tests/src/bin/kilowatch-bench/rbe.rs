//! `kilowatch-bench rbe`: what report by exception saves on the demo plant. The demo site's
//! simulated devices are polled at their intervals for HOURS of simulated time (the plant
//! physics of `kilowatch_gateway::sim`, the values through each register's encoding and decoding, as
//! the agent reads them), and the polls go to MQTT as the agent would send them: every poll,
//! or through `Rbe`. Counts messages and bytes of the JSON payloads (and of Sparkplug DDATA),
//! and checks that the gateway's hourly energy is the same from both streams: the counters'
//! hourly increments exactly, the integral of active power (trapezoids, as the rollups do)
//! within the deadband.

use std::collections::BTreeMap;

use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use kilowatch_agent::rbe::Rbe;
use kilowatch_agent::sparkplug::{device_message, Aliases};
use kilowatch_gateway::sim::plant::Plant;
use kilowatch_gateway::sim::rng::Rng;
use kilowatch_gateway::sim::sampling;
use kilowatch_gateway::sim::{plant_devices, plant_settings};
use kilowatch_site::config::{ReportByException, SiteConfig};
use kilowatch_site::payload::{DevicePoll, Quality, Reading, SCHEMA_VERSION};
use kilowatch_site::profile::{ProfileLibrary, Table};
use kilowatch_site::vocab;

/// Messages and bytes of one stream, and what the gateway would compute from it.
#[derive(Default)]
struct Stream {
    messages: u64,
    readings: u64,
    json_bytes: u64,
    sparkplug_bytes: u64,
    /// (device, quantity) → (ts ms, value) as received.
    points: BTreeMap<(String, String), Vec<(i64, f64)>>,
}

impl Stream {
    fn send(&mut self, poll: &DevicePoll, aliases: &mut Aliases, seq: &mut u8) {
        self.messages += 1;
        self.readings += poll.readings.len() as u64;
        self.json_bytes += poll.to_json().len() as u64;
        self.sparkplug_bytes += device_message(poll, *seq, aliases, false).len() as u64;
        *seq = seq.wrapping_add(1);
        for r in &poll.readings {
            if let (Quality::Good, Some(v)) = (r.quality, r.value) {
                self.points
                    .entry((poll.device.clone(), r.quantity.to_string()))
                    .or_default()
                    .push((poll.ts.timestamp_millis(), v));
            }
        }
    }

    /// Per (device, hour): the counter's increment and the integral of active power, kWh.
    fn hourly(&self, start: i64, hours: i64, gap: i64) -> BTreeMap<(String, i64), (f64, f64)> {
        let mut out = BTreeMap::new();
        for ((device, q), pts) in &self.points {
            for h in 0..hours {
                let (a, b) = (start + h * 3_600_000, start + (h + 1) * 3_600_000);
                let e = out.entry((device.clone(), h)).or_insert((0.0, 0.0));
                match q.as_str() {
                    "active_energy_import" => e.0 = held(pts, b) - held(pts, a),
                    "active_power" => e.1 = integral(pts, a, b, gap),
                    _ => {}
                }
            }
        }
        out
    }
}

/// The last value at or before `t` (what the gateway holds across a silence).
fn held(pts: &[(i64, f64)], t: i64) -> f64 {
    let i = pts.partition_point(|(ts, _)| *ts <= t);
    i.checked_sub(1).map_or(f64::NAN, |i| pts[i].1)
}

/// ∫ value dt over [a, b) in value·h: trapezoids between consecutive samples at most `gap`
/// apart, cut at the bounds.
fn integral(pts: &[(i64, f64)], a: i64, b: i64, gap: i64) -> f64 {
    let mut sum = 0.0;
    for w in pts.windows(2) {
        let ((t0, v0), (t1, v1)) = (w[0], w[1]);
        if t1 <= a || t0 >= b || t1 - t0 > gap {
            continue;
        }
        let at = |t: i64| v0 + (v1 - v0) * (t - t0) as f64 / (t1 - t0) as f64;
        let (s, e) = (t0.max(a), t1.min(b));
        sum += (at(s) + at(e)) / 2.0 * (e - s) as f64;
    }
    sum / 3_600_000.0
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
    let mut t = start;
    while t < end {
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
                for p in d.rbe.filter(poll) {
                    filtered.send(&p, &mut rbe_aliases, &mut rbe_seq);
                }
            }
        }
        t += chrono::Duration::seconds(1);
    }

    // Energy per device-hour from both streams.
    let (a, b) = (
        all.hourly(start_ms, hours, gap),
        filtered.hourly(start_ms, hours, gap),
    );
    let (mut counter_diff, mut power_diff, mut power_total) = (0f64, 0f64, 0f64);
    for (k, (ca, pa)) in &a {
        let (cb, pb) = b.get(k).copied().unwrap_or((f64::NAN, f64::NAN));
        if ca.is_finite() || cb.is_finite() {
            counter_diff = counter_diff.max((ca - cb).abs());
        }
        power_diff = power_diff.max((pa - pb).abs() / pa.abs().max(1e-9));
        power_total += pa;
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
    if counter_diff != 0.0 {
        bail!("the counters' hourly increments differ: {counter_diff} kWh");
    }
    let bound = rbe.deadband_of("active_power").map_or(0.0, |d| match d {
        kilowatch_site::config::Deadband::Percent(p) => p / 100.0,
        kilowatch_site::config::Deadband::Absolute(_) => f64::INFINITY,
    });
    if power_diff > bound {
        bail!(
            "the integral of active power differs by {:.4} %, more than the deadband",
            100.0 * power_diff
        );
    }
    Ok(())
}
