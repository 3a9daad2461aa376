//! The agent pipeline: poll (source) → payload (transform) → MQTT publish (sink), one task per
//! device plus the MQTT event loop on its own task, so a slow broker never stalls the network
//! I/O that would let it recover.

use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Outgoing, Packet, QoS};
use tokio::task::JoinSet;

use crate::config::{SiteConfig, Transport};
use crate::health::Health;
use crate::payload::{self, DevicePoll, SCHEMA_VERSION};
use crate::poll::{Bus, Poller};
use crate::profile::ProfileLibrary;
use crate::schedule::{backoff, Schedule};

/// Splits `host:port`.
pub fn host_port(addr: &str) -> anyhow::Result<(String, u16)> {
    let (host, port) = addr
        .rsplit_once(':')
        .with_context(|| format!("`{addr}` is not host:port"))?;
    let port = port
        .parse()
        .with_context(|| format!("`{addr}`: bad port"))?;
    Ok((host.trim_matches(['[', ']']).to_owned(), port))
}

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
            let profile = profiles
                .get(&device.profile)
                .with_context(|| format!("unknown profile {}", device.profile))?
                .for_device(&device.channels)
                .map_err(|e| anyhow::anyhow!("device {}: {e}", device.id))?;
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
    let (host, port) = host_port(&config.mqtt.broker).context("mqtt.broker")?;
    let client_id = config.agent_client_id();
    let status_topic = payload::agent_status_topic(&config.site.id, &client_id);
    let mut opts = MqttOptions::new(client_id.clone(), host, port);
    opts.set_keep_alive(Duration::from_secs(15))
        // Persistent session: the broker keeps our unacknowledged QoS 1 state across reconnects.
        .set_clean_session(false)
        .set_last_will(LastWill::new(
            &status_topic,
            "offline",
            QoS::AtLeastOnce,
            true,
        ));
    let (client, mut eventloop) = AsyncClient::new(opts, 1024);

    let mut tasks = JoinSet::new();
    {
        let client = client.clone();
        let status_topic = status_topic.clone();
        let broker = config.mqtt.broker.clone();
        tasks.spawn(async move {
            let mut connected = false;
            let mut stopping = false;
            loop {
                match eventloop.poll().await {
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => stopping = true,
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        tracing::info!(%broker, "connected to MQTT broker");
                        connected = true;
                        // try_publish: this task must never wait on its own request queue.
                        if let Err(e) =
                            client.try_publish(&status_topic, QoS::AtLeastOnce, true, "online")
                        {
                            tracing::warn!("cannot queue online status: {e}");
                        }
                    }
                    Ok(_) => {}
                    Err(_) if stopping => break,
                    Err(e) => {
                        if connected {
                            tracing::warn!(%broker, "MQTT connection lost: {e}; retrying");
                        } else {
                            tracing::debug!(%broker, "MQTT connect failed: {e}; retrying");
                        }
                        connected = false;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }

    for mut poller in pollers(&config, &profiles)? {
        let client = client.clone();
        let site = config.site.id.clone();
        let health = health.clone();
        tasks.spawn(async move {
            let device = poller.device().clone();
            let topic = payload::data_topic(&site, &device.id);
            let mut schedule = Schedule::new(tokio::time::Instant::now(), device.interval);
            let mut seq = 0u64;
            let mut failures = 0u32;
            loop {
                tokio::time::sleep_until(schedule.due()).await;
                let ts = Utc::now();
                match poller.poll().await {
                    Ok(outcome) => {
                        if failures > 0 {
                            tracing::info!(device = %device.id, "device answers again");
                        }
                        failures = 0;
                        health.ok(&device.id, outcome.latency, outcome.exceptions);
                        seq += 1;
                        let msg = DevicePoll {
                            version: SCHEMA_VERSION,
                            site: site.clone(),
                            device: device.id.clone(),
                            seq,
                            ts,
                            readings: outcome.readings,
                        };
                        if let Err(e) = client
                            .publish(&topic, QoS::AtLeastOnce, false, msg.to_json())
                            .await
                        {
                            tracing::error!(device = %device.id, "cannot queue reading: {e}");
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        if failures == 1 {
                            tracing::warn!(device = %device.id, "poll failed: {e}");
                        } else {
                            tracing::debug!(device = %device.id, failures, "poll failed: {e}");
                        }
                        health.failed(&device.id, e.kind(), e.to_string());
                    }
                }
                let hold = backoff(failures, device.interval);
                let (missed, held) = schedule.advance(tokio::time::Instant::now(), hold);
                if missed > 0 || held > 0 {
                    health.update(&device.id, |h| {
                        h.missed_polls += missed;
                        h.backoff_skips += held;
                    });
                }
            }
        });
    }

    tracing::info!(
        site = %config.site.id,
        devices = config.devices.len(),
        broker = %config.mqtt.broker,
        "agent running"
    );
    shutdown.await;
    tracing::info!("agent stopping");
    let _ = client
        .try_publish(&status_topic, QoS::AtLeastOnce, true, "offline")
        .map_err(|e| tracing::debug!("offline status not queued: {e}"));
    // Give the event loop a moment to flush the status and in-flight readings.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = client.try_disconnect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    tasks.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_host_and_port() {
        assert_eq!(
            host_port("127.0.0.1:1883").unwrap(),
            ("127.0.0.1".into(), 1883)
        );
        assert_eq!(host_port("[::1]:1883").unwrap(), ("::1".into(), 1883));
        assert!(host_port("broker").is_err());
        assert!(host_port("broker:mqtt").is_err());
    }
}
