//! Source → transform → sink for the gateway: MQTT messages (source) are validated against the
//! shared payload schema (transform) and committed to the store (sink). Each message is
//! acknowledged to the broker only after the transaction holding it committed, so a crash in
//! between makes the broker redeliver it, and the upsert makes that harmless.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use kilowatch_agent::config::SiteConfig;
use kilowatch_agent::payload::{DevicePoll, AGENT_HEALTH_SUBSCRIPTION, DATA_SUBSCRIPTION};
use rumqttc::{AsyncClient, Event, Outgoing, Packet, Publish, QoS};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::store::{DeadLetter, Incoming, Store};

/// Counters shown by `/api/v1/health`.
#[derive(Debug, Default)]
pub struct IngestStats {
    /// Set once the broker confirmed the subscription: from then on the persistent session
    /// keeps every reading for us.
    pub subscribed: tokio::sync::watch::Sender<bool>,
    pub messages: AtomicU64,
    pub stored_samples: AtomicU64,
    pub rejected: AtomicU64,
    pub store_errors: AtomicU64,
    pub connected: std::sync::atomic::AtomicBool,
    /// The latest health message of each agent (spool backlog, device errors), by topic.
    pub agents: std::sync::Mutex<std::collections::BTreeMap<String, serde_json::Value>>,
}

#[derive(Serialize)]
pub struct IngestSnapshot {
    pub mqtt_connected: bool,
    /// The broker confirmed the data subscription: readings published from now on are kept
    /// for the gateway even while it is away (persistent session).
    pub mqtt_subscribed: bool,
    pub messages: u64,
    pub stored_samples: u64,
    pub rejected: u64,
    pub store_errors: u64,
}

impl IngestStats {
    /// The agents' latest health messages.
    pub fn agents(&self) -> Vec<serde_json::Value> {
        self.agents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn snapshot(&self) -> IngestSnapshot {
        IngestSnapshot {
            mqtt_connected: self.connected.load(Ordering::Relaxed),
            mqtt_subscribed: *self.subscribed.borrow(),
            messages: self.messages.load(Ordering::Relaxed),
            stored_samples: self.stored_samples.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            store_errors: self.store_errors.load(Ordering::Relaxed),
        }
    }
}

/// Turns one MQTT message into something storable: a validated poll or a dead letter.
pub fn classify(publish: &Publish) -> Incoming {
    let now = Utc::now();
    let dead = |reason: String| {
        Incoming::Dead(DeadLetter {
            received: now,
            topic: publish.topic.clone(),
            reason,
            payload: publish.payload.to_vec(),
        })
    };
    match DevicePoll::parse(&publish.payload, now) {
        Ok(poll) => {
            // The topic names site and device; a payload claiming another is not trusted.
            let expected = kilowatch_agent::payload::data_topic(&poll.site, &poll.device);
            if publish.topic == expected {
                Incoming::Poll(poll)
            } else {
                dead(format!(
                    "payload is for {}/{} but arrived on {}",
                    poll.site, poll.device, publish.topic
                ))
            }
        }
        Err(e) => dead(e.to_string()),
    }
}

/// Consumes the site's MQTT stream into the store until `shutdown` completes.
pub async fn consume(
    config: &SiteConfig,
    db: PathBuf,
    stats: Arc<IngestStats>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    // Same broker settings as the agent: credentials and TLS from the site file's [mqtt].
    let connector =
        kilowatch_agent::mqtt::Connector::new(&config.mqtt, config.gateway_client_id(), None)?;
    let mut opts = connector.v4_options();
    opts.set_manual_acks(true);
    let (client, mut eventloop) = AsyncClient::new(opts, 1024);
    // Unbounded is bounded in practice: the broker sends no more than its in-flight window of
    // unacknowledged QoS 1 messages, and we acknowledge only after committing.
    let (tx, mut rx) = mpsc::unbounded_channel::<Publish>();
    let mut store = Store::open(&db)?.with_settings(crate::store::StoreSettings::for_site(
        config,
        &kilowatch_agent::profile::ProfileLibrary::builtin(),
    ));

    // With a share group, instances with the same group split the stream between them.
    let subscription = match &config.gateway.share_group {
        Some(group) => format!("$share/{group}/{DATA_SUBSCRIPTION}"),
        None => DATA_SUBSCRIPTION.to_owned(),
    };
    let broker = config.mqtt.broker.clone();
    let sub_client = client.clone();
    let net_stats = stats.clone();
    let network = tokio::spawn(async move {
        let mut stopping = false;
        loop {
            match eventloop.poll().await {
                Ok(Event::Outgoing(Outgoing::Disconnect)) => stopping = true,
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    tracing::info!(%broker, "gateway connected to MQTT broker");
                    net_stats.connected.store(true, Ordering::Relaxed);
                    if let Err(e) = sub_client.try_subscribe(&subscription, QoS::AtLeastOnce) {
                        tracing::error!("cannot subscribe: {e}");
                    }
                    // Agent health is a status, not data: QoS 0, not shared, not stored.
                    if let Err(e) =
                        sub_client.try_subscribe(AGENT_HEALTH_SUBSCRIPTION, QoS::AtMostOnce)
                    {
                        tracing::error!("cannot subscribe to agent health: {e}");
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    net_stats.subscribed.send_replace(true);
                }
                Ok(Event::Incoming(Packet::Publish(p))) if p.topic.ends_with("/health") => {
                    match serde_json::from_slice::<serde_json::Value>(&p.payload) {
                        Ok(v) => {
                            net_stats
                                .agents
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .insert(p.topic.clone(), v);
                        }
                        Err(e) => tracing::warn!(topic = %p.topic, "unreadable agent health: {e}"),
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send(p).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) if stopping => break,
                Err(e) => {
                    if net_stats.connected.swap(false, Ordering::Relaxed) {
                        tracing::warn!(%broker, "MQTT connection lost: {e}; retrying");
                    } else {
                        tracing::debug!(%broker, "MQTT connect failed: {e}; retrying");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });

    let writer = async {
        while let Some(first) = rx.recv().await {
            let mut publishes = vec![first];
            // Take whatever else is already waiting: batches grow with the load.
            while publishes.len() < 5000 {
                match rx.try_recv() {
                    Ok(p) => publishes.push(p),
                    Err(_) => break,
                }
            }
            let batch: Vec<Incoming> = publishes.iter().map(classify).collect();
            for item in &batch {
                if let Incoming::Dead(d) = item {
                    tracing::warn!(topic = %d.topic, "rejected message: {}", d.reason);
                }
            }
            // Retry the commit: acknowledging without it would lose the readings.
            let mut attempt = 0u32;
            let written = loop {
                match tokio::task::block_in_place(|| store.write(&batch)) {
                    Ok(w) => break w,
                    Err(e) => {
                        stats.store_errors.fetch_add(1, Ordering::Relaxed);
                        attempt += 1;
                        tracing::error!("store write failed (attempt {attempt}): {e}");
                        tokio::time::sleep(
                            Duration::from_millis(500).saturating_mul(attempt.min(20)),
                        )
                        .await;
                    }
                }
            };
            stats
                .messages
                .fetch_add(publishes.len() as u64, Ordering::Relaxed);
            stats
                .stored_samples
                .fetch_add(written.samples as u64, Ordering::Relaxed);
            stats
                .rejected
                .fetch_add(written.dead as u64, Ordering::Relaxed);
            for p in &publishes {
                if let Err(e) = client.ack(p).await {
                    tracing::warn!("cannot acknowledge message: {e}");
                }
            }
        }
    };

    tokio::select! {
        () = shutdown => {}
        () = writer => {}
    }
    let _ = client.try_disconnect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    network.abort();
    Ok(())
}
