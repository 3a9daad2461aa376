//! Source → transform → sink for the gateway: MQTT messages of this site (source) are validated
//! and admitted by [`classify`] (transform) and committed to the store (sink). Each message is
//! acknowledged to the broker only after the transaction holding it committed, so a crash in
//! between makes the broker redelivery it, and the upsert makes that harmless. A message the
//! store cannot take is dead-lettered and acknowledged, never redelivered for ever; holes in a
//! device's poll numbering are tracked by [`sequence`] and asked from the agent again.

pub mod classify;
pub mod sequence;
mod stats;
mod writer;

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use kilowatch_site::config::SiteConfig;
use kilowatch_site::payload::TOPIC_ROOT;
use rumqttc::{AsyncClient, Event, Outgoing, Packet, Publish, QoS};
use tokio::sync::mpsc;

pub use stats::{IngestSnapshot, IngestStats};

/// Health messages larger than this are not parsed (they are a status, a few KB).
const MAX_HEALTH_BYTES: usize = 64 * 1024;

/// QoS 0 messages waiting for the writer at most. QoS 1 ones are bounded by the broker's
/// in-flight window (we acknowledge after the commit); QoS 0 ones are not, so a flood of them
/// beyond this is dropped and counted rather than grown in memory.
const MAX_QOS0_QUEUED: usize = 10_000;

/// The topics this gateway subscribes to: its own site's only.
pub struct Topics {
    pub data: String,
    pub health: String,
    pub reports: String,
}

impl Topics {
    pub fn for_site(config: &SiteConfig) -> Self {
        let site = &config.site.id;
        let data = format!("{TOPIC_ROOT}/{site}/+/data");
        Self {
            // With a share group, instances with the same group split the stream between them.
            data: match &config.gateway.share_group {
                Some(group) => format!("$share/{group}/{data}"),
                None => data,
            },
            health: format!("{TOPIC_ROOT}/{site}/agent/+/health"),
            reports: format!("{TOPIC_ROOT}/{site}/+/replayed"),
        }
    }
}

/// What a received message is, by the shape of its topic.
enum Route {
    Health,
    Report,
    Data,
}

fn route(topic: &str) -> Route {
    let levels: Vec<&str> = topic.split('/').collect();
    match levels.as_slice() {
        [_, _, _, "agent", _, "health"] => Route::Health,
        [_, _, _, _, "replayed"] => Route::Report,
        _ => Route::Data,
    }
}

/// A message for the writer: data to store or an agent's replay report.
pub(crate) enum Message {
    Data(Publish),
    Report(Publish),
}

impl Message {
    fn publish(&self) -> &Publish {
        match self {
            Message::Data(p) | Message::Report(p) => p,
        }
    }
}

/// Consumes the site's MQTT stream into the store until `shutdown` completes.
pub async fn consume(
    config: &SiteConfig,
    store: crate::store::StoreWriter,
    stats: Arc<IngestStats>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    // Same broker settings as the agent: credentials and TLS from the site file's [mqtt].
    let connector =
        kilowatch_site::mqtt::Connector::new(&config.mqtt, config.gateway_client_id(), None)?;
    let mut opts = connector.v4_options();
    opts.set_manual_acks(true);
    opts.set_max_packet_size(
        kilowatch_site::mqtt::MAX_INCOMING_PACKET,
        kilowatch_site::mqtt::MAX_OUTGOING_PACKET,
    );
    let (client, mut eventloop) = AsyncClient::new(opts, 1024);
    // Unbounded for QoS 1: the broker sends no more than its in-flight window of
    // unacknowledged messages, and we acknowledge only after committing. QoS 0: counted below.
    let (tx, rx) = mpsc::unbounded_channel::<Message>();
    let mut writer = writer::Writer::open(config, store, client.clone(), stats.clone()).await?;
    let qos0_queued = writer.qos0_queued.clone();

    let topics = Topics::for_site(config);
    // Gap repair needs the whole stream; instances of a share group each see a part of it.
    let repair = config.gateway.share_group.is_none();
    if !repair {
        tracing::info!("gateway.share_group is set: poll-number gaps are not tracked");
    }
    let broker = config.mqtt.broker.clone();
    let sub_client = client.clone();
    let net_stats = stats.clone();
    let network = tokio::spawn(async move {
        let mut stopping = false;
        // Subscriptions still to make on this connection (a full request queue refuses them
        // for a moment; they are tried again after every event until they are made).
        let mut to_subscribe = false;
        loop {
            if to_subscribe {
                let mut subs = vec![(&topics.data, QoS::AtLeastOnce)];
                // Agent health is a status, not data: QoS 0, not shared, not stored.
                subs.push((&topics.health, QoS::AtMostOnce));
                if repair {
                    subs.push((&topics.reports, QoS::AtLeastOnce));
                }
                to_subscribe = false;
                for (topic, qos) in subs {
                    if let Err(e) = sub_client.try_subscribe(topic, qos) {
                        tracing::warn!(topic, "cannot subscribe yet: {e}; trying again");
                        to_subscribe = true;
                    }
                }
            }
            match eventloop.poll().await {
                Ok(Event::Outgoing(Outgoing::Disconnect)) => stopping = true,
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    tracing::info!(%broker, "gateway connected to MQTT broker");
                    net_stats.connected.store(true, Ordering::Relaxed);
                    to_subscribe = true;
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    net_stats.subscribed.send_replace(true);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let message = match route(&p.topic) {
                        Route::Health => {
                            agent_health(&net_stats, &p);
                            if p.qos != QoS::AtMostOnce {
                                // Not ours to keep, but unacknowledged it would hold a slot of
                                // the broker's in-flight window for ever.
                                let _ = sub_client.try_ack(&p);
                            }
                            continue;
                        }
                        Route::Report => Message::Report(p),
                        Route::Data => Message::Data(p),
                    };
                    if message.publish().qos == QoS::AtMostOnce {
                        if qos0_queued.load(Ordering::Relaxed) >= MAX_QOS0_QUEUED {
                            net_stats.dropped_qos0.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        qos0_queued.fetch_add(1, Ordering::Relaxed);
                    }
                    if tx.send(message).is_err() {
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

    tokio::select! {
        () = shutdown => {}
        () = writer.run(rx) => {}
    }
    let _ = client.try_disconnect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    network.abort();
    Ok(())
}

/// Keeps the latest health message of each agent.
fn agent_health(stats: &IngestStats, p: &Publish) {
    if p.payload.len() > MAX_HEALTH_BYTES {
        tracing::warn!(topic = %p.topic, size = p.payload.len(), "agent health message too large; ignored");
        return;
    }
    match serde_json::from_slice::<serde_json::Value>(&p.payload) {
        Ok(v) => {
            let mut agents = stats.agents.lock().unwrap_or_else(|e| e.into_inner());
            // A cap: the topic's agent level is chosen by whoever publishes.
            if agents.len() < 1000 || agents.contains_key(&p.topic) {
                agents.insert(p.topic.clone(), v);
            }
        }
        Err(e) => tracing::warn!(topic = %p.topic, "unreadable agent health: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_topic_shape() {
        assert!(matches!(
            route("kilowatch/v1/s/agent/a/health"),
            Route::Health
        ));
        assert!(matches!(route("kilowatch/v1/s/d/replayed"), Route::Report));
        assert!(matches!(route("kilowatch/v1/s/d/data"), Route::Data));
        // A device called `agent` is still data.
        assert!(matches!(route("kilowatch/v1/s/agent/data"), Route::Data));
    }
}
