//! The hub's MQTT side: a shared subscription to every site's records; each message is
//! acknowledged only after the transaction holding it committed, so the messages a killed
//! instance had not stored are redelivered (to it when it comes back under the same client
//! id, whose session the broker keeps). A message that is not a record is kept in `rejected`
//! and acknowledged, never redelivered for ever. A failing database holds the batch and
//! retries it; the broker's in-flight window stops the flow meanwhile.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use rumqttc::{AsyncClient, Event, Packet, Publish, QoS};
use tokio::sync::mpsc;

use super::config::HubFile;
use super::pg::records::{self, Rejected};
use super::wire;

/// Bytes of a rejected message kept.
const REJECTED_BYTES: usize = 64 * 1024;

/// Counters, for logs and the API.
#[derive(Debug, Default)]
pub struct HubStats {
    pub connected: AtomicBool,
    pub received: AtomicU64,
    pub stored: AtomicU64,
    pub rejected: AtomicU64,
    pub failed_commits: AtomicU64,
}

/// A message and the connection it came on: an acknowledgement goes only to that connection
/// (after a reconnect the broker redelivers what was not acknowledged, and a packet id of the
/// old connection may name another message on the new one).
struct Received {
    generation: u64,
    publish: Publish,
}

/// Receives and stores records until `shutdown` completes.
pub async fn run(
    cfg: &HubFile,
    client_id: String,
    pool: Pool,
    stats: Arc<HubStats>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let connector = kilowatch_site::mqtt::Connector::new(&cfg.mqtt, client_id.clone(), None)?;
    let mut opts = connector.v4_options();
    opts.set_manual_acks(true);
    let (client, mut eventloop) = AsyncClient::new(opts, 1024);
    let (tx, mut rx) = mpsc::unbounded_channel::<Received>();
    let generation = Arc::new(AtomicU64::new(0));
    let filter = cfg.filter();
    tracing::info!(broker = %connector.describe(), %client_id, %filter, "hub subscribing");
    let network = {
        let (client, generation, stats) = (client.clone(), generation.clone(), stats.clone());
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        generation.fetch_add(1, Ordering::SeqCst);
                        stats.connected.store(true, Ordering::Relaxed);
                        tracing::info!("hub connected to the broker");
                        if let Err(e) = client.try_subscribe(&filter, QoS::AtLeastOnce) {
                            tracing::error!("cannot subscribe to {filter}: {e}");
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        tracing::info!(%filter, "hub subscribed");
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        stats.received.fetch_add(1, Ordering::Relaxed);
                        let generation = generation.load(Ordering::SeqCst);
                        if tx
                            .send(Received {
                                generation,
                                publish: p,
                            })
                            .is_err()
                        {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if stats.connected.swap(false, Ordering::Relaxed) {
                            tracing::warn!("hub lost the broker: {e}; reconnecting");
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        })
    };
    let batch = cfg.hub.batch;
    let prefix = cfg.hub.topic_prefix.clone();
    let work = async {
        let mut buf = Vec::with_capacity(batch);
        while rx.recv_many(&mut buf, batch).await > 0 {
            let messages = std::mem::take(&mut buf);
            store_batch(&pool, &prefix, &messages, &stats).await;
            let current = generation.load(Ordering::SeqCst);
            for m in &messages {
                if m.generation == current && m.publish.qos != QoS::AtMostOnce {
                    let _ = client.ack(&m.publish).await;
                }
            }
        }
    };
    tokio::select! {
        () = shutdown => {}
        () = work => {}
    }
    let _ = client.try_disconnect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    network.abort();
    Ok(())
}

/// Stores one batch, retrying until the database takes it.
async fn store_batch(pool: &Pool, prefix: &str, messages: &[Received], stats: &HubStats) {
    let mut good = Vec::with_capacity(messages.len());
    let mut bad: Vec<Rejected> = Vec::new();
    for m in messages {
        let p = &m.publish;
        match wire::parse(prefix, &p.topic, &p.payload) {
            Ok(r) => good.push(r),
            Err(e) => {
                tracing::warn!(topic = %p.topic, "not a hub record: {e}");
                let keep = &p.payload[..p.payload.len().min(REJECTED_BYTES)];
                bad.push((p.topic.clone(), e.to_string(), keep.to_vec()));
            }
        }
    }
    let mut failures = 0u32;
    loop {
        let result = match pool.get().await {
            Ok(mut client) => records::store(&mut client, &mut good, &bad)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(_) => {
                stats.stored.fetch_add(good.len() as u64, Ordering::Relaxed);
                stats
                    .rejected
                    .fetch_add(bad.len() as u64, Ordering::Relaxed);
                if failures > 0 {
                    tracing::info!("the database takes records again");
                }
                return;
            }
            Err(e) => {
                failures += 1;
                stats.failed_commits.fetch_add(1, Ordering::Relaxed);
                if failures == 1 {
                    tracing::warn!("cannot store {} records: {e}; retrying", good.len());
                }
                let wait =
                    Duration::from_millis(200u64 << failures.min(7)).min(Duration::from_secs(20));
                tokio::time::sleep(wait).await;
            }
        }
    }
}
