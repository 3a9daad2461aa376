//! `kilowatch-bench api-suite` (issue 18): the HTTP API under load while readings stream in.
//!
//! One store is prefilled with the demo plant's history (one-minute data, rollups and EnPIs
//! for the whole span, as `kilowatch-gateway demo --history` leaves it); each catalogue gets a
//! copy. The real `kilowatch-gateway run` serves it behind a real mosquitto. Readings are
//! published at a fixed rate for `duration` without API load, then for `duration` again while
//! N concurrent clients request `/api/v1/query` (a year at 1 h), `/api/v1/latest` and
//! `/api/v1/health`, each client flat out (`--think 0s`, the default) or pausing between
//! requests like a dashboard refreshing (`--think 1s`). The stored-readings counter comes from `/metrics`, which takes no store lock.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use chrono::DurationRound as _;
use kilowatch_site::config::SiteConfig;
use kilowatch_site::profile::ProfileLibrary;

use super::{flag, free_port, sibling, spawn, wait_port};
use crate::api_load::{self, Catalogue, Publisher};

/// The demo plant's id, as its site file names it.
const SITE: &str = "demo-plant";
/// The series every `/query` request reads.
const QUERY_SERIES: &str = "demo-plant/incomer/active_power";

struct Options {
    clients: usize,
    /// Each client's pause between answer and next request (0: closed loop, flat out).
    think: Duration,
    duration: Duration,
    catalogues: Vec<Option<usize>>,
    rate: u64,
    history: Duration,
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let duration = |name: &str, default: &str| {
        kilowatch_site::config::parse_duration(flag(args, name).unwrap_or(default))
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))
    };
    let catalogues = flag(args, "--series")
        .unwrap_or("demo,20000")
        .split(',')
        .map(|s| match s.trim() {
            "demo" => Ok(None),
            n => n
                .parse()
                .map(Some)
                .context("--series takes demo or a number of series, e.g. demo,20000"),
        })
        .collect::<anyhow::Result<_>>()?;
    let o = Options {
        clients: flag(args, "--clients").unwrap_or("200").parse()?,
        think: match flag(args, "--think") {
            None | Some("0" | "0s") => Duration::ZERO,
            Some(_) => duration("--think", "0s")?,
        },
        duration: duration("--duration", "20s")?,
        catalogues,
        rate: flag(args, "--rate").unwrap_or("50000").parse()?,
        history: duration("--history", "365d")?,
    };
    if o.clients == 0 || o.rate == 0 || o.duration.is_zero() {
        bail!("--clients, --rate and --duration must be above zero");
    }
    Ok(o)
}

/// What one catalogue's run measured.
struct Outcome {
    label: String,
    series: usize,
    alone: api_load::Ingest,
    loaded: api_load::Ingest,
    endpoints: Vec<api_load::Latency>,
    vm_rss: f64,
    vm_hwm: f64,
    /// The machine's load average (1 min) before the windows.
    load_before: String,
}

pub fn api_suite(args: &[String]) -> anyhow::Result<()> {
    let o = options(args)?;
    let gateway = sibling("kilowatch-gateway")?;
    let mosquitto = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .context("mosquitto is not installed (apt-get install mosquitto)")?;
    let dir = std::env::temp_dir().join(format!("kilowatch-bench-api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let result = run(&o, &gateway, Path::new(mosquitto), &dir);
    let _ = std::fs::remove_dir_all(&dir);
    let outcomes = result?;

    println!(
        "\n| catalogue | endpoint | requests | requests/s | p50 ms | p99 ms | max ms | failed |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for r in &outcomes {
        for e in &r.endpoints {
            println!(
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
                r.label, e.endpoint, e.requests, e.per_s, e.p50, e.p99, e.max, e.failed
            );
        }
    }
    println!("\n| catalogue | series | readings/s published (alone / under load) | stored/s, no API load | stored/s, under API load | kept | gateway VmRSS MiB | VmHWM MiB |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &outcomes {
        println!(
            "| {} | {} | {:.0} / {:.0} | {:.0} | {:.0} | {:.0} % | {:.1} | {:.1} |",
            r.label,
            r.series,
            r.alone.offered_per_s,
            r.loaded.offered_per_s,
            r.alone.stored_per_s,
            r.loaded.stored_per_s,
            100.0 * r.loaded.stored_per_s / r.alone.stored_per_s,
            r.vm_rss,
            r.vm_hwm
        );
    }
    println!(
        "\nCPU in cores (of the machine's {}), no API load → under API load:\n",
        cores()
    );
    println!("| catalogue | load avg before | gateway | mosquitto | bench (publisher, clients) | others |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &outcomes {
        let (a, l) = (r.alone.cpu, r.loaded.cpu);
        println!(
            "| {} | {} | {:.2} → {:.2} | {:.2} → {:.2} | {:.2} → {:.2} | {:.2} → {:.2} |",
            r.label,
            r.load_before,
            a.gateway,
            l.gateway,
            a.mosquitto,
            l.mosquitto,
            a.bench,
            l.bench,
            a.others,
            l.others
        );
    }
    Ok(())
}

/// The 1-minute load average, as `/proc/loadavg` shows it.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn run(o: &Options, gateway: &Path, mosquitto: &Path, dir: &Path) -> anyhow::Result<Vec<Outcome>> {
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let mq_port = free_port()?;
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "user {user}\nlistener {mq_port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
             max_queued_messages 0\nmax_inflight_messages 0\n"
        ),
    )?;
    let mq = spawn(mosquitto, &["-c", conf.to_str().context("temp path")?])?;
    wait_port(mq_port, "mosquitto")?;

    let base = dir.join("base.db");
    let end = prefill(&base, o.history)?;
    let to = end
        .duration_trunc(chrono::TimeDelta::hours(1))
        .context("time")?;
    let from = to - chrono::TimeDelta::days(365);
    let query = format!(
        "/api/v1/query?series={QUERY_SERIES}&from={}&to={}&step=1h",
        from.format("%Y-%m-%dT%H:%M:%SZ"),
        to.format("%Y-%m-%dT%H:%M:%SZ")
    );

    let mut outcomes = Vec::new();
    for (k, target) in o.catalogues.iter().enumerate() {
        let db = dir.join(format!("case-{k}.db"));
        std::fs::copy(&base, &db)?;
        let wal = PathBuf::from(format!("{}-wal", base.display()));
        if wal.exists() {
            std::fs::copy(&wal, format!("{}-wal", db.display()))?;
        }
        let added = match target {
            Some(n) => api_load::add_devices(&db, SITE, *n, end)?,
            None => 0,
        };
        let catalogue = Catalogue::read(&db, SITE)?;
        let label = match target {
            None => "demo".to_owned(),
            Some(_) => format!("{} series", catalogue.series),
        };
        eprintln!(
            "{label}: {} devices, {} series",
            catalogue.devices.len(),
            catalogue.series
        );
        let http = free_port()?;
        let cfg = dir.join(format!("site-{k}.toml"));
        std::fs::write(&cfg, site_file(mq_port, http, &db, added)?)?;
        let gw = spawn(gateway, &["run", "--config", cfg.to_str().context("path")?])?;
        wait_port(http, "gateway")?;
        api_load::wait_connected(http)?;
        let series = catalogue.series;
        let publisher = Publisher::start(mq_port, catalogue, o.rate)?;
        // Warm up: the gateway keeping pace (within half a second of readings), so the
        // "alone" window does not include a catch-up from the start.
        api_load::wait_caught_up(http, &publisher, o.rate / 2, Duration::from_secs(120))?;
        eprintln!("{label}: ingest alone for {:?}", o.duration);
        let pids = [gw.0.id(), mq.0.id(), std::process::id()];
        let load_before = loadavg();
        let alone = api_load::ingest_for(http, &publisher, o.duration, pids)?;
        eprintln!(
            "{label}: {} clients (pause {:?}) for {:?} while ingesting",
            o.clients, o.think, o.duration
        );
        let (loaded, endpoints) = api_load::under_load(
            http,
            &publisher,
            (o.clients, o.think),
            o.duration,
            &query,
            pids,
        )?;
        let pid = gw.0.id().to_string();
        let (vm_rss, vm_hwm) = (status_mib(&pid, "VmRSS:")?, status_mib(&pid, "VmHWM:")?);
        publisher.stop()?;
        drop(gw);
        outcomes.push(Outcome {
            label,
            series,
            alone,
            loaded,
            endpoints,
            vm_rss,
            vm_hwm,
            load_before,
        });
    }
    Ok(outcomes)
}

/// The demo plant's history in `db`, with its EnPIs and M&V plan periods computed, so the
/// gateway's first maintenance ticks do not recompute a year while being measured.
pub(super) fn prefill(
    db: &Path,
    history: Duration,
) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    use kilowatch_gateway::store::{Store, StoreSettings};
    let profiles = ProfileLibrary::builtin();
    let config = SiteConfig::parse(kilowatch_gateway::DEMO_SITE, "demo-site.toml", &profiles)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let assets = kilowatch_gateway::enpi::Assets::from_site(&config, "demo-site.toml")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut store = Store::open(db)?.with_settings(StoreSettings::for_site(&config, &profiles));
    let t = Instant::now();
    let (_, _, report) = kilowatch_gateway::backfill::backfill(
        &config,
        "demo-site.toml",
        &mut store,
        history,
        chrono::Utc::now(),
        false,
    )?;
    eprintln!(
        "prefill: {} samples, {} to {}, in {:.1} s",
        report.samples,
        report.from,
        report.to,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    while store.refresh_rollups(20_000)? > 0 {}
    let now = chrono::Utc::now().timestamp_millis();
    kilowatch_gateway::enpi::refresh(&mut store, &assets, now)?;
    while kilowatch_gateway::mv::plan_eval::refresh(&mut store, &assets, now, 1000)?.pending > 0 {}
    eprintln!(
        "prefill: rollups, EnPIs and M&V plans in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(report.to)
}

/// The demo site file on this run's broker, port and database; `admit` devices outside it
/// may create series (the synthetic ones of a large catalogue).
fn site_file(mq_port: u16, http: u16, db: &Path, admit: usize) -> anyhow::Result<String> {
    let site = kilowatch_gateway::DEMO_SITE;
    let (mqtt, gateway) = (
        "[mqtt]\nbroker = \"127.0.0.1:1883\"\n",
        "[gateway]\nhttp = \"127.0.0.1:8080\"\ndatabase = \"kilowatch.db\"\n",
    );
    if !site.contains(mqtt) || !site.contains(gateway) {
        bail!("the demo site file no longer has the [mqtt] and [gateway] sections this suite rewrites");
    }
    Ok(site
        .replace(
            mqtt,
            &format!(
                "[mqtt]\nbroker = \"127.0.0.1:{mq_port}\"\ngateway_client_id = \"bench-api-gw\"\n"
            ),
        )
        .replace(
            gateway,
            &format!(
                "[gateway]\nhttp = \"127.0.0.1:{http}\"\ndatabase = \"{}\"\nadmit_unknown_devices = {admit}\n",
                db.display()
            ),
        ))
}

/// A `/proc/PID/status` size field in MiB.
fn status_mib(pid: &str, field: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .with_context(|| format!("no {field}"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kb / 1024.0)
}
