//! `kilowatch-bench hub-suite [--sites 1000] [--devices 50] [--quarters 2] [--page-repeat 10]`:
//! the portfolio hub under many sites. A throwaway PostgreSQL cluster, mosquitto, and two hub
//! instances in one shared-subscription group; SITES × DEVICES 15-minute rollups per quarter
//! hour (QUARTERS of them) plus each site's monthly EnPI facts and completeness, published as
//! site gateways publish them (QoS 1, hub wire format). Prints rows/s stored, the lag from the
//! last publish to the last row stored, CPU and peak RSS per instance, and the portfolio's
//! load time (the two API calls the portfolio page makes, as an admin seeing every site, and
//! the page itself in headless Chromium, logged in with a password).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use kilowatch_e2e::postgres::Postgres;
use kilowatch_e2e::{free_port, wait_for, Mosquitto, Proc};
use kilowatch_gateway::enpi::facts::NAMES;
use serde_json::{json, Value};

use super::{cpu_seconds, flag, peak_rss_mib, sibling};

const PREFIX: &str = "kilowatch/v1/hub";

fn record(site: &str, kind: &str, key: &str, at: i64, body: Value) -> (String, Vec<u8>) {
    let r = json!({ "v": 1, "site": site, "kind": kind, "key": key, "version": 1, "at": at, "body": body });
    (
        format!("{PREFIX}/{site}/{kind}"),
        serde_json::to_vec(&r).unwrap_or_default(),
    )
}

fn facts(pairs: &[(&str, f64)]) -> Value {
    let mut v = vec![Value::Null; NAMES.len()];
    for (n, x) in pairs {
        if let Some(i) = NAMES.iter().position(|m| m == n) {
            v[i] = json!(x);
        }
    }
    json!({ "q": 2880, "v": v, "w": [] })
}

fn messages(sites: usize, devices: usize, quarters: i64, now: i64) -> Vec<(String, Vec<u8>)> {
    let start = (now - quarters * 900_000) / 900_000 * 900_000;
    let month = now - 10 * 86_400_000;
    let mut out = Vec::with_capacity(sites * (devices * quarters as usize + 3));
    for s in 0..sites {
        let site = format!("site-{s:04}");
        for q in 0..quarters {
            let at = start + q * 900_000;
            for d in 0..devices {
                let kw = 20.0 + (s * 7 + d) as f64 % 50.0;
                out.push(record(&site, "rollup", &format!("m{d:02}/active_power/{at}"), at, json!({
                    "device": format!("m{d:02}"), "quantity": "active_power", "unit": "kW", "bucket": at,
                    "count": 15, "avg": kw, "min": kw - 1.0, "max": kw + 1.0, "integral": kw / 4.0, "gaps": 0, "resets": 0 })));
            }
        }
        let kwh = 50_000.0 + s as f64;
        out.push(record(&site, "enpi", &format!("plant/1mo/{month}"), month, json!({ "asset": "plant", "step": "1mo", "bucket": month, "partial": true,
            "facts": facts(&[("kwh", kwh), ("demand_kw", 120.0), ("production", 900.0), ("energy_cost", 3.5 * kwh), ("scope2_kg", 0.49 * kwh)]) })));
        out.push(record(&site, "enpi", &format!("air/1mo/{month}"), month, json!({ "asset": "air", "step": "1mo", "bucket": month, "partial": true,
            "facts": facts(&[("kwh", 500.0 + (s % 40) as f64 * 10.0), ("air_m3", 6000.0), ("idle_loaded_h", 1.0 + (s % 3) as f64), ("idle_run_h", 10.0)]) })));
        out.push(record(
            &site,
            "completeness",
            "all/today",
            now,
            json!({ "device": "all", "date": "2026-11-30", "ratio": 0.99 }),
        ));
    }
    out
}

/// Publishes with QoS 1 and waits for every PUBACK.
fn publish(port: u16, messages: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new("bench-sites", "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut connection) = Client::new(opts, 1000);
    let total = messages.len();
    let to_send = messages.to_vec();
    let sender = std::thread::spawn(move || -> anyhow::Result<()> {
        for (topic, payload) in to_send {
            client.publish(topic, QoS::AtLeastOnce, false, payload)?;
        }
        Ok(())
    });
    let mut acked = 0;
    let deadline = Instant::now() + Duration::from_secs(1800);
    for event in connection.iter() {
        if let Event::Incoming(Packet::PubAck(_)) = event.context("publishing")? {
            acked += 1;
            if acked == total {
                break;
            }
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "publishes not acknowledged in time"
        );
    }
    sender
        .join()
        .map_err(|_| anyhow::anyhow!("publisher panicked"))??;
    Ok(())
}

fn run(gw: &Path, dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new(gw)
        .args(["hub", "--config", "hub.toml"])
        .args(args)
        .current_dir(dir)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "hub {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

const VIEWER_PW: &str = "bench-viewer-pass-1";

fn run_with_stdin(gw: &Path, dir: &Path, args: &[&str], stdin: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut child = std::process::Command::new(gw)
        .args(["hub", "--config", "hub.toml"])
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(stdin.as_bytes())?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "hub {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// The portfolio page in headless Chromium (tests/browser/hub-load.mjs): ms per load, from
/// navigation to every plant listed and painted.
fn page_load(base: &str, repeat: usize, sites: usize) -> anyhow::Result<()> {
    let browser = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser");
    anyhow::ensure!(
        browser.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: npm ci --prefix tests/browser"
    );
    let out = std::process::Command::new("node")
        .arg(browser.join("hub-load.mjs"))
        .args([base, "viewer", VIEWER_PW, &repeat.to_string()])
        .env(
            "CHROMIUM",
            std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
        )
        .output()
        .context("node (apt-get install nodejs) to drive Chromium")?;
    anyhow::ensure!(
        out.status.success(),
        "hub-load.mjs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout)?;
    anyhow::ensure!(r["errors"] == json!([]), "page errors: {}", r["errors"]);
    anyhow::ensure!(
        r["rows"] == json!(sites),
        "the page listed {} plants of {sites}",
        r["rows"]
    );
    let times: Vec<f64> = r["times"]
        .as_array()
        .context("times")?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    anyhow::ensure!(!times.is_empty(), "no page load measured");
    let max = times.iter().copied().fold(0.0, f64::max);
    println!(
        "| /portfolio in Chromium, {sites} plants listed and painted: median / max | {:.0} ms / {:.0} ms |",
        median(times),
        max
    );
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn hub_suite(args: &[String]) -> anyhow::Result<()> {
    let sites: usize = flag(args, "--sites").unwrap_or("1000").parse()?;
    let devices: usize = flag(args, "--devices").unwrap_or("50").parse()?;
    let quarters: i64 = flag(args, "--quarters").unwrap_or("2").parse()?;
    let repeat: usize = flag(args, "--page-repeat").unwrap_or("10").parse()?;
    anyhow::ensure!(
        sites > 0 && devices > 0 && quarters > 0 && repeat > 0,
        "all counts at least 1"
    );
    let gw = sibling("kilowatch-gateway")?;
    let dir = std::env::temp_dir().join(format!("kilowatch-bench-hub-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = suite(&gw, &dir, sites, devices, quarters, repeat);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn suite(
    gw: &Path,
    dir: &Path,
    sites: usize,
    devices: usize,
    quarters: i64,
    repeat: usize,
) -> anyhow::Result<()> {
    let pg = Postgres::start(dir);
    let mq_dir = dir.join("broker");
    std::fs::create_dir_all(&mq_dir)?;
    let port = free_port();
    // Unbounded queues: the hubs may fall behind the burst; nothing may be dropped.
    let mq = Mosquitto::start_with(
        &mq_dir,
        port,
        &format!("listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"),
    );
    let http = free_port();
    std::fs::write(
        dir.join("hub.toml"),
        format!(
            "[mqtt]\nbroker = \"127.0.0.1:{}\"\n[hub]\nshare_group = \"bench\"\n[postgres]\nurl = \"{}\"\npool_size = 8\n",
            mq.port,
            pg.url()
        ),
    )?;
    run(
        gw,
        dir,
        &["user", "add", "bench", "--role", "admin", "--no-password"],
    )?;
    // The page is measured as a person meets it: logged in with a password.
    run_with_stdin(
        gw,
        dir,
        &[
            "user",
            "add",
            "viewer",
            "--role",
            "admin",
            "--password-stdin",
        ],
        &format!("{VIEWER_PW}\n"),
    )?;
    let token = run(
        gw,
        dir,
        &[
            "user",
            "token",
            "bench",
            "--token-name",
            "bench",
            "--scope",
            "portfolio:read",
        ],
    )?;
    let addr = format!("127.0.0.1:{http}");
    let hubs = [
        Proc::spawn(
            "hub-1",
            gw,
            &[
                "hub",
                "--config",
                "hub.toml",
                "--client-id",
                "hub-1",
                "--http",
                &addr,
            ],
            dir,
        ),
        Proc::spawn(
            "hub-2",
            gw,
            &["hub", "--config", "hub.toml", "--client-id", "hub-2"],
            dir,
        ),
    ];
    for h in &hubs {
        wait_for(Duration::from_secs(60), || {
            h.log().contains("hub subscribed").then_some(())
        })
        .with_context(|| format!("{} did not subscribe:\n{}", h.name, h.log()))?;
    }
    let pids: Vec<String> = hubs.iter().map(|h| h.pid().to_string()).collect();
    let cpu0: Vec<f64> = pids
        .iter()
        .map(|p| cpu_seconds(p))
        .collect::<Result<_, _>>()?;
    let now = chrono::Utc::now().timestamp_millis();
    let msgs = messages(sites, devices, quarters, now);
    let total = msgs.len();
    println!(
        "hub-suite: {sites} sites x {devices} devices x {quarters} quarter-hours = {} rollups, {total} records in all; load average {}",
        sites * devices * quarters as usize,
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
    );
    let t0 = Instant::now();
    publish(mq.port, &msgs)?;
    let published = t0.elapsed();
    let count = || -> usize {
        pg.query("SELECT count(*) FROM records")
            .parse()
            .unwrap_or(0)
    };
    wait_for(Duration::from_secs(1800), || {
        (count() >= total).then_some(())
    })
    .with_context(|| format!("stored {} of {total}", count()))?;
    let stored = t0.elapsed();
    let cpu1: Vec<f64> = pids
        .iter()
        .map(|p| cpu_seconds(p))
        .collect::<Result<_, _>>()?;
    let rss: Vec<f64> = pids
        .iter()
        .map(|p| peak_rss_mib(p))
        .collect::<Result<_, _>>()?;
    println!("\n| figure | value |\n|---|---|");
    println!("| records stored | {} (expected {total}) |", count());
    println!(
        "| published in | {:.1} s ({:.0} records/s) |",
        published.as_secs_f64(),
        total as f64 / published.as_secs_f64()
    );
    println!(
        "| stored in | {:.1} s ({:.0} rows/s) |",
        stored.as_secs_f64(),
        total as f64 / stored.as_secs_f64()
    );
    println!(
        "| lag after the last publish | {:.1} s |",
        (stored - published).as_secs_f64()
    );
    for (i, h) in hubs.iter().enumerate() {
        println!(
            "| {} CPU / peak RSS | {:.1} s / {:.0} MiB |",
            h.name,
            cpu1[i] - cpu0[i],
            rss[i]
        );
    }
    // The portfolio page's data: every plant, and like assets.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    for path in ["portfolio/sites", "portfolio/benchmarks"] {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..repeat {
            let t = Instant::now();
            let body = agent
                .get(&format!("http://{addr}/api/v1/{path}"))
                .header("Authorization", &format!("Bearer {token}"))
                .call()?
                .body_mut()
                .read_to_string()?;
            times.push(t.elapsed().as_secs_f64());
            size = body.len();
        }
        let max = times.iter().copied().fold(0.0, f64::max);
        println!(
            "| GET /api/v1/{path}, {sites} sites: median / max | {:.0} ms / {:.0} ms ({} kB) |",
            median(times) * 1000.0,
            max * 1000.0,
            size / 1024
        );
    }
    page_load(&format!("http://{addr}"), repeat, sites)
}
