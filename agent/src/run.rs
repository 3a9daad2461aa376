//! The agent pipeline: poll (source, one task per device) → spool (durable, on disk) → MQTT
//! publish (sink). Polling never waits on the broker: the spool absorbs outages and the
//! publisher replays it oldest first.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::task::JoinSet;

use crate::acquire::device_loop;
use crate::forward::{publisher, spool_writer, PublishStats, PublisherSetup};
use crate::ha_discovery;
use crate::health::Health;
use crate::metrics;
use crate::poll::{Bus, Poller};
use crate::rbe::Rbe;
use crate::sparkplug;
use crate::spool::{SpoolConfig, SpoolHandle};
use kilowatch_site::config::{SiteConfig, Transport};
use kilowatch_site::mqtt::Connector;
use kilowatch_site::payload::{self, DevicePoll};
use kilowatch_site::profile::ProfileLibrary;

/// Runs the agent until `shutdown` completes.
pub async fn run(
    config: SiteConfig,
    profiles: ProfileLibrary,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    run_with(config, profiles, Health::default(), shutdown).await
}

/// Builds one poller per device, sharing a [`Bus`] between devices on the same connection.
pub fn pollers(config: &SiteConfig, profiles: &ProfileLibrary) -> anyhow::Result<Vec<Poller>> {
    let mut buses: std::collections::HashMap<Transport, std::sync::Arc<Bus>> = Default::default();
    config
        .devices
        .iter()
        .map(|device| {
            let profile = device
                .resolve(
                    profiles
                        .get(&device.profile)
                        .with_context(|| format!("unknown profile {}", device.profile))?,
                )
                .map_err(|(key, e)| anyhow::anyhow!("device {}: {key}: {e}", device.id))?;
            let bus = buses
                .entry(device.transport())
                .or_insert_with(|| Bus::new(device.transport()))
                .clone();
            Ok(Poller::new(device.clone(), profile, bus))
        })
        .collect()
}

/// Runs the agent until `shutdown` completes, recording device health in `health`.
pub async fn run_with(
    config: SiteConfig,
    profiles: ProfileLibrary,
    health: Health,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let client_id = config.agent_client_id();
    let status_topic = payload::agent_status_topic(&config.site.id, &client_id);
    let health_topic = payload::agent_health_topic(&config.site.id, &client_id);
    let connector = Connector::new(
        &config.mqtt,
        client_id.clone(),
        Some((status_topic.clone(), b"offline".to_vec())),
    )?;
    let spool_dir = config.spool_dir();
    let spool_config = SpoolConfig {
        dir: spool_dir.clone(),
        budget: config.agent.spool_budget,
        fsync: config.agent.fsync,
        retention: config.agent.spool_retention,
    };
    // Opening verifies every segment: disk work, kept off the runtime's workers.
    let spool = tokio::task::spawn_blocking(move || SpoolHandle::open(spool_config))
        .await?
        .context("agent.spool_dir")?;
    let stats = Arc::new(PublishStats::default());
    let pollers = pollers(&config, &profiles)?;
    let (announce, on_announced) = home_assistant(&config, &pollers, &spool_dir);

    let metrics_task = if config.agent.metrics == "off" {
        None
    } else {
        let addr = config.agent.metrics.parse().context("agent.metrics")?;
        let listener = metrics::bind(addr).await?;
        tracing::info!("metrics on http://{}/metrics", listener.local_addr()?);
        Some(tokio::spawn(metrics::serve(
            listener,
            metrics::Sources {
                health: health.clone(),
                spool: spool.clone(),
                publish: stats.clone(),
            },
        )))
    };

    // Source → spool.
    let (tx, rx) = tokio::sync::mpsc::channel::<DevicePoll>(1024);
    let mut devices = JoinSet::new();
    let rbe = &config.agent.report_by_exception;
    for poller in pollers {
        let filter = rbe
            .enabled
            .then(|| Rbe::new(rbe.clone(), poller.device().interval));
        devices.spawn(device_loop(
            poller,
            config.site.id.clone(),
            health.clone(),
            filter,
            tx.clone(),
        ));
    }
    drop(tx);
    let sparkplug_stats = Arc::new(sparkplug::SparkplugStats::default());
    let (rx, sparkplug) = sparkplug_tee(&config, rx, sparkplug_stats.clone(), health.clone());
    let writer = tokio::spawn(spool_writer(
        rx,
        spool.clone(),
        stats.writer.clone(),
        config.agent.memory_buffer,
    ));

    // Spool → broker.
    let health_payload = {
        let (health, spool, stats, id, sp) = (
            health.clone(),
            spool.clone(),
            stats.clone(),
            client_id.clone(),
            config.agent.sparkplug.enabled.then_some(sparkplug_stats),
        );
        move || {
            let spool_stats = spool.stats();
            serde_json::json!({
                "agent": id,
                "ts": chrono::Utc::now(),
                "published": stats.published.load(std::sync::atomic::Ordering::Relaxed),
                "spool": spool_stats,
                "spool_writer": &*stats.writer,
                "replay": &*stats.replay,
                "devices": health.snapshot(),
                "sparkplug": sp.as_deref(),
            })
            .to_string()
            .into_bytes()
        }
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let broker = connector.describe();
    let publisher = tokio::spawn(publisher(
        PublisherSetup {
            connector,
            status_topic,
            health_topic,
            health: Box::new(health_payload),
            health_interval: config.agent.health_interval,
            window: 256,
            replay: Some(crate::replay::ReplayScope {
                site: config.site.id.clone(),
                devices: config.devices.iter().map(|d| d.id.clone()).collect(),
            }),
            announce,
            on_announced,
            json_data: config.agent.sparkplug.json || !config.agent.sparkplug.enabled,
        },
        spool.clone(),
        stats,
        stop_rx,
        Duration::from_secs(2),
    ));

    tracing::info!(
        site = %config.site.id,
        devices = config.devices.len(),
        %broker,
        spool = %spool_dir.display(),
        "agent running"
    );
    shutdown.await;
    tracing::info!("agent stopping");
    // Stop polling, let the writer spool what was polled, then give the publisher a moment
    // to send it; whatever is left stays in the spool for the next start.
    devices.shutdown().await;
    let _ = writer.await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(4), publisher).await;
    if let Some(edge) = sparkplug {
        let _ = tokio::time::timeout(Duration::from_secs(4), edge).await;
    }
    if let Some(t) = metrics_task {
        t.abort();
    }
    let stats = spool.close().await?;
    tracing::info!(pending = stats.pending, "agent stopped");
    Ok(())
}

/// Home Assistant discovery: what to announce at each connection (including the removal of
/// entities announced before and gone from the site file, or all of them when discovery was
/// turned off) and how to record it once the broker has it.
#[allow(clippy::type_complexity)]
fn home_assistant(
    config: &SiteConfig,
    pollers: &[Poller],
    spool_dir: &std::path::Path,
) -> (Vec<(String, Vec<u8>)>, Option<Box<dyn Fn() + Send + Sync>>) {
    let current = if config.agent.home_assistant.enabled {
        let profiles: Vec<_> = pollers
            .iter()
            .map(|p| (p.device().id.clone(), p.profile().clone()))
            .collect();
        ha_discovery::configs(config, &profiles)
    } else {
        Vec::new()
    };
    let before = ha_discovery::announced(spool_dir);
    let topics: std::collections::BTreeSet<String> =
        current.iter().map(|(t, _)| t.clone()).collect();
    let announce = ha_discovery::announcements(current, &before);
    if announce.is_empty() {
        return (announce, None);
    }
    let dir = spool_dir.to_owned();
    let done = move || match ha_discovery::record(&dir, &topics) {
        Ok(()) => tracing::debug!(
            entities = topics.len(),
            "Home Assistant discovery published"
        ),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), "cannot record the Home Assistant discovery topics: {e}")
        }
    };
    (announce, Some(Box::new(done)))
}

/// With Sparkplug output on: a task between the pollers and the spool writer that hands each
/// poll to the Sparkplug edge node as well, and the edge node's task. Returns the channel the
/// spool writer reads.
fn sparkplug_tee(
    config: &SiteConfig,
    mut rx: tokio::sync::mpsc::Receiver<DevicePoll>,
    stats: Arc<sparkplug::SparkplugStats>,
    health: Health,
) -> (
    tokio::sync::mpsc::Receiver<DevicePoll>,
    Option<tokio::task::JoinHandle<()>>,
) {
    let sp = &config.agent.sparkplug;
    if !sp.enabled {
        return (rx, None);
    }
    let (to_spool, spool_rx) = tokio::sync::mpsc::channel::<DevicePoll>(1024);
    let (to_edge, edge_rx) = tokio::sync::broadcast::channel::<DevicePoll>(4096);
    tokio::spawn(async move {
        while let Some(poll) = rx.recv().await {
            // No receiver (the edge node stopped) is not an error of the spool's.
            let _ = to_edge.send(poll.clone());
            if to_spool.send(poll).await.is_err() {
                return;
            }
        }
    });
    let setup = sparkplug::Setup {
        mqtt: config.mqtt.clone(),
        client_id: format!("{}-sparkplug", config.agent_client_id()),
        group_id: sp.group_id.clone(),
        edge_node_id: sp.edge_node_id.clone().unwrap_or(config.site.id.clone()),
        host_id: sp.host_id.clone(),
        bd_seq_file: config.spool_dir().join("sparkplug-bdseq"),
        health,
    };
    // Ends when the poll channel closes (the pollers stopped): deaths, then disconnect.
    let (_never, stop) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let _keep = _never;
        sparkplug::run(setup, edge_rx, stats, stop).await;
    });
    (spool_rx, Some(task))
}
