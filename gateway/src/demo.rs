//! `kilowatch-gateway demo`: the whole stack in one process on loopback: simulated plant →
//! Modbus TCP → agent → embedded MQTT broker → gateway → SQLite → HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;

use kilowatch_site::config::SiteConfig;
use kilowatch_site::profile::ProfileLibrary;
use tokio::sync::watch;

use crate::service::stopped;
use crate::{broker, http, service, sim, DEMO_SITE};

pub struct DemoOptions {
    pub http: SocketAddr,
    /// Keep the database here; a fresh temporary one otherwise.
    pub data: Option<PathBuf>,
    /// Fill the store with this much one-minute history before going live (`None`: what the
    /// scenarios need, [`history_length`]; zero: none).
    pub history: Option<std::time::Duration>,
    /// The API's access token (first line); checked by the caller.
    pub access_token_file: Option<PathBuf>,
    /// Faults for the live plant to show, added to the site file's.
    pub scenarios: Vec<sim::Scenario>,
    /// Also write readings, EnPIs, alarms and savings to this InfluxDB (for Grafana).
    pub influx: Option<kilowatch_site::config::InfluxConfig>,
}

const ORIGIN: &str = "seeds/demo-site.toml (built in)";

pub async fn run(
    opts: DemoOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let profiles = ProfileLibrary::builtin();
    let mut config = SiteConfig::parse(DEMO_SITE, ORIGIN, &profiles)?;
    let today = chrono::Utc::now()
        .with_timezone(&config.timezone())
        .date_naive();
    let moved = crate::demo_dates::move_to(&mut config, today);
    if moved != 0 {
        tracing::info!("the demo's retrofit and savings-plan dates moved {moved} days to today");
    }
    add_scenarios(&mut config, &opts.scenarios);
    let assets = crate::enpi::Assets::from_site(&config, ORIGIN)?;
    // Bind HTTP first: a busy port is the most likely failure and should stop us early.
    let listener = http::bind(opts.http).await?;
    let url = format!("http://{}/", listener.local_addr()?);

    let (dir, temporary) = match opts.data {
        Some(dir) => (dir, false),
        None => (
            std::env::temp_dir().join(format!("kilowatch-demo-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", dir.display()))?;
    let db = dir.join("kilowatch.db");

    tokio::pin!(shutdown);
    let history = history_length(
        opts.history,
        &sim::plant_settings(&config, ORIGIN)?.scenarios,
    );
    let resume = match history {
        None => None,
        Some(length) => {
            let (cfg, db2, truth) = (config.clone(), db.clone(), dir.join("truth.csv"));
            let started = std::time::Instant::now();
            let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let stop = cancel.clone();
            // The backfill writes on a connection of its own: it is awaited, and the
            // connection closed, before the service (and its writer thread) starts.
            let mut fill = tokio::task::spawn_blocking(move || {
                let settings =
                    crate::store::StoreSettings::for_site(&cfg, &ProfileLibrary::builtin());
                let mut store = crate::store::Store::open(&db2)?.with_settings(settings);
                let out = crate::backfill::backfill_until(
                    &cfg,
                    ORIGIN,
                    &mut store,
                    (length, chrono::Utc::now()),
                    std::io::IsTerminal::is_terminal(&std::io::stderr()),
                    &stop,
                )?;
                crate::backfill::write_truth(&truth, &out.2)?;
                anyhow::Ok(out)
            });
            let filled = tokio::select! {
                r = &mut fill => r,
                () = &mut shutdown => {
                    cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                    let _ = fill.await;
                    println!("stopped during the history fill");
                    if temporary {
                        let _ = std::fs::remove_dir_all(&dir);
                    } else {
                        println!("the history in {} is incomplete", dir.display());
                    }
                    return Ok(());
                }
            };
            let (plant, end, report) = filled??;
            println!(
                "history: {} samples from {} to {} in {:.1} s; retrofit truth in {}",
                report.samples,
                report.from.format("%Y-%m-%d %H:%M"),
                report.to.format("%Y-%m-%d %H:%M"),
                started.elapsed().as_secs_f64(),
                dir.join("truth.csv").display()
            );
            Some((plant, end))
        }
    };

    let served = sim::start_with_plant(
        &config,
        ORIGIN,
        &profiles,
        sim::Bind::EphemeralLoopback,
        resume,
    )
    .await?;
    for s in &served {
        if let Some(d) = config.devices.iter_mut().find(|d| d.id == s.device) {
            d.tcp = Some(s.addr.to_string());
        }
    }
    config.mqtt.broker = broker::start_embedded()?.to_string();

    // After the history fill: the backfill writes rollups, not readings, so InfluxDB gets
    // the live readings and everything the service derives from the history (EnPIs, savings).
    config.gateway.influx = opts.influx;
    config.agent.spool_dir = Some(dir.join("spool").display().to_string());
    // One process, one port to remember: the demo's agent serves no metrics endpoint.
    config.agent.metrics = "off".into();
    config.gateway.access_token_file = opts.access_token_file.map(|p| p.display().to_string());

    let (stop_tx, stop_rx) = watch::channel(false);
    let stats = std::sync::Arc::new(crate::ingest::IngestStats::default());
    let mut subscribed = stats.subscribed.subscribe();
    let gateway = tokio::spawn(service::run_with(
        config.clone(),
        assets,
        db.clone(),
        listener,
        stopped(stop_rx.clone()),
        stats,
    ));
    // Start polling only once the gateway's subscription is in place, so the very first
    // readings are stored too.
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        subscribed.wait_for(|s| *s),
    )
    .await;
    let agent = tokio::spawn(kilowatch_agent::run::run(
        config.clone(),
        profiles,
        stopped(stop_rx),
    ));

    println!(
        "kilowatch demo: {} simulated device(s), broker {}, database {}",
        served.len(),
        config.mqtt.broker,
        db.display()
    );
    for s in sim::plant_settings(&config, ORIGIN)?.scenarios {
        println!("scenario {s}: expect {}", s.expect());
    }
    println!("open {url}  (API: {url}api/v1/latest) · Ctrl-C to stop");

    shutdown.await;
    println!("stopping…");
    let _ = stop_tx.send(true);
    agent.await??;
    gateway.await??;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!("stopped");
    Ok(())
}

/// The history to fill: `asked` (`--history`; zero for none), else the longest the
/// scenarios need to show their alarms (`chiller-fouling`: the chiller's usual kW/TR).
fn history_length(
    asked: Option<std::time::Duration>,
    scenarios: &[sim::Scenario],
) -> Option<std::time::Duration> {
    asked
        .or_else(|| scenarios.iter().filter_map(|s| s.history()).max())
        .filter(|d| !d.is_zero())
}

/// Adds `scenarios` to the `[plant]` table's own, once each.
fn add_scenarios(config: &mut SiteConfig, scenarios: &[sim::Scenario]) {
    if scenarios.is_empty() {
        return;
    }
    let plant = config.plant.get_or_insert_with(Default::default);
    let list = plant
        .entry("scenarios")
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    if let toml::Value::Array(list) = list {
        for s in scenarios {
            let v = toml::Value::String(s.name().to_owned());
            if !list.contains(&v) {
                list.push(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sim::Scenario;

    #[test]
    fn scenarios_bring_the_history_their_alarms_need_unless_told_otherwise() {
        let week = Some(Duration::from_secs(7 * 86_400));
        assert_eq!(history_length(None, &[]), None);
        assert_eq!(history_length(None, &[Scenario::Leak]), None);
        assert_eq!(
            history_length(None, &[Scenario::Leak, Scenario::ChillerFouling]),
            week
        );
        // `--history` wins, both ways.
        let two_days = Some(Duration::from_secs(2 * 86_400));
        assert_eq!(
            history_length(two_days, &[Scenario::ChillerFouling]),
            two_days
        );
        assert_eq!(
            history_length(Some(Duration::ZERO), &[Scenario::ChillerFouling]),
            None
        );
    }
}
