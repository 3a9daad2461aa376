//! Store-and-forward: the publisher (disk → broker); the spool writer (poll → disk) is in
//! [`crate::writer`].
//!
//! The publisher drives one rumqttc event loop per connection on its own task and feeds it from a
//! second task that only awaits queue space, so the event loop is never blocked behind its own
//! request queue (rumqttc deadlocks when the task that polls the event loop also awaits
//! `publish`). A publish leaves the spool only when the broker's PUBACK for its packet id
//! arrives. Packet ids are matched to spool records in the order publishes leave the event loop;
//! after any connection loss the event loop is dropped and everything unacknowledged is sent
//! again from the spool, oldest first (at-least-once; the gateway's upsert makes replays
//! harmless).
//!
//! The same connection carries replay requests from the gateway (see [`crate::replay`]): a
//! third task answers them, publishing through the same [`Outbox`] so packet ids still match.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Semaphore};

use crate::outbox::{Item, Outbox};
use crate::replay::{self, ReplayScope, ReplayStats};
use crate::spool::{Record, SpoolHandle};
pub use crate::writer::spool_writer;
use crate::writer::WriterStats;
use kilowatch_site::mqtt::{Client, Connector, Event};

/// Most records asked of the spool at once.
const NEXT_BATCH: usize = 256;

/// Publisher counters for metrics and the health topic.
#[derive(Debug, Default)]
pub struct PublishStats {
    pub connected: AtomicBool,
    pub published: AtomicU64,
    pub connects: AtomicU64,
    pub connection_errors: AtomicU64,
    pub writer: Arc<WriterStats>,
    pub replay: Arc<ReplayStats>,
}

/// What the publisher needs besides the spool.
pub struct PublisherSetup {
    pub connector: Connector,
    pub status_topic: String,
    pub health_topic: String,
    /// Builds the health payload each time it is published.
    pub health: Box<dyn Fn() -> Vec<u8> + Send + Sync>,
    pub health_interval: Duration,
    /// Unacknowledged publishes in flight at once.
    pub window: usize,
    /// Answer replay requests for these devices (None: do not subscribe to them).
    pub replay: Option<ReplayScope>,
    /// Retained messages published at each connection after the status (Home Assistant
    /// discovery configs and the empty payloads that remove gone ones).
    pub announce: Vec<(String, Vec<u8>)>,
    /// Called once the broker acknowledged every `announce` message of a connection.
    pub on_announced: Option<Box<dyn Fn() + Send + Sync>>,
    /// Publish spooled polls on their data topics; false retires them unpublished (Sparkplug
    /// output instead of JSON).
    pub json_data: bool,
}

/// Publishes spooled readings until `stop` turns true, then drains for up to `drain` and
/// disconnects, leaving `offline` as the retained status.
pub async fn publisher(
    setup: PublisherSetup,
    spool: SpoolHandle,
    stats: Arc<PublishStats>,
    mut stop: watch::Receiver<bool>,
    drain: Duration,
) {
    let setup = Arc::new(setup);
    let broker = setup.connector.describe();
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            return;
        }
        let (client, mut events) = setup
            .connector
            .connect(setup.window * 2 + 16, (setup.window + 16) as u16);
        spool.rewind();
        // Wait for the broker to accept the session.
        let connected = tokio::select! {
            r = async {
                loop {
                    match events.next().await {
                        Ok(Event::Connected) => return Ok(()),
                        Ok(_) => continue,
                        Err(e) => return Err(e),
                    }
                }
            } => r,
            _ = stop.changed() => return,
        };
        if let Err(e) = connected {
            failures += 1;
            stats.connection_errors.fetch_add(1, Ordering::Relaxed);
            if e.refused {
                // Wrong credentials or not authorised: say so every time, loudly.
                tracing::error!(broker = %broker, "{}", e.message);
            } else if failures == 1 {
                tracing::warn!(broker = %broker, "cannot reach the MQTT broker: {}; readings are spooled meanwhile", e.message);
            } else {
                tracing::debug!(broker = %broker, failures, "MQTT connect failed: {}", e.message);
            }
            let wait = Duration::from_millis(500 * u64::from(failures.min(10)));
            tokio::select! {
                () = tokio::time::sleep(wait) => continue,
                _ = stop.changed() => return,
            }
        }
        failures = 0;
        stats.connects.fetch_add(1, Ordering::Relaxed);
        stats.connected.store(true, Ordering::Relaxed);
        tracing::info!(broker = %broker, pending = spool.stats().pending, "connected to MQTT broker");

        let outbox: Arc<Outbox> = Arc::default();
        let permits = Arc::new(Semaphore::new(setup.window));
        let feeder = tokio::spawn(feed(
            setup.clone(),
            client.clone(),
            spool.clone(),
            outbox.clone(),
            permits.clone(),
        ));
        let replay_permits = Arc::new(Semaphore::new(replay::WINDOW));
        let (replay_tx, replay_rx) = mpsc::channel(replay::QUEUE);
        let replayer = setup.replay.clone().map(|scope| {
            tokio::spawn(replay::serve(
                scope,
                client.clone(),
                spool.clone(),
                outbox.clone(),
                replay_permits.clone(),
                stats.replay.clone(),
                replay_rx,
            ))
        });
        let mut inflight: HashMap<u16, Item> = HashMap::new();
        let mut announced = 0usize;
        let mut stopping: Option<tokio::time::Instant> = None;
        let mut disconnecting = false;
        let lost = loop {
            if let Some(deadline) = stopping {
                let done = spool.stats().pending == 0;
                if !disconnecting && (done || tokio::time::Instant::now() >= deadline) {
                    feeder.abort();
                    let _ = client.try_publish(&setup.status_topic, true, b"offline".to_vec());
                    client.try_disconnect();
                    disconnecting = true;
                }
            }
            let ev = tokio::select! {
                ev = events.next() => ev,
                _ = stop.changed(), if stopping.is_none() => {
                    stopping = Some(tokio::time::Instant::now() + drain);
                    continue;
                }
                () = tokio::time::sleep(Duration::from_millis(100)), if stopping.is_some() => continue,
            };
            match ev {
                Ok(Event::Sent(pkid)) => {
                    let item = outbox.sent().unwrap_or(Item::Control);
                    inflight.insert(pkid, item);
                }
                Ok(Event::Acked(pkid)) => match inflight.remove(&pkid) {
                    Some(Item::Record(id)) => {
                        // Never waits: the spool's owner records it (and says when it cannot).
                        spool.ack(id);
                        stats.published.fetch_add(1, Ordering::Relaxed);
                        permits.add_permits(1);
                    }
                    Some(Item::Replay) => replay_permits.add_permits(1),
                    Some(Item::Announce) => {
                        announced += 1;
                        if announced == setup.announce.len() {
                            if let Some(done) = &setup.on_announced {
                                done();
                            }
                        }
                    }
                    Some(Item::Control) | None => {}
                },
                Ok(Event::Subscribed) => stats.replay.subscribed.store(true, Ordering::Relaxed),
                Ok(Event::Message { topic, payload }) => {
                    // Never wait here: this task drives the event loop.
                    if replay_tx.try_send((topic, payload)).is_err() {
                        stats.replay.dropped.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!("replay requests arrive faster than they are served; one dropped (the gateway asks again)");
                    }
                }
                Ok(Event::Disconnected) => break None,
                Ok(_) => {}
                Err(e) if disconnecting => {
                    tracing::debug!("MQTT event loop ended: {}", e.message);
                    break None;
                }
                Err(e) => break Some(e),
            }
        };
        feeder.abort();
        if let Some(r) = replayer {
            r.abort();
        }
        stats.connected.store(false, Ordering::Relaxed);
        stats.replay.subscribed.store(false, Ordering::Relaxed);
        match lost {
            None => {
                if let Err(e) = spool.save_cursor().await {
                    tracing::error!("{e}");
                }
                return;
            }
            Some(e) => {
                stats.connection_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(broker = %broker, unacknowledged = inflight.len(),
                    "MQTT connection lost: {}; unacknowledged readings will be sent again", e.message);
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }
}

/// Hands spooled records to the client, at most `window` unacknowledged at a time, plus the
/// retained `online` status and the periodic health message.
async fn feed(
    setup: Arc<PublisherSetup>,
    client: Client,
    spool: SpoolHandle,
    outbox: Arc<Outbox>,
    permits: Arc<Semaphore>,
) {
    if outbox
        .publish(
            &client,
            &setup.status_topic,
            true,
            b"online".to_vec(),
            Item::Control,
        )
        .await
        .is_err()
    {
        return;
    }
    for (topic, body) in &setup.announce {
        if outbox
            .publish(&client, topic, true, body.clone(), Item::Announce)
            .await
            .is_err()
        {
            return;
        }
    }
    let mut health = tokio::time::interval(setup.health_interval);
    health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Records taken from the spool and not yet published: fetched a batch at a time so the
    // spool's owner is asked once per batch, not once per window slot that frees up.
    let mut ready: VecDeque<Record> = VecDeque::new();
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        permit.forget();
        while ready.is_empty() {
            match spool.next_batch(NEXT_BATCH).await {
                Ok(records) if !records.is_empty() => {
                    ready.extend(records);
                    break;
                }
                Ok(_) => {}
                Err(e) => tracing::error!("spool: {e}"),
            }
            tokio::select! {
                () = spool.appended() => {}
                _ = health.tick() => {
                    if outbox.publish(&client, &setup.health_topic, true, (setup.health)(), Item::Control).await.is_err() {
                        return;
                    }
                }
            }
        }
        let Some(record) = ready.pop_front() else {
            permits.add_permits(1);
            continue;
        };
        if !setup.json_data {
            // Retired as if published: it stays in the spool for its retention.
            spool.ack(record.id);
            permits.add_permits(1);
            continue;
        }
        if outbox
            .publish(
                &client,
                &record.topic,
                false,
                record.body,
                Item::Record(record.id),
            )
            .await
            .is_err()
        {
            return;
        }
    }
}
