//! `alarms-suite`: what the alarm rules cost the gateway's ingest. The real gateway behind
//! mosquitto takes N declared SDM630 devices publishing once a second (every device watched
//! for silence, ten of them the plant's incomers for demand and power factor); two gateways
//! run side by side on the same stream, one with `[gateway] alarms = false` and one with the
//! rules on, and each round measures both one's and the other's CPU time (utime + stime from
//! /proc) per stored reading over the same window after a warm-up.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::{cpu_seconds, flag, free_port, health, sample_poll, sibling, spawn, wait_port};

/// Publishes one poll of each of `devices` every second until `stop`.
fn publisher(port: u16, devices: usize, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Runtime::new() else {
            return;
        };
        rt.block_on(async move {
            use rumqttc::{AsyncClient, MqttOptions, QoS};
            let mut opts = MqttOptions::new("bench-alarms-pub", "127.0.0.1", port);
            opts.set_inflight(1000)
                .set_max_packet_size(1 << 20, 1 << 20);
            let (client, mut el) = AsyncClient::new(opts, 4096);
            tokio::spawn(async move { while el.poll().await.is_ok() {} });
            let template = sample_poll(0);
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                seq += 1;
                let now = chrono::Utc::now();
                for d in 0..devices {
                    let mut p = template.clone();
                    p.device = format!("d{d:03}");
                    p.seq = seq;
                    p.ts = now;
                    let topic = kilowatch_site::payload::data_topic(&p.site, &p.device);
                    let _ = client
                        .publish(topic, QoS::AtLeastOnce, false, p.to_json())
                        .await;
                }
            }
            let _ = client.disconnect().await;
        });
    })
}

fn site(devices: usize, mq: u16, http: u16, db: &Path, alarms: bool, run: usize) -> String {
    let mut s = format!(
        "[site]\nid = \"bench\"\ntimezone = \"Asia/Taipei\"\ncontract_kw = 5000.0\n\
         [mqtt]\nbroker = \"127.0.0.1:{mq}\"\ngateway_client_id = \"bench-alarms-{run}\"\n\
         [gateway]\nhttp = \"127.0.0.1:{http}\"\ndatabase = \"{}\"\nalarms = {alarms}\n",
        db.display()
    );
    for d in 0..devices {
        s.push_str(&format!(
            "[[devices]]\nid = \"d{d:03}\"\nprofile = \"eastron-sdm630\"\ntcp = \"127.0.0.1:1\"\ninterval = \"1s\"\n"
        ));
    }
    let incomers: Vec<String> = (0..devices.min(10))
        .map(|d| format!("\"d{d:03}\""))
        .collect();
    s.push_str(&format!(
        "[[assets]]\nid = \"plant\"\ntype = \"plant\"\npower = [{}]\n\
         [[alarms]]\nid = \"power_factor\"\nthreshold = \"85 %\"\n",
        incomers.join(", ")
    ));
    s
}

/// One gateway of a round: its process, HTTP port and whether its rules are on.
struct Gateway {
    child: super::Child,
    http: u16,
    alarms: bool,
}

impl Gateway {
    fn stored(&self) -> anyhow::Result<u64> {
        Ok(health(self.http)?["ingest"]["stored_samples"]
            .as_u64()
            .unwrap_or(0))
    }

    fn cpu(&self) -> anyhow::Result<f64> {
        cpu_seconds(&self.child.0.id().to_string())
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The value at quantile `q` (0..=1) of sorted `v`, by linear interpolation.
fn quantile(v: &[f64], q: f64) -> f64 {
    let x = q * (v.len() - 1) as f64;
    let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (x - lo as f64)
}

/// Each round runs two fresh gateways side by side on the same published stream, one with
/// `[gateway] alarms = false`, one with the rules on, and measures both over the same window:
/// whatever else the (shared) machine does in that window weighs on both, so the round's
/// ratio of CPU per stored reading is far steadier than runs one after the other. The start
/// order alternates and rounds are judged in pairs, one of each order; the window is whole
/// minutes so each holds as many maintenance passes (rollups, EnPI facts: once a minute).
/// Reported: each round, the median overhead of the pairs and its spread (min, quartiles,
/// max), the start-order effect, and the load average.
pub fn alarms_suite(args: &[String]) -> anyhow::Result<()> {
    let devices: usize = flag(args, "--devices").unwrap_or("500").parse()?;
    let window: u64 = flag(args, "--seconds").unwrap_or("60").parse()?;
    let repeat: usize = flag(args, "--repeat").unwrap_or("6").parse()?;
    if repeat < 2 || repeat % 2 == 1 || window == 0 {
        bail!("--repeat must be even (rounds go in pairs, one of each start order) and --seconds at least 1");
    }
    let gateway = sibling("kilowatch-gateway")?;
    let mosquitto = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .context("mosquitto is not installed")?;
    let dir = std::env::temp_dir().join(format!("kilowatch-bench-alarms-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let mq = free_port()?;
    std::fs::write(
        dir.join("mosquitto.conf"),
        format!("user {user}\nlistener {mq} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n"),
    )?;
    let _mq = spawn(
        Path::new(mosquitto),
        &[
            "-c",
            dir.join("mosquitto.conf").to_str().unwrap_or_default(),
        ],
    )?;
    wait_port(mq, "mosquitto")?;
    let stop = Arc::new(AtomicBool::new(false));
    let publishing = publisher(mq, devices, stop.clone());

    println!("load average at the start: {}", loadavg());
    println!("| round | alarms | readings stored | gateway CPU s | CPU µs per reading | on/off |");
    println!("|---|---|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    let mut per: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut run = 0;
    for round in 0..repeat {
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        let mut gws = Vec::new();
        for alarms in order {
            run += 1;
            let http = free_port()?;
            let db = dir.join(format!("run{run}.db"));
            let cfg = dir.join(format!("site{run}.toml"));
            std::fs::write(&cfg, site(devices, mq, http, &db, alarms, run))?;
            let child = spawn(
                &gateway,
                &["run", "--config", cfg.to_str().unwrap_or_default()],
            )?;
            wait_port(http, "gateway")?;
            gws.push(Gateway {
                child,
                http,
                alarms,
            });
        }
        for g in &gws {
            let t = Instant::now();
            while g.stored()? == 0 {
                if t.elapsed() > Duration::from_secs(60) {
                    bail!(
                        "round {}: nothing stored after 60 s: {}",
                        round + 1,
                        health(g.http)?
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        // Warm-up: catalogue filled, caches and the alarm engine's state built.
        std::thread::sleep(Duration::from_secs(10));
        let start: Vec<(f64, u64)> = gws
            .iter()
            .map(|g| Ok((g.cpu()?, g.stored()?)))
            .collect::<anyhow::Result<_>>()?;
        // The measurement window itself (not a wait for a condition).
        std::thread::sleep(Duration::from_secs(window));
        let end: Vec<(f64, u64)> = gws
            .iter()
            .map(|g| Ok((g.cpu()?, g.stored()?)))
            .collect::<anyhow::Result<_>>()?;
        let mut us = [0.0; 2];
        let expected = devices as u64 * window * sample_poll(0).readings.len() as u64;
        for (i, g) in gws.iter().enumerate() {
            let (cpu, n) = (end[i].0 - start[i].0, end[i].1.saturating_sub(start[i].1));
            if n < expected * 9 / 10 {
                bail!(
                    "round {}: alarms {}: stored {n} readings, expected about {expected}: the gateway fell behind",
                    round + 1,
                    g.alarms
                );
            }
            us[usize::from(g.alarms)] = cpu * 1e6 / n as f64;
            per[usize::from(g.alarms)].push(us[usize::from(g.alarms)]);
            println!(
                "| {} | {} | {n} | {cpu:.2} | {:.3} | |",
                round + 1,
                if g.alarms { "on" } else { "off" },
                us[usize::from(g.alarms)],
            );
        }
        let ratio = us[1] / us[0];
        ratios.push(ratio);
        println!("| {} | on/off | | | | {ratio:.3} |", round + 1);
        drop(gws);
    }
    stop.store(true, Ordering::Relaxed);
    let _ = publishing.join();
    println!("\nload average at the end: {}", loadavg());
    println!(
        "median CPU per stored reading: off {:.3} µs, on {:.3} µs",
        super::median(per[0].clone()),
        super::median(per[1].clone())
    );
    // The gateway started first may fare differently (it is the broker's first subscriber;
    // one run here showed a few %, another none): each pair of rounds, one of each start
    // order, gives the geometric mean of its two ratios, free of any such effect.
    let mut pct: Vec<f64> = ratios
        .chunks_exact(2)
        .map(|p| 100.0 * ((p[0] * p[1]).sqrt() - 1.0))
        .collect();
    pct.sort_by(f64::total_cmp);
    let order = |first_off: bool| {
        let r: Vec<f64> = ratios
            .iter()
            .enumerate()
            .filter(|(i, _)| (i % 2 == 0) == first_off)
            .map(|(_, r)| *r)
            .collect();
        100.0 * (super::median(r) - 1.0)
    };
    println!(
        "start order: rules off first {:+.1} %, rules on first {:+.1} % (median on/off of those rounds)",
        order(true),
        order(false)
    );
    println!(
        "the rules add {:+.1} % (median of {} order-balanced pairs of rounds); spread: min {:+.1} %, quartiles {:+.1} % .. {:+.1} %, max {:+.1} %",
        quantile(&pct, 0.5),
        pct.len(),
        pct[0],
        quantile(&pct, 0.25),
        quantile(&pct, 0.75),
        pct[pct.len() - 1]
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
