//! `alarms-suite`: what the alarm rules cost the gateway's ingest. The real gateway behind
//! mosquitto takes N declared SDM630 devices publishing once a second (every device watched
//! for silence, ten of them the plant's incomers for demand and power factor), once with
//! `[gateway] alarms = false` and once with the rules on, interleaved; each run measures the
//! gateway's CPU time (utime + stime from /proc) per stored reading over a fixed window
//! after a warm-up.

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

pub fn alarms_suite(args: &[String]) -> anyhow::Result<()> {
    let devices: usize = flag(args, "--devices").unwrap_or("500").parse()?;
    let window: u64 = flag(args, "--seconds").unwrap_or("60").parse()?;
    let repeat: usize = flag(args, "--repeat").unwrap_or("3").parse()?;
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

    println!("| run | alarms | readings stored | gateway CPU s | CPU µs per reading |");
    println!("|---|---|---:|---:|---:|");
    let mut per: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut run = 0;
    for round in 0..repeat {
        for alarms in [false, true] {
            run += 1;
            let http = free_port()?;
            let db = dir.join(format!("run{run}.db"));
            let cfg = dir.join(format!("site{run}.toml"));
            std::fs::write(&cfg, site(devices, mq, http, &db, alarms, run))?;
            let gw = spawn(
                &gateway,
                &["run", "--config", cfg.to_str().unwrap_or_default()],
            )?;
            wait_port(http, "gateway")?;
            let stored = || -> anyhow::Result<u64> {
                Ok(health(http)?["ingest"]["stored_samples"]
                    .as_u64()
                    .unwrap_or(0))
            };
            let t = Instant::now();
            while stored()? == 0 {
                if t.elapsed() > Duration::from_secs(60) {
                    bail!("run {run}: nothing stored after 60 s: {}", health(http)?);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            // Warm-up: catalogue filled, caches and the alarm engine's state built.
            std::thread::sleep(Duration::from_secs(10));
            let pid = gw.0.id().to_string();
            let (cpu0, n0) = (cpu_seconds(&pid)?, stored()?);
            std::thread::sleep(Duration::from_secs(window));
            let (cpu1, n1) = (cpu_seconds(&pid)?, stored()?);
            drop(gw);
            let (cpu, n) = (cpu1 - cpu0, n1.saturating_sub(n0));
            let expected = devices as u64 * window * sample_poll(0).readings.len() as u64;
            if n < expected * 9 / 10 {
                bail!("run {run}: stored {n} readings, expected about {expected}: the gateway fell behind");
            }
            let us = cpu * 1e6 / n as f64;
            per[usize::from(alarms)].push(us);
            println!(
                "| {} | {} | {n} | {cpu:.2} | {us:.3} |",
                round + 1,
                if alarms { "on" } else { "off" }
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = publishing.join();
    let off = super::median(per[0].clone());
    let on = super::median(per[1].clone());
    println!(
        "\nmedian CPU per stored reading: off {off:.3} µs, on {on:.3} µs: the rules add {:+.1} %",
        100.0 * (on / off - 1.0)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
