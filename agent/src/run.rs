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
use crate::health::Health;
use crate::metrics;
use crate::poll::{Bus, Poller};
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
    for poller in pollers {
        devices.spawn(device_loop(
            poller,
            config.site.id.clone(),
            health.clone(),
            tx.clone(),
        ));
    }
    drop(tx);
    let writer = tokio::spawn(spool_writer(
        rx,
        spool.clone(),
        stats.writer.clone(),
        config.agent.memory_buffer,
    ));

    // Spool → broker.
    let health_payload = {
        let (health, spool, stats, id) = (
            health.clone(),
            spool.clone(),
            stats.clone(),
            client_id.clone(),
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
    if let Some(t) = metrics_task {
        t.abort();
    }
    let stats = spool.close().await?;
    tracing::info!(pending = stats.pending, "agent stopped");
    Ok(())
}
