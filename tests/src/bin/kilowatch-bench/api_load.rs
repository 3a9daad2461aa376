//! The two loads of `api-suite`: readings published over MQTT at a fixed rate (their own
//! thread and runtime, so the HTTP clients cannot slow the offered rate down) and N HTTP
//! clients in a closed loop, each sending its next request when the last one is answered.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use kilowatch_gateway::store::{Incoming, Store};
use kilowatch_site::payload::{data_topic, DevicePoll, Quality, Reading, SCHEMA_VERSION};

use crate::cpu::{self, CpuShare};

/// A request slower than this counts as failed (its latency is kept as measured).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// One device as the publisher sends it: its last poll, bumped for each new one.
struct Device {
    topic: String,
    poll: DevicePoll,
    base: Vec<f64>,
    counter: Vec<bool>,
    last_ms: i64,
}

impl Device {
    fn next(&mut self) -> Vec<u8> {
        let p = &mut self.poll;
        p.seq += 1;
        // Poll times strictly increase per device; never ahead of the clock.
        let ms = chrono::Utc::now().timestamp_millis().max(self.last_ms + 1);
        self.last_ms = ms;
        p.ts = chrono::DateTime::from_timestamp_millis(ms).unwrap_or(p.ts);
        let wiggle = ((p.seq % 7) as f64 - 3.0) * 1e-3;
        for ((r, base), counter) in p.readings.iter_mut().zip(&self.base).zip(&self.counter) {
            r.value = Some(if *counter {
                base + p.seq as f64 * 1e-3
            } else {
                base * (1.0 + wiggle)
            });
        }
        p.to_json()
    }
}

/// One series of a device: its newest value, where the publisher continues from.
pub struct Newest {
    quantity: String,
    unit: String,
    value: f64,
    counter: bool,
}

/// The site's devices with their quantities and newest values, read from the store.
pub struct Catalogue {
    pub site: String,
    pub devices: Vec<(String, Vec<Newest>)>,
    pub series: usize,
}

impl Catalogue {
    pub fn read(db: &Path, site: &str) -> anyhow::Result<Self> {
        let store = Store::open(db)?;
        let all = store.series()?;
        let counter: std::collections::HashSet<(String, String)> = all
            .iter()
            .filter(|s| s.site == site && s.kind == "counter")
            .map(|s| (s.device.clone(), s.quantity.clone()))
            .collect();
        let mut devices: Vec<(String, Vec<Newest>)> = Vec::new();
        for l in store.latest()?.into_iter().filter(|l| l.site == site) {
            let reading = Newest {
                counter: counter.contains(&(l.device.clone(), l.quantity.clone())),
                quantity: l.quantity,
                unit: l.unit,
                value: l.value.unwrap_or(1.0),
            };
            match devices.last_mut() {
                Some((d, readings)) if *d == l.device => readings.push(reading),
                _ => devices.push((l.device, vec![reading])),
            }
        }
        if devices.is_empty() {
            bail!("no series of site {site} in the prefilled store");
        }
        Ok(Self {
            site: site.to_owned(),
            devices,
            series: all.iter().filter(|s| s.site == site).count(),
        })
    }
}

/// Adds SDM630-like devices (one poll each, at `at`) until the site has at least `target`
/// series. Returns how many were added.
pub fn add_devices(
    db: &Path,
    site: &str,
    target: usize,
    at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<usize> {
    let mut store = Store::open(db)?;
    let have = store.series()?.iter().filter(|s| s.site == site).count();
    let template = super::sample_poll(0);
    let per = template.readings.len();
    let n = target.saturating_sub(have).div_ceil(per);
    let batch: Vec<Incoming> = (0..n)
        .map(|i| {
            let mut p = template.clone();
            p.site = site.into();
            p.device = format!("bench-{i:05}");
            p.ts = at;
            Incoming::Poll(p)
        })
        .collect();
    for chunk in batch.chunks(500) {
        store.write(chunk)?;
    }
    Ok(n)
}

/// Publishes every device of a catalogue in turn at `rate` readings/s, QoS 1.
pub struct Publisher {
    stop: Arc<AtomicBool>,
    published: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<anyhow::Result<()>>,
}

impl Publisher {
    pub fn start(port: u16, catalogue: Catalogue, rate: u64) -> anyhow::Result<Self> {
        let Catalogue { site, devices, .. } = catalogue;
        let site = site.as_str();
        let devices: Vec<Device> = devices
            .into_iter()
            .map(|(device, readings)| Device {
                topic: data_topic(site, &device),
                base: readings.iter().map(|r| r.value).collect(),
                counter: readings.iter().map(|r| r.counter).collect(),
                poll: DevicePoll {
                    version: SCHEMA_VERSION,
                    site: site.into(),
                    device,
                    seq: 0,
                    ts: chrono::Utc::now(),
                    readings: readings
                        .into_iter()
                        .map(|r| Reading {
                            quantity: r.quantity.into(),
                            value: Some(r.value),
                            unit: r.unit.into(),
                            quality: Quality::Good,
                        })
                        .collect(),
                },
                last_ms: 0,
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let published = Arc::new(AtomicU64::new(0));
        let (s, p) = (stop.clone(), published.clone());
        let thread = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(publish(port, devices, rate, &s, &p))
        });
        Ok(Self {
            stop,
            published,
            thread,
        })
    }

    /// Readings handed to the MQTT client so far.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    pub fn stop(self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("publisher panicked"))?
    }
}

async fn publish(
    port: u16,
    mut devices: Vec<Device>,
    rate: u64,
    stop: &AtomicBool,
    published: &AtomicU64,
) -> anyhow::Result<()> {
    use rumqttc::{AsyncClient, MqttOptions, QoS};
    let mut opts = MqttOptions::new("bench-api-pub", "127.0.0.1", port);
    opts.set_inflight(1000)
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(opts, 10_000);
    let events = tokio::spawn(async move {
        loop {
            if let Err(e) = eventloop.poll().await {
                return Err::<(), _>(anyhow::anyhow!("publisher's MQTT connection: {e}"));
            }
        }
    });
    let t0 = Instant::now();
    let (mut sent, mut k, mut n) = (0u64, 0usize, 0u64);
    while !stop.load(Ordering::Relaxed) {
        if events.is_finished() {
            events.await??;
            bail!("the MQTT event loop ended");
        }
        let due = (rate as f64 * t0.elapsed().as_secs_f64()) as u64;
        while sent < due && !stop.load(Ordering::Relaxed) {
            let count = devices.len();
            let d = &mut devices[k];
            k = (k + 1) % count;
            client
                .publish(d.topic.clone(), QoS::AtLeastOnce, false, d.next())
                .await?;
            sent += d.poll.readings.len() as u64;
            published.store(sent, Ordering::Relaxed);
            n += 1;
            // Let the event loop (same thread) write what is queued.
            if n.is_multiple_of(64) {
                tokio::task::yield_now().await;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    events.abort();
    Ok(())
}

/// The gateway's stored-readings counter, from `/metrics` (no store lock behind it).
pub fn stored(http: u16) -> anyhow::Result<u64> {
    let text = ureq::get(&format!("http://127.0.0.1:{http}/metrics"))
        .call()?
        .body_mut()
        .read_to_string()?;
    text.lines()
        .find_map(|l| l.strip_prefix("kilowatch_gateway_stored_samples_total "))
        .context("no stored-samples counter in /metrics")?
        .trim()
        .parse()
        .context("stored-samples counter")
}

/// Waits for the gateway's MQTT subscription.
pub fn wait_connected(http: u16) -> anyhow::Result<()> {
    let t = Instant::now();
    loop {
        if let Ok(h) = super::health(http) {
            if h["ingest"]["mqtt_subscribed"].as_bool() == Some(true) {
                return Ok(());
            }
        }
        if t.elapsed() > Duration::from_secs(30) {
            bail!("the gateway did not subscribe within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the gateway stores readings as fast as they are published: less than
/// `slack` readings behind (a new catalogue's first polls create series and lag at first).
pub fn wait_caught_up(
    http: u16,
    publisher: &Publisher,
    slack: u64,
    limit: Duration,
) -> anyhow::Result<()> {
    let t = Instant::now();
    loop {
        let (s, p) = (stored(http)?, publisher.published());
        if s > 0 && s + slack >= p {
            return Ok(());
        }
        if t.elapsed() > limit {
            bail!("the gateway stored {s} of {p} readings and did not catch up within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Readings/s offered and stored over one window, and where the CPU went meanwhile.
pub struct Ingest {
    pub offered_per_s: f64,
    pub stored_per_s: f64,
    pub cpu: CpuShare,
}

/// Measures ingest over `window` (the window is the measurement; this thread only watches);
/// `pids` are the gateway's, mosquitto's and this process's.
pub fn ingest_for(
    http: u16,
    publisher: &Publisher,
    window: Duration,
    pids: [u32; 3],
) -> anyhow::Result<Ingest> {
    let (s0, p0, t0) = (stored(http)?, publisher.published(), Instant::now());
    let c0 = cpu::mark(pids);
    std::thread::sleep(window);
    let c1 = cpu::mark(pids);
    let (s1, p1) = (stored(http)?, publisher.published());
    let secs = t0.elapsed().as_secs_f64();
    Ok(Ingest {
        offered_per_s: (p1 - p0) as f64 / secs,
        stored_per_s: (s1 - s0) as f64 / secs,
        cpu: c0.share_until(&c1),
    })
}

/// One endpoint's figures under load.
pub struct Latency {
    pub endpoint: &'static str,
    /// Answered inside the window.
    pub requests: usize,
    pub per_s: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    /// Not 2xx, not read to the end, or slower than [`REQUEST_TIMEOUT`].
    pub failed: usize,
}

struct Sample {
    endpoint: usize,
    ms: f64,
    done: Duration,
    ok: bool,
}

const ENDPOINTS: [&str; 3] = ["/api/v1/query", "/api/v1/latest", "/api/v1/health"];

/// `clients` closed-loop clients for `window` while ingest is measured; requests sent inside
/// the window are waited for and all count in the latencies.
pub fn under_load(
    http: u16,
    publisher: &Publisher,
    (clients, think): (usize, Duration),
    window: Duration,
    query: &str,
    pids: [u32; 3],
) -> anyhow::Result<(Ingest, Vec<Latency>)> {
    let base = format!("http://127.0.0.1:{http}");
    let v: serde_json::Value = ureq::get(&format!("{base}{query}"))
        .call()?
        .body_mut()
        .read_json()?;
    let points = v["points"].as_array().map_or(0, Vec::len);
    if points < 24 {
        bail!("the query returns {points} points: the prefill did not store the year");
    }
    eprintln!("query: {points} points per answer");
    let urls: Arc<[String; 3]> = Arc::new([
        format!("{base}{query}"),
        format!("{base}{}", ENDPOINTS[1]),
        format!("{base}{}", ENDPOINTS[2]),
    ]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(clients)
        .build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let (client, urls, stop) = (client.clone(), urls.clone(), stop.clone());
            rt.spawn(async move {
                let mut out = Vec::new();
                let mut e = i % ENDPOINTS.len();
                // Pausing clients start spread over one pause, not all at once.
                tokio::time::sleep(think.mul_f64(i as f64 / clients as f64)).await;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let ok = match client.get(&urls[e]).send().await {
                        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    out.push(Sample {
                        endpoint: e,
                        ms: t.elapsed().as_secs_f64() * 1e3,
                        done: start.elapsed(),
                        ok,
                    });
                    e = (e + 1) % ENDPOINTS.len();
                    if !think.is_zero() {
                        tokio::time::sleep(think).await;
                    }
                }
                out
            })
        })
        .collect();
    let ingest = ingest_for(http, publisher, window, pids);
    let window = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let samples: Vec<Sample> = rt.block_on(async {
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await?);
        }
        anyhow::Ok(all)
    })?;
    let latencies = ENDPOINTS
        .iter()
        .enumerate()
        .map(|(k, &endpoint)| {
            let mine: Vec<&Sample> = samples.iter().filter(|s| s.endpoint == k).collect();
            let mut ms: Vec<f64> = mine.iter().map(|s| s.ms).collect();
            ms.sort_by(f64::total_cmp);
            let requests = mine.iter().filter(|s| s.done <= window).count();
            Latency {
                endpoint,
                requests,
                per_s: requests as f64 / window.as_secs_f64(),
                p50: percentile(&ms, 0.50),
                p99: percentile(&ms, 0.99),
                max: ms.last().copied().unwrap_or(f64::NAN),
                failed: mine.iter().filter(|s| !s.ok).count(),
            }
        })
        .collect();
    Ok((ingest?, latencies))
}

/// The nearest-rank percentile of sorted values (NaN when there are none).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
