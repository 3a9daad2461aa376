//! Benchmarks that need real processes: the agent's acquisition engine against a bare
//! tokio-modbus loop reading the same registers from the same simulated devices.
//!
//! `kilowatch-bench poll-suite` starts `kilowatch-gateway simulate` with N devices in its own
//! process, then runs each engine in a fresh child process of this binary and prints a Markdown
//! table (registers/s, CPU-seconds per million registers, peak RSS). Linux only: CPU and RSS come
//! from /proc.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use kilowatch_agent::plan::ReadBlock;
use kilowatch_site::config::SiteConfig;
use kilowatch_site::profile::{ProfileLibrary, Table};
use serde_json::json;

mod alarms;
mod api;
mod api_load;
mod contract;
mod cpu;
mod fault;
mod hub;
mod mv_demo;
mod rbe;
mod report;

const USAGE: &str = "\
kilowatch-bench: measured benchmarks for kilowatch (release build recommended)

USAGE:
  kilowatch-bench poll-suite [--devices 1,50,200] [--seconds 20] [--interval 100ms] [--repeat 3]
      Simulates N SDM630 meters on loopback and compares the agent's acquisition engine with a
      bare tokio-modbus loop reading the same registers. Prints a Markdown table.
  kilowatch-bench poll --engine agent|bare --config FILE --seconds S
      One measured run (used by poll-suite); prints one JSON object.
  kilowatch-bench publish-suite [--readings 100000] [--repeat 3]
      Starts mosquitto on a free loopback port and compares the agent's spool + publisher
      (fsync on and off) with a bare rumqttc QoS 1 publish loop. Prints a Markdown table.
  kilowatch-bench publish --engine agent|agent-nofsync|bare --port P --readings N
      One measured run (used by publish-suite); prints one JSON object.
  kilowatch-bench ingest-suite [--polls 20000]
      Starts mosquitto and influxd, runs `kilowatch-gateway run` into SQLite and into influxd,
      publishes SDM630 polls and measures readings/s and gateway CPU; compares with raw
      line-protocol POSTs of the same points; times a one-year query at 1 h over HTTP.
  kilowatch-bench enpi-suite [--days 365] [--assets 20] [--repeat 3]
      Backfills the demo plant's one-minute history, defines ASSETS assets on it (compressor
      rooms, chillers and plants in turn) and times computing all their indicators at 15 min,
      1 h, 1 day and 1 month over the whole history, with and without storing them.
  kilowatch-bench mv-suite [--repeat 20]
      Savings verification on synthetic data: a year of daily data (temperature, production;
      every daily candidate incl. CalTRACK) and a year of hourly data with temperature and three
      more variables (incl. time-of-week). Times fit + selection + savings + report, and the
      HTML page.
  kilowatch-bench fault-suite [--devices 30] [--only 1,3]
      The whole stack (simulated meters at 1 s, agent, mosquitto, gateway) under faults, a fresh
      stack each: broker down 30 s, agent kill -9 x5, gateway kill -9, spool disk full 90 s
      (a tmpfs: needs root), a default-settings mosquitto with the gateway down 60 s, poison
      messages. Prints polls made, stored, lost, duplicated, repaired and recovery time; exits
      1 if any fault lost a reading.
  kilowatch-bench mv-demo-data --out DIR
      Backfills 90 days of the demo plant with both retrofits on 2026-07-25 and writes
      hourly.csv, daily.csv (energy per asset, outdoor temperature, production), truth.csv
      (energy saved per day and measure) and meta.json (periods, holidays, kilowatch's results
      from the store) for tests/bench/mv_compare.py.
  kilowatch-bench api-suite [--clients 200] [--think 0s] [--duration 20s] [--series demo,20000] [--rate 50000]
                            [--history 365d]
      The HTTP API under load: the demo plant's history prefilled (a year by default), the
      real gateway behind mosquitto, RATE readings/s published for DURATION alone, then again
      while CLIENTS concurrent clients call /api/v1/query (a year at 1 h), /latest and /health.
      Once per catalogue: the demo's devices, and N series (synthetic SDM630s added). Prints
      p50/p99 latency and requests/s per endpoint, ingest kept, and the gateway's RSS.
  kilowatch-bench alarms-suite [--devices 500] [--seconds 60] [--repeat 6]
      What the alarm rules cost ingest: the real gateway behind mosquitto, DEVICES declared
      SDM630s publishing every second; REPEAT (even) rounds of two gateways side by side on
      the same stream, `[gateway] alarms = false` and the rules on, the start order
      alternating; prints each one's CPU time per stored reading, the median overhead of the
      order-balanced pairs of rounds and its spread, and the load average.
  kilowatch-bench rbe [--config seeds/demo-site.toml] [--hours 24] [--deadband 0.5%] [--heartbeat 300s]
      Report by exception on the demo plant's simulated devices: messages, readings and bytes
      per hour (JSON and Sparkplug DDATA) of every poll and of the filtered stream, and the
      hourly energy from both (counters exactly, the integral of active power within the
      deadband). No processes: the simulator's values, the agent's filter and encoders.
  kilowatch-bench hub-suite [--sites 1000] [--devices 50] [--quarters 2] [--page-repeat 10]
      The portfolio hub: PostgreSQL, mosquitto and two hub instances in a share group;
      SITES x DEVICES 15-minute rollups per quarter hour plus each site's EnPI facts, published
      as site gateways do. Prints rows/s stored, lag, CPU and RSS per instance, and the
      portfolio API's load time with every site.
  kilowatch-bench report-suite [--repeat 10] [--pdf-repeat 3]
      The monthly energy-management report of the demo plant (last month, from 62 days of
      history) timed as HTML (gather + render; goal < 1 s) and as PDF (plus headless
      Chromium's print; goal < 5 s), in English and Traditional Chinese.
  kilowatch-bench contract-suite [--repeat 20]
      Contract-capacity optimisation over a year of 15-minute demand (35 040 quarter-hours,
      synthetic) with all four capacities on the seed three-period tariff: monthly maxima per
      period, the exact optimum, cost curves, exceedances and saving (goal < 1 s).
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("poll-suite") => poll_suite(&args[1..]),
        Some("poll") => poll_once(&args[1..]),
        Some("publish-suite") => publish_suite(&args[1..]),
        Some("publish") => publish_once(&args[1..]),
        Some("ingest-suite") => ingest_suite(&args[1..]),
        Some("enpi-suite") => enpi_suite(&args[1..]),
        Some("mv-suite") => mv_suite(&args[1..]),
        Some("fault-suite") => fault::fault_suite(&args[1..]),
        Some("mv-demo-data") => mv_demo::mv_demo_data(&args[1..]),
        Some("api-suite") => api::api_suite(&args[1..]),
        Some("alarms-suite") => alarms::alarms_suite(&args[1..]),
        Some("report-suite") => report::report_suite(&args[1..]),
        Some("rbe") => rbe::rbe_bench(&args[1..]),
        Some("hub-suite") => hub::hub_suite(&args[1..]),
        Some("contract-suite") => contract::contract_suite(&args[1..]),
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// CPU seconds (user + system) this process has used so far.
fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').context("bad /proc stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>()? + f[12].parse::<f64>()?;
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    Ok(ticks / hz)
}

/// Peak resident set size in MiB.
fn peak_rss_mib(pid: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .context("no VmHWM")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kb / 1024.0)
}

fn site_config(n: usize, base_port: u16, interval: &str) -> String {
    let mut s = String::from(
        "[site]\nid = \"bench\"\ntimezone = \"Asia/Taipei\"\n\n[mqtt]\nbroker = \"127.0.0.1:1883\"\n",
    );
    for i in 0..n {
        let port = base_port + u16::try_from(i).expect("port");
        s.push_str(&format!(
            "\n[[devices]]\nid = \"m{i:03}\"\nprofile = \"eastron-sdm630\"\ntcp = \"127.0.0.1:{port}\"\n\
             unit = 1\ninterval = \"{interval}\"\ntimeout = \"2s\"\n\
             [devices.simulate]\nbase_kw = 40.0\npeak_kw = 300.0\nseed = {i}\nstep = \"1s\"\n"
        ));
    }
    s
}

fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.parent().context("exe dir")?.join(name);
    if !path.exists() {
        bail!(
            "{} not found: build it first with `cargo build --release --workspace --bins`",
            path.display()
        );
    }
    Ok(path)
}

fn poll_suite(args: &[String]) -> anyhow::Result<()> {
    let devices: Vec<usize> = flag(args, "--devices")
        .unwrap_or("1,50,200")
        .split(',')
        .map(|n| {
            n.trim()
                .parse()
                .context("--devices takes numbers like 1,50,200")
        })
        .collect::<anyhow::Result<_>>()?;
    let seconds = flag(args, "--seconds").unwrap_or("20");
    let interval = flag(args, "--interval").unwrap_or("100ms");
    let repeat: usize = flag(args, "--repeat").unwrap_or("3").parse()?;
    let gateway = sibling("kilowatch-gateway")?;
    let me = std::env::current_exe()?;
    let dir = std::env::temp_dir().join(format!("kilowatch-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    println!(
        "| devices | engine | polls/s | registers/s | CPU s per 1M registers | peak RSS MiB |"
    );
    println!("|---:|---|---:|---:|---:|---:|");
    for &n in &devices {
        let base_port = 21000;
        let config = dir.join(format!("site-{n}.toml"));
        std::fs::write(&config, site_config(n, base_port, interval))?;
        let mut sim = Command::new(&gateway)
            .args(["simulate", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("starting the simulator")?;
        let last = base_port + u16::try_from(n - 1)?;
        let ready = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", last)).is_err() {
            if ready.elapsed() > Duration::from_secs(20) {
                let _ = sim.kill();
                bail!("simulator did not open port {last}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Engines alternate, `repeat` runs each; the median damps the other core's noise.
        let mut runs: [Vec<serde_json::Value>; 2] = [Vec::new(), Vec::new()];
        for round in 0..repeat {
            for (k, engine) in ["bare", "agent"].into_iter().enumerate() {
                eprintln!("{n} devices, {engine}, run {}/{repeat}", round + 1);
                let out = Command::new(&me)
                    .args(["poll", "--engine", engine, "--seconds", seconds, "--config"])
                    .arg(&config)
                    .stderr(Stdio::inherit())
                    .output()?;
                if !out.status.success() {
                    let _ = sim.kill();
                    bail!("{engine} run failed");
                }
                let r: serde_json::Value = serde_json::from_slice(&out.stdout)?;
                if r["errors"].as_u64().unwrap_or(0) > 0 {
                    eprintln!(
                        "warning: {engine} with {n} devices saw {} errors",
                        r["errors"]
                    );
                }
                runs[k].push(r);
            }
        }
        let mut medians = [0.0; 2];
        for (k, engine) in ["bare", "agent"].into_iter().enumerate() {
            let median = |key: &str| {
                let mut v: Vec<f64> = runs[k].iter().filter_map(|r| r[key].as_f64()).collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            medians[k] = median("cpu_s_per_million_registers");
            println!(
                "| {n} | {engine} | {:.0} | {:.0} | {:.3} | {:.1} |",
                median("polls_per_s"),
                median("registers_per_s"),
                medians[k],
                median("peak_rss_mib"),
            );
        }
        println!(
            "| {n} | agent ÷ bare CPU | | | {:.2}× | |",
            medians[1] / medians[0]
        );
        let _ = sim.kill();
        let _ = sim.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn poll_once(args: &[String]) -> anyhow::Result<()> {
    let engine = flag(args, "--engine").context("--engine agent|bare")?;
    let config = Path::new(flag(args, "--config").context("--config FILE")?);
    let seconds: f64 = flag(args, "--seconds").unwrap_or("20").parse()?;
    let profiles = ProfileLibrary::builtin();
    let site = SiteConfig::load(config, &profiles)?;
    let rt = tokio::runtime::Runtime::new()?;
    let warmup = Duration::from_secs(2);
    let window = Duration::from_secs_f64(seconds);
    let (polls, registers, errors, cpu) = match engine {
        "agent" => rt.block_on(agent_engine(&site, &profiles, warmup, window))?,
        "bare" => rt.block_on(bare_engine(&site, &profiles, warmup, window))?,
        other => bail!("unknown engine {other}"),
    };
    let secs = window.as_secs_f64();
    let result = json!({
        "engine": engine,
        "devices": site.devices.len(),
        "seconds": secs,
        "polls": polls,
        "registers": registers,
        "errors": errors,
        "polls_per_s": polls as f64 / secs,
        "registers_per_s": registers as f64 / secs,
        "cpu_s": cpu,
        "cpu_s_per_million_registers": cpu / (registers as f64 / 1e6),
        "peak_rss_mib": peak_rss_mib("self")?,
    });
    println!("{result}");
    Ok(())
}

/// Counts polls and registers only inside the measuring window.
struct Window {
    open: Instant,
    close: Instant,
}

impl Window {
    fn new(warmup: Duration, length: Duration) -> Self {
        let open = Instant::now() + warmup;
        Self {
            open,
            close: open + length,
        }
    }
    fn contains(&self, t: Instant) -> bool {
        t >= self.open && t < self.close
    }
}

/// The agent's own source stage: pollers built from the site file, one `device_loop` task each,
/// readings decoded into payloads and handed to a channel (here drained and counted).
async fn agent_engine(
    site: &SiteConfig,
    profiles: &ProfileLibrary,
    warmup: Duration,
    length: Duration,
) -> anyhow::Result<(u64, u64, u64, f64)> {
    use kilowatch_agent::acquire::device_loop;
    use kilowatch_agent::health::Health;
    let pollers = kilowatch_agent::run::pollers(site, profiles)?;
    let regs_per_poll: std::collections::HashMap<String, u64> = pollers
        .iter()
        .map(|p| (p.device().id.clone(), words(p.blocks())))
        .collect();
    let health = Health::default();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let mut tasks = tokio::task::JoinSet::new();
    for p in pollers {
        tasks.spawn(device_loop(
            p,
            site.site.id.clone(),
            health.clone(),
            None,
            tx.clone(),
        ));
    }
    drop(tx);
    let window = Window::new(warmup, length);
    // Drain the warm-up polls so none of them is counted inside the window.
    let open = tokio::time::Instant::from_std(window.open);
    loop {
        tokio::select! {
            msg = rx.recv() => if msg.is_none() { break },
            () = tokio::time::sleep_until(open) => break,
        }
    }
    let cpu0 = cpu_seconds("self")?;
    let (mut polls, mut registers) = (0u64, 0u64);
    let deadline = tokio::time::Instant::from_std(window.close);
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                if window.contains(Instant::now()) {
                    polls += 1;
                    registers += regs_per_poll[&msg.device];
                }
            }
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    let cpu = cpu_seconds("self")? - cpu0;
    tasks.abort_all();
    let errors = health.snapshot().values().map(|h| h.polls_failed).sum();
    Ok((polls, registers, errors, cpu))
}

fn words(blocks: &[ReadBlock]) -> u64 {
    blocks.iter().map(|b| u64::from(b.count)).sum()
}

/// The practical limit: one task per device with a plain tokio-modbus client reading the same
/// blocks on the same interval, decoding nothing.
async fn bare_engine(
    site: &SiteConfig,
    profiles: &ProfileLibrary,
    warmup: Duration,
    length: Duration,
) -> anyhow::Result<(u64, u64, u64, f64)> {
    use tokio_modbus::client::{tcp, Reader};
    use tokio_modbus::Slave;
    let pollers = kilowatch_agent::run::pollers(site, profiles)?;
    let window = std::sync::Arc::new(Window::new(warmup, length));
    let mut tasks = tokio::task::JoinSet::new();
    for p in pollers {
        let blocks = p.blocks().to_vec();
        let device = p.device().clone();
        let addr: std::net::SocketAddr = device.tcp.clone().context("tcp device")?.parse()?;
        let window = window.clone();
        tasks.spawn(async move {
            let mut ctx = tcp::connect_slave(addr, Slave(device.unit))
                .await
                .expect("connect");
            let mut tick = tokio::time::interval(device.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let (mut polls, mut regs, mut errors) = (0u64, 0u64, 0u64);
            loop {
                tick.tick().await;
                if Instant::now() >= window.close {
                    break;
                }
                let mut ok = true;
                for b in &blocks {
                    let r = match b.table {
                        Table::Input => ctx.read_input_registers(b.start, b.count).await,
                        Table::Holding => ctx.read_holding_registers(b.start, b.count).await,
                        _ => unreachable!("SDM630 has registers only"),
                    };
                    ok &= matches!(r, Ok(Ok(_)));
                }
                if !ok {
                    errors += 1;
                } else if window.contains(Instant::now()) {
                    polls += 1;
                    regs += words(&blocks);
                }
            }
            (polls, regs, errors)
        });
    }
    tokio::time::sleep(warmup).await;
    let cpu0 = cpu_seconds("self")?;
    let (mut polls, mut registers, mut errors) = (0, 0, 0);
    while let Some(r) = tasks.join_next().await {
        let (p, r, e) = r?;
        polls += p;
        registers += r;
        errors += e;
    }
    let cpu = cpu_seconds("self")? - cpu0;
    Ok((polls, registers, errors, cpu))
}

fn publish_suite(args: &[String]) -> anyhow::Result<()> {
    let readings = flag(args, "--readings").unwrap_or("100000");
    let repeat: usize = flag(args, "--repeat").unwrap_or("3").parse()?;
    let mosquitto = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .context("mosquitto is not installed (apt-get install mosquitto)")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let dir = std::env::temp_dir().join(format!("kilowatch-bench-pub-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "user {}\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
             max_queued_messages 1000000\n",
            std::env::var("USER").unwrap_or_else(|_| "root".into())
        ),
    )?;
    let mut broker = Command::new(mosquitto)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let ready = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if ready.elapsed() > Duration::from_secs(10) {
            let _ = broker.kill();
            bail!("mosquitto did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let me = std::env::current_exe()?;
    let engines = ["bare", "agent", "agent-nofsync"];
    let mut runs: Vec<Vec<serde_json::Value>> = vec![Vec::new(); engines.len()];
    for round in 0..repeat {
        for (k, engine) in engines.into_iter().enumerate() {
            eprintln!("publish {engine}, run {}/{repeat}", round + 1);
            let out = Command::new(&me)
                .args([
                    "publish",
                    "--engine",
                    engine,
                    "--readings",
                    readings,
                    "--port",
                ])
                .arg(port.to_string())
                .stderr(Stdio::inherit())
                .output()?;
            if !out.status.success() {
                let _ = broker.kill();
                bail!("{engine} run failed");
            }
            runs[k].push(serde_json::from_slice(&out.stdout)?);
        }
    }
    let _ = broker.kill();
    let _ = broker.wait();
    let _ = std::fs::remove_dir_all(&dir);
    println!("| engine | readings/s | CPU s per 100k readings | peak RSS MiB |");
    println!("|---|---:|---:|---:|");
    let mut cpu = Vec::new();
    for (k, engine) in engines.into_iter().enumerate() {
        let median = |key: &str| {
            let mut v: Vec<f64> = runs[k].iter().filter_map(|r| r[key].as_f64()).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        cpu.push(median("cpu_s_per_100k"));
        println!(
            "| {engine} | {:.0} | {:.3} | {:.1} |",
            median("readings_per_s"),
            median("cpu_s_per_100k"),
            median("peak_rss_mib")
        );
    }
    println!(
        "| agent ÷ bare CPU | | {:.2}× (fsync) · {:.2}× (no fsync) | |",
        cpu[1] / cpu[0],
        cpu[2] / cpu[0]
    );
    Ok(())
}

/// Makes SDM630-sized polls (22 quantities, as the agent publishes them) on demand, so both
/// engines pay the same to produce them and neither holds them all in memory.
/// How many meters [`PollSource`] publishes for, in turn (`m000`, `m001`, …).
const METERS: u64 = 200;

struct PollSource {
    template: kilowatch_site::payload::DevicePoll,
}

impl PollSource {
    fn new() -> Self {
        Self {
            template: sample_poll(0),
        }
    }
    fn make(&self, i: u64) -> kilowatch_site::payload::DevicePoll {
        let mut p = self.template.clone();
        p.device = format!("m{:03}", i % METERS);
        p.ts = chrono::Utc::now();
        for (k, r) in p.readings.iter_mut().enumerate() {
            r.value = Some(230.0 + k as f64 * 1.5 + (i % 7) as f64 * 0.1);
        }
        p
    }
}

fn sample_poll(i: u64) -> kilowatch_site::payload::DevicePoll {
    use kilowatch_site::payload::{DevicePoll, Quality, Reading, SCHEMA_VERSION};
    let profiles = ProfileLibrary::builtin();
    let profile = profiles.get("eastron-sdm630").expect("built-in profile");
    DevicePoll {
        version: SCHEMA_VERSION,
        site: "bench".into(),
        device: format!("m{:03}", i % METERS),
        seq: 0,
        ts: chrono::Utc::now(),
        readings: profile
            .registers
            .iter()
            .enumerate()
            .map(|(k, r)| Reading {
                quantity: r.quantity.clone().into(),
                value: Some(230.0 + k as f64 * 1.5 + (i % 7) as f64 * 0.1),
                unit: kilowatch_site::vocab::quantity(&r.quantity)
                    .expect("known")
                    .unit
                    .into(),
                quality: Quality::Good,
            })
            .collect(),
    }
}

fn publish_once(args: &[String]) -> anyhow::Result<()> {
    let engine = flag(args, "--engine").context("--engine agent|agent-nofsync|bare")?;
    let port: u16 = flag(args, "--port").context("--port P")?.parse()?;
    let n: u64 = flag(args, "--readings").unwrap_or("100000").parse()?;
    let polls = PollSource::new();
    let rt = tokio::runtime::Runtime::new()?;
    let cpu0 = cpu_seconds("self")?;
    let t0 = Instant::now();
    match engine {
        "bare" => rt.block_on(bare_publish(port, &polls, n))?,
        "agent" => rt.block_on(agent_publish(port, &polls, n, true))?,
        "agent-nofsync" => rt.block_on(agent_publish(port, &polls, n, false))?,
        other => bail!("unknown engine {other}"),
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds("self")? - cpu0;
    println!(
        "{}",
        json!({
            "engine": engine,
            "readings": n,
            "seconds": secs,
            "readings_per_s": n as f64 / secs,
            "cpu_s": cpu,
            "cpu_s_per_100k": cpu / (n as f64 / 1e5),
            "peak_rss_mib": peak_rss_mib("self")?,
        })
    );
    Ok(())
}

/// The limit: rumqttc QoS 1 publishes of the same JSON, the event loop on its own task, done
/// when every PUBACK is in.
async fn bare_publish(port: u16, polls: &PollSource, n: u64) -> anyhow::Result<()> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new("bench-bare", "127.0.0.1", port);
    opts.set_clean_session(false)
        .set_inflight(256)
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(opts, 1024);
    let acks = tokio::spawn(async move {
        let mut acked = 0u64;
        while acked < n {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                Ok(_) => {}
                Err(e) => return Err(anyhow::anyhow!("bare publish: {e}")),
            }
        }
        Ok(())
    });
    for i in 0..n {
        let mut p = polls.make(i);
        p.seq = i + 1;
        let topic = kilowatch_site::payload::data_topic(&p.site, &p.device);
        client
            .publish(topic, QoS::AtLeastOnce, false, p.to_json())
            .await?;
    }
    acks.await?
}

/// The agent's own store-and-forward path: spool writer (batched appends, fsync per batch when
/// on) and the publisher with its PUBACK-tracked window; done when every reading is acked.
/// Polls in the agent's memory buffer above which the benchmark's producer waits: a few of the
/// writer's 256-poll batches, so it always has the next one at hand.
const PACE_BUFFERED: u64 = 2_048;
/// No progress for this long fails the run instead of waiting for ever.
const STALL: Duration = Duration::from_secs(60);

async fn agent_publish(port: u16, polls: &PollSource, n: u64, fsync: bool) -> anyhow::Result<()> {
    use kilowatch_agent::forward::{publisher, spool_writer, PublishStats, PublisherSetup};
    use kilowatch_agent::spool::{SpoolConfig, SpoolHandle};
    use kilowatch_site::config::MqttConfig;
    use kilowatch_site::mqtt::Connector;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    let dir = std::env::temp_dir().join(format!("kilowatch-bench-spool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let spool = SpoolHandle::open(SpoolConfig {
        dir: dir.clone(),
        budget: 8 << 30,
        fsync,
        retention: Duration::from_secs(0),
    })?;
    let stats = Arc::new(PublishStats::default());
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let writer = tokio::spawn(spool_writer(
        rx,
        spool.clone(),
        stats.writer.clone(),
        kilowatch_site::config::DEFAULT_MEMORY_BUFFER,
    ));
    let mqtt = MqttConfig {
        broker: format!("127.0.0.1:{port}"),
        ..MqttConfig::default()
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let publisher = tokio::spawn(publisher(
        PublisherSetup {
            connector: Connector::new(&mqtt, "bench-agent".into(), None)?,
            status_topic: "kilowatch/v1/bench/agent/bench-agent/status".into(),
            health_topic: "kilowatch/v1/bench/agent/bench-agent/health".into(),
            health: Box::new(|| b"{}".to_vec()),
            health_interval: Duration::from_secs(3600),
            window: 256,
            replay: None,
            announce: Vec::new(),
            on_announced: None,
            json_data: true,
        },
        spool.clone(),
        stats.clone(),
        stop_rx,
        Duration::from_secs(1),
    ));
    // Pollers never wait for the spool in the agent: the memory buffer takes what the disk
    // has not yet, and drops beyond it (an outage buffer, not a queue). Pollers are also far
    // slower than this loop, so the producer here is paced on the buffer's fill instead, as
    // the channel's backpressure paced it before the buffer existed: the durable path runs at
    // its own top speed, and no poll is dropped.
    for i in 0..n {
        while stats.writer.buffered.load(Ordering::Relaxed) >= PACE_BUFFERED {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tx.send(polls.make(i)).await?;
    }
    drop(tx);
    let mut last = (0, Instant::now());
    loop {
        let published = stats.published.load(Ordering::Relaxed);
        let dropped = stats.writer.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            bail!("the agent's spool writer dropped {dropped} polls (memory buffer full)");
        }
        if published >= n {
            break;
        }
        if published > last.0 {
            last = (published, Instant::now());
        } else if last.1.elapsed() > STALL {
            bail!(
                "the agent stopped publishing at {published} of {n} for {} s (buffered {}, write errors {})",
                STALL.as_secs(),
                stats.writer.buffered.load(Ordering::Relaxed),
                stats.writer.write_errors.load(Ordering::Relaxed),
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = writer.await;
    let _ = stop_tx.send(true);
    let _ = publisher.await;
    spool.close().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_port(port: u16, what: &str) -> anyhow::Result<()> {
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if t.elapsed() > Duration::from_secs(30) {
            bail!("{what} did not open port {port}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(program: &Path, args: &[&str]) -> anyhow::Result<Child> {
    Ok(Child(
        Command::new(program)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?,
    ))
}

fn health(http: u16) -> anyhow::Result<serde_json::Value> {
    Ok(ureq::get(&format!("http://127.0.0.1:{http}/api/v1/health"))
        .call()?
        .body_mut()
        .read_json()?)
}

/// Publishes pre-serialised polls at QoS 1 and waits for every PUBACK.
fn publish_polls(port: u16, messages: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
        let mut opts = MqttOptions::new("bench-ingest-pub", "127.0.0.1", port);
        // As large as MQTT allows: the fault suite publishes oversized payloads on purpose.
        opts.set_inflight(512)
            .set_max_packet_size(268_435_455, 268_435_455);
        let (client, mut el) = AsyncClient::new(opts, 1024);
        let n = messages.len();
        let acks = tokio::spawn(async move {
            let mut k = 0;
            while k < n {
                match el.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) => k += 1,
                    Ok(_) => {}
                    Err(e) => return Err(anyhow::anyhow!("{e}")),
                }
            }
            Ok(())
        });
        for (t, p) in messages {
            client
                .publish(t, QoS::AtLeastOnce, false, p.clone())
                .await?;
        }
        acks.await?
    })
}

/// Whether the gateway has stored (and, with `influx`, forwarded) every published reading and
/// rolled it up. Fails at once when any was refused or dead-lettered, or more were stored than
/// published: a throughput figure is only meaningful when everything sent is kept.
fn all_stored(
    name: &str,
    h: &serde_json::Value,
    readings: u64,
    influx: bool,
) -> anyhow::Result<bool> {
    let count = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let stored = count(&h["ingest"]["stored_samples"]);
    let sent = count(&h["influx"]["written_lines"]);
    let refused = count(&h["ingest"]["rejected"]) + count(&h["ingest"]["poison"]);
    let dead = count(&h["dead_letters"]);
    if refused + dead > 0 || stored > readings || sent > readings {
        bail!(
            "{name}: published {readings} readings, but the gateway stored {stored}, sent {sent} \
             to influxd, refused {refused} and dead-lettered {dead} messages (are the devices in \
             the bench's site file?)"
        );
    }
    let rollups = h["rollups_pending"].as_i64().unwrap_or(1);
    Ok(stored == readings && (!influx || sent == readings) && rollups == 0)
}

fn ingest_suite(args: &[String]) -> anyhow::Result<()> {
    let polls: u64 = flag(args, "--polls").unwrap_or("20000").parse()?;
    let gateway = sibling("kilowatch-gateway")?;
    let mosquitto = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .context("mosquitto is not installed")?;
    let influxd = ["/usr/bin/influxd", "/usr/sbin/influxd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .context("influxd is not installed (apt-get install influxdb)")?;
    let dir = std::env::temp_dir().join(format!("kilowatch-bench-ingest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());

    let mq_port = free_port()?;
    std::fs::write(
        dir.join("mosquitto.conf"),
        format!("user {user}\nlistener {mq_port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n"),
    )?;
    let _mq = spawn(
        Path::new(mosquitto),
        &["-c", dir.join("mosquitto.conf").to_str().unwrap()],
    )?;
    wait_port(mq_port, "mosquitto")?;
    let (ix_port, ix_rpc) = (free_port()?, free_port()?);
    let d = dir.join("influxdb");
    std::fs::write(
        dir.join("influxdb.conf"),
        format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:{ix_rpc}\"\n[meta]\n  dir = \"{d}/meta\"\n\
             [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
             [monitor]\n  store-enabled = false\n[http]\n  bind-address = \"127.0.0.1:{ix_port}\"\n  log-enabled = false\n",
            d = d.display()
        ),
    )?;
    let _ix = spawn(
        Path::new(influxd),
        &["-config", dir.join("influxdb.conf").to_str().unwrap()],
    )?;
    wait_port(ix_port, "influxd")?;
    std::thread::sleep(Duration::from_millis(500));
    for db in ["kw", "raw"] {
        ureq::post(&format!("http://127.0.0.1:{ix_port}/query"))
            .query("q", format!("CREATE DATABASE {db}"))
            .send_empty()?;
    }

    // The polls: 200 meters × SDM630 (22 quantities), one second apart, already serialised.
    let source = PollSource::new();
    let t0 = chrono::Utc::now() - chrono::Duration::seconds((polls / METERS) as i64 + 10);
    let made: Vec<kilowatch_site::payload::DevicePoll> = (0..polls)
        .map(|i| {
            let mut p = source.make(i);
            p.site = "bench".into();
            p.seq = i / METERS + 1;
            p.ts = t0 + chrono::Duration::seconds((i / METERS) as i64);
            p
        })
        .collect();
    let messages: Vec<(String, Vec<u8>)> = made
        .iter()
        .map(|p| {
            (
                kilowatch_site::payload::data_topic(&p.site, &p.device),
                p.to_json(),
            )
        })
        .collect();
    let readings: u64 = made.iter().map(|p| p.readings.len() as u64).sum();

    println!("| path | readings | seconds | readings/s | CPU s per 100k readings |");
    println!("|---|---:|---:|---:|---:|");
    for (name, influx) in [
        ("MQTT → gateway → SQLite", false),
        ("MQTT → gateway → SQLite + influxd", true),
    ] {
        let http = free_port()?;
        let db = dir.join(format!("{}.db", if influx { "influx" } else { "sqlite" }));
        // The 200 meters are not declared as devices (they have no Modbus address): the
        // gateway admits them as unknown devices, which it otherwise dead-letters.
        let mut site = format!(
            "[site]\nid = \"bench\"\n[mqtt]\nbroker = \"127.0.0.1:{mq_port}\"\ngateway_client_id = \"bench-gw-{influx}\"\n\
             [gateway]\nhttp = \"127.0.0.1:{http}\"\ndatabase = \"{}\"\nadmit_unknown_devices = {METERS}\n",
            db.display()
        );
        if influx {
            site.push_str(&format!(
                "[gateway.influx]\nurl = \"http://127.0.0.1:{ix_port}\"\ndatabase = \"kw\"\n"
            ));
        }
        let cfg = dir.join(format!("site-{influx}.toml"));
        std::fs::write(&cfg, site)?;
        let gw = spawn(&gateway, &["run", "--config", cfg.to_str().unwrap()])?;
        wait_port(http, "gateway")?;
        std::thread::sleep(Duration::from_millis(500));
        let pid = gw.0.id().to_string();
        let cpu0 = cpu_seconds(&pid)?;
        let t = Instant::now();
        publish_polls(mq_port, &messages)?;
        while !all_stored(name, &health(http)?, readings, influx)? {
            if t.elapsed() > Duration::from_secs(600) {
                bail!(
                    "{name}: not everything stored after 10 min: {}",
                    health(http)?
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let secs = t.elapsed().as_secs_f64();
        let cpu = cpu_seconds(&pid)? - cpu0;
        println!(
            "| {name} | {readings} | {secs:.2} | {:.0} | {:.3} |",
            readings as f64 / secs,
            cpu / (readings as f64 / 1e5)
        );
        drop(gw);
    }

    // The limit for the InfluxDB path: the same points as raw line protocol, POSTed directly.
    let mut lines = Vec::new();
    let mut chunk = String::new();
    let mut k = 0;
    for p in &made {
        k += kilowatch_gateway::influx::poll_lines(p, None, &mut chunk);
        if k >= 5000 {
            lines.push(std::mem::take(&mut chunk));
            k = 0;
        }
    }
    if !chunk.is_empty() {
        lines.push(chunk);
    }
    let cfg: kilowatch_site::config::InfluxConfig = toml::from_str(&format!(
        "url = \"http://127.0.0.1:{ix_port}\"\ndatabase = \"raw\""
    ))?;
    let writer = kilowatch_gateway::influx::Writer::new(&cfg)?;
    let rt = tokio::runtime::Runtime::new()?;
    let cpu0 = cpu_seconds("self")?;
    let t = Instant::now();
    rt.block_on(async {
        for body in &lines {
            writer
                .write(body)
                .await
                .map_err(|e| anyhow::anyhow!("raw POST: {e:?}"))?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds("self")? - cpu0;
    println!(
        "| raw line protocol POST → influxd (limit) | {readings} | {secs:.2} | {:.0} | {:.3} |",
        readings as f64 / secs,
        cpu / (readings as f64 / 1e5)
    );

    query_year(&gateway, &dir)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A year of 15-minute data for one series, rolled up, then `/api/v1/query` over the year at
/// 1 h through the real gateway's HTTP API.
fn query_year(gateway: &Path, dir: &Path) -> anyhow::Result<()> {
    use kilowatch_gateway::store::{Incoming, Store};
    let db = dir.join("year.db");
    let mut store = Store::open(&db)?;
    let start =
        chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")?.with_timezone(&chrono::Utc);
    let source = PollSource::new();
    let mut batch = Vec::new();
    let steps = 365 * 96;
    let built = Instant::now();
    for i in 0..steps {
        let mut p = source.make(0);
        p.site = "bench".into();
        p.device = "incomer".into();
        p.ts = start + chrono::Duration::minutes(15 * i);
        p.readings.retain(|r| r.quantity == "active_power");
        p.readings[0].value = Some(200.0 + (i % 96) as f64);
        batch.push(Incoming::Poll(p));
        if batch.len() == 5000 {
            store.write(&batch)?;
            batch.clear();
        }
    }
    store.write(&batch)?;
    while store.refresh_rollups(20_000)? > 0 {}
    drop(store);
    eprintln!(
        "year of data built in {:.1} s",
        built.elapsed().as_secs_f64()
    );
    let http = free_port()?;
    let cfg = dir.join("site-year.toml");
    std::fs::write(
        &cfg,
        format!("[site]\nid = \"bench\"\n[mqtt]\nbroker = \"127.0.0.1:1\"\n[gateway]\nhttp = \"127.0.0.1:{http}\"\ndatabase = \"{}\"\n", db.display()),
    )?;
    let _gw = spawn(gateway, &["run", "--config", cfg.to_str().unwrap()])?;
    wait_port(http, "gateway")?;
    let url = format!(
        "http://127.0.0.1:{http}/api/v1/query?series=bench/incomer/active_power&from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&step=1h"
    );
    let mut times = Vec::new();
    let mut points = 0;
    for _ in 0..21 {
        let t = Instant::now();
        let v: serde_json::Value = ureq::get(&url).call()?.body_mut().read_json()?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        points = v["points"].as_array().map_or(0, Vec::len);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "\nquery: one series, one year at 1 h ({points} points) over HTTP: median {:.1} ms, max {:.1} ms (21 runs)",
        times[10],
        times[20]
    );
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn enpi_suite(args: &[String]) -> anyhow::Result<()> {
    use kilowatch_gateway::enpi::{self, Assets};
    use kilowatch_gateway::store::{Store, StoreSettings};
    let days: u64 = flag(args, "--days").unwrap_or("365").parse()?;
    let n_assets: usize = flag(args, "--assets").unwrap_or("20").parse()?;
    let repeat: usize = flag(args, "--repeat").unwrap_or("3").parse()?;
    let profiles = ProfileLibrary::builtin();
    let mut config = SiteConfig::parse(kilowatch_gateway::DEMO_SITE, "demo-site.toml", &profiles)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let dir = std::env::temp_dir().join(format!("kw-enpi-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("bench.db");
    let mut store = Store::open(&db)?.with_settings(StoreSettings::for_site(&config, &profiles));
    let started = Instant::now();
    let (_, _, report) = kilowatch_gateway::backfill::backfill(
        &config,
        "demo-site.toml",
        &mut store,
        Duration::from_secs(days * 86_400),
        chrono::Utc::now(),
        true,
    )?;
    eprintln!(
        "history: {days} days, {} samples, in {:.1} s",
        report.samples,
        started.elapsed().as_secs_f64()
    );
    // N assets over the demo's devices, its asset types in turn: compressor room, chiller,
    // pumps, cooling tower, chilled-water plant, boiler, fan and plant (no heat recovery or
    // lighting: the demo feeds none).
    let templates = config.assets.clone();
    // The demo's savings plans name its asset ids, which the suite renumbers.
    config.mv_plans.clear();
    config.assets = (0..n_assets)
        .map(|i| {
            let mut t = templates[i % templates.len()].clone();
            let id = format!("{}-{i}", t["id"].as_str().unwrap_or("asset"));
            t.insert("id".into(), toml::Value::String(id));
            t
        })
        .collect();
    let assets =
        Assets::from_site(&config, "demo-site.toml").map_err(|e| anyhow::anyhow!("{e}"))?;
    let (from, to) = (report.from.timestamp_millis(), report.to.timestamp_millis());
    let tz = assets.timezone;
    // All indicators of assets idx ≡ k (mod threads), each thread on its own connection.
    let all = |threads: usize| -> anyhow::Result<usize> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|k| {
                    let (assets, db) = (&assets, &db);
                    scope.spawn(move || -> anyhow::Result<usize> {
                        let store = Store::open(db)?;
                        let mut rows = 0;
                        for idx in (k..assets.list.len()).step_by(threads) {
                            let mut m = enpi::Step::Month.bucket_start(from, tz);
                            while m < to {
                                let end = enpi::Step::Month.bucket_end(m, tz);
                                for (step, bucket, _, f) in
                                    enpi::compute_rows(&store, assets, idx, m, end, to)?
                                {
                                    std::hint::black_box(enpi::indicators_of(
                                        assets, idx, step, bucket, &f,
                                    ));
                                    rows += 1;
                                }
                                m = end;
                            }
                        }
                        Ok(rows)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| anyhow::anyhow!("thread panicked"))?)
                .sum()
        })
    };
    let (mut one, mut two, mut stored, mut rows_n) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for _ in 0..repeat {
        let t = Instant::now();
        rows_n = all(1)?;
        one.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        all(2)?;
        two.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        enpi::recompute(&mut store, &assets, from, to, to, || {})?;
        stored.push(t.elapsed().as_secs_f64());
    }
    println!("| assets | history | indicator rows (15m, 1h, 1d, 1mo) | all indicators, 1 thread | all indicators, 2 threads | facts stored (1 thread) |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {n_assets} | {days} days of 1-minute data | {rows_n} | {:.2} s | {:.2} s | {:.2} s |",
        median(one),
        median(two),
        median(stored)
    );
    eprintln!("medians of {repeat} runs");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Synthetic M&V data: `days` of `per_day` rows with temperature and `vars` variables; 8 %
/// savings after the first 365 days.
fn mv_data(days: usize, per_day: usize, vars: usize) -> kilowatch_gateway::mv::frame::Raw {
    use kilowatch_gateway::mv::frame::{Obs, Raw, VarSpec, Zone};
    let zone = Zone::Named(chrono_tz::Asia::Taipei);
    let start = zone.instant(
        chrono::NaiveDate::from_ymd_opt(2025, 1, 1)
            .unwrap()
            .and_time(chrono::NaiveTime::MIN),
    );
    let step = 86_400_000 / per_day as i64;
    let mut seed = 7u64;
    let mut noise = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let obs = (0..days * per_day)
        .map(|i| {
            let day = (i / per_day) as f64;
            let hour = (i % per_day) as f64 * 24.0 / per_day as f64;
            let t = 23.0
                + 8.0 * (std::f64::consts::TAU * (day - 200.0) / 365.0).cos()
                + 3.0 * (std::f64::consts::TAU * (hour - 15.0) / 24.0).cos()
                + 2.0 * noise();
            let v: Vec<f64> = (0..vars)
                .map(|j| 100.0 * (j + 1) as f64 * (1.0 + noise()))
                .collect();
            let mut e = 50.0 * 24.0 / per_day as f64
                + 4.0 * (t - 20.0).max(0.0)
                + v.iter().map(|x| 0.2 * x).sum::<f64>()
                + 5.0 * noise();
            if i / per_day >= 365 {
                e *= 0.92;
            }
            Obs {
                ts: start + i as i64 * step,
                energy: Some(e),
                temp: Some(t),
                vars: v.into_iter().map(Some).collect(),
            }
        })
        .collect();
    Raw {
        zone,
        interval: step,
        obs,
        has_temp: true,
        vars: (0..vars)
            .map(|j| VarSpec::parse(&format!("var{j}")).unwrap())
            .collect(),
    }
}

fn mv_suite(args: &[String]) -> anyhow::Result<()> {
    use kilowatch_gateway::mv::{self, frame::Granularity, model::TempUnit, Request};
    let repeat: usize = flag(args, "--repeat").unwrap_or("20").parse()?;
    let zone = chrono_tz::Asia::Taipei;
    let range = |text: &str| mv::frame::parse_range(text, mv::frame::Zone::Named(zone));
    println!("| case | baseline points | candidates | fit + select + savings (median) | HTML report (median) | goal |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, per_day, vars, g, goal) in [
        (
            "a year of daily data, temperature + production",
            1,
            1,
            Granularity::Day,
            50.0,
        ),
        (
            "a year of hourly data, temperature + 3 variables",
            24,
            3,
            Granularity::Hour,
            500.0,
        ),
    ] {
        let raw = mv_data(365 + 181, per_day, vars);
        let req = Request {
            source: name.into(),
            energy_unit: "kWh".into(),
            temp_unit: TempUnit::C,
            granularity: g,
            baseline: range("2025-01-01..2025-12-31").map_err(anyhow::Error::msg)?,
            reporting: range("2026-01-01..2026-06-30").map_err(anyhow::Error::msg)?,
            model: None,
            adjustments: vec![],
            holidays: vec![],
            accept_extrapolation: false,
            placebo: false,
        };
        let mut fit_ms = Vec::new();
        let mut html_ms = Vec::new();
        let mut last = None;
        for _ in 0..repeat {
            let t = Instant::now();
            let r = mv::analyse(&raw, &req)?;
            fit_ms.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            std::hint::black_box(mv::html::render(&r));
            html_ms.push(t.elapsed().as_secs_f64() * 1e3);
            last = Some(r);
        }
        let r = last.context("no run")?;
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        eprintln!("{name}: model {}, {}", r.model.form, r.savings.verdict);
        println!(
            "| {name} | {} | {} | {:.1} ms | {:.1} ms | < {goal:.0} ms |",
            r.model.n,
            r.model.candidates.len(),
            median(&mut fit_ms),
            median(&mut html_ms)
        );
        // The placebo back-test: the same procedure on up to 12 windows of the baseline.
        let req = Request {
            placebo: true,
            ..req
        };
        let mut placebo_ms = Vec::new();
        let mut last = None;
        for _ in 0..repeat.div_ceil(5) {
            let t = Instant::now();
            let r = mv::analyse(&raw, &req)?;
            placebo_ms.push(t.elapsed().as_secs_f64() * 1e3);
            last = Some(r);
        }
        let p = last.and_then(|r| r.placebo).context("no placebo")?;
        println!(
            "| {name}, with the placebo back-test ({} windows, {} called verified) | {} | {} | {:.0} ms | | < 2000 ms |",
            p.windows,
            p.verified,
            r.model.n,
            r.model.candidates.len(),
            median(&mut placebo_ms)
        );
    }
    Ok(())
}
