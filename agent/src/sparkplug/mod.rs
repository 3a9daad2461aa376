//! Sparkplug B output: the agent as an edge node with one Sparkplug device per polled device,
//! on its own MQTT connection (its will is the NDEATH, which the JSON connection's status will
//! cannot also be).
//!
//! Sparkplug carries live values: each poll as it is spooled becomes a DDATA (or the device's
//! DBIRTH, with every metric it has shown so far, the first time). While the connection is
//! down nothing is queued; the next session starts with births of the current values. The
//! durable, replayable stream stays the JSON topics and the spool.
//!
//! A device that stops answering (its polls fail) gets a DDEATH; when it answers again, a
//! DBIRTH before its next DDATA.
//!
//! Read-only towards devices: NCMD `Node Control/Rebirth` is honoured; any other NCMD and every
//! DCMD is ignored and counted, undecodable payloads are counted, and nothing reaches a device.

mod payloads;
pub mod proto;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, watch};

use kilowatch_site::config::MqttConfig;
use kilowatch_site::mqtt::{Client, Connector, Event};
use kilowatch_site::payload::{DevicePoll, Reading};
use payloads::Command;

use crate::health::Health;
pub use payloads::{device_message, Aliases, Topics, REBIRTH};

/// Counters for metrics and the health message.
#[derive(Debug, Default, Serialize)]
pub struct SparkplugStats {
    pub connected: AtomicBool,
    pub births: AtomicU64,
    pub data: AtomicU64,
    pub rebirths: AtomicU64,
    /// NCMD other than rebirth, and every DCMD: never acted on.
    pub commands_ignored: AtomicU64,
    /// NCMD or DCMD payloads that are not Sparkplug payloads.
    pub commands_malformed: AtomicU64,
    /// Polls not sent: the connection was down or its queue full.
    pub dropped: AtomicU64,
}

/// What the edge node needs.
pub struct Setup {
    pub mqtt: MqttConfig,
    pub client_id: String,
    pub group_id: String,
    pub edge_node_id: String,
    pub host_id: Option<String>,
    /// Where bdSeq is kept across restarts.
    pub bd_seq_file: PathBuf,
    /// The pollers' record: a device whose last poll failed is offline.
    pub health: Health,
}

/// The latest reading of every quantity of each device: what a DBIRTH carries.
type Current = BTreeMap<String, DevicePoll>;

fn merge(current: &mut Current, poll: &DevicePoll) {
    let entry = current
        .entry(poll.device.clone())
        .or_insert_with(|| DevicePoll {
            readings: Vec::new(),
            ..poll.clone()
        });
    entry.ts = poll.ts;
    let mut by_name: BTreeMap<String, Reading> = entry
        .readings
        .drain(..)
        .map(|r| (r.quantity.to_string(), r))
        .collect();
    for r in &poll.readings {
        by_name.insert(r.quantity.to_string(), r.clone());
    }
    entry.readings = by_name.into_values().collect();
}

/// One session's sequence numbers and births.
struct Session {
    client: Client,
    topics: Topics,
    seq: u8,
    /// Devices born in this session, with the quantities of their birth.
    born: BTreeMap<String, BTreeSet<String>>,
    health: Health,
}

impl Session {
    /// Births, data and device deaths: QoS 0 (Sparkplug 3.0); the NDEATH goes at QoS 1.
    fn send(&mut self, topic: String, body: Vec<u8>, stats: &SparkplugStats) -> bool {
        let ok = self.client.try_publish_at_most_once(&topic, body).is_ok();
        if !ok {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    fn next_seq(&mut self) -> u8 {
        let s = self.seq;
        self.seq = self.seq.wrapping_add(1);
        s
    }

    /// Devices whose last poll failed.
    fn offline(&self) -> BTreeSet<String> {
        self.health
            .snapshot()
            .into_iter()
            .filter(|(_, h)| h.consecutive_failures > 0)
            .map(|(d, _)| d)
            .collect()
    }

    /// DDEATH of each born device that has stopped answering; its next poll rebirths it.
    fn bury_offline(&mut self, stats: &SparkplugStats) {
        for d in self.offline() {
            if self.born.remove(&d).is_some() {
                let seq = self.next_seq();
                self.send(
                    self.topics.device("DDEATH", &d),
                    payloads::ddeath(seq),
                    stats,
                );
            }
        }
    }

    /// NBIRTH (seq 0) and a DBIRTH for every device seen so far that is answering.
    fn birth(
        &mut self,
        bd_seq: u8,
        current: &Current,
        aliases: &mut Aliases,
        stats: &SparkplugStats,
    ) {
        self.seq = 0;
        self.born.clear();
        let seq = self.next_seq();
        debug_assert_eq!(seq, 0);
        self.send(self.topics.node("NBIRTH"), payloads::nbirth(bd_seq), stats);
        stats.births.fetch_add(1, Ordering::Relaxed);
        let offline = self.offline();
        for poll in current.values().filter(|p| !offline.contains(&p.device)) {
            self.device_birth(poll, aliases, stats);
        }
    }

    fn device_birth(&mut self, poll: &DevicePoll, aliases: &mut Aliases, stats: &SparkplugStats) {
        let seq = self.next_seq();
        let body = payloads::device_message(poll, seq, aliases, true);
        self.send(self.topics.device("DBIRTH", &poll.device), body, stats);
        stats.births.fetch_add(1, Ordering::Relaxed);
        let names = poll
            .readings
            .iter()
            .map(|r| r.quantity.to_string())
            .collect();
        self.born.insert(poll.device.clone(), names);
    }

    /// DDATA of `poll`, or the device's (re)birth when it shows a metric its birth did not.
    fn data(
        &mut self,
        poll: &DevicePoll,
        current: &Current,
        aliases: &mut Aliases,
        stats: &SparkplugStats,
    ) {
        let known = self.born.get(&poll.device).is_some_and(|names| {
            poll.readings
                .iter()
                .all(|r| names.contains(r.quantity.as_ref()))
        });
        if !known {
            if let Some(full) = current.get(&poll.device) {
                self.device_birth(full, aliases, stats);
            }
            return;
        }
        let seq = self.next_seq();
        let body = payloads::device_message(poll, seq, aliases, false);
        if self.send(self.topics.device("DDATA", &poll.device), body, stats) {
            stats.data.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// DDEATH of every device, then NDEATH, then disconnect.
    fn die(&mut self, bd_seq: u8, stats: &SparkplugStats) {
        let devices: Vec<String> = self.born.keys().cloned().collect();
        for d in devices {
            let seq = self.next_seq();
            self.send(
                self.topics.device("DDEATH", &d),
                payloads::ddeath(seq),
                stats,
            );
        }
        // At QoS 1, as the will it stands in for.
        let ndeath = self.topics.node("NDEATH");
        if self
            .client
            .try_publish(&ndeath, false, payloads::ndeath(bd_seq))
            .is_err()
        {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.client.try_disconnect();
    }
}

fn load_bd_seq(path: &std::path::Path) -> u8 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Runs the edge node until `stop` turns true.
pub async fn run(
    setup: Setup,
    mut polls: broadcast::Receiver<DevicePoll>,
    stats: Arc<SparkplugStats>,
    mut stop: watch::Receiver<bool>,
) {
    let topics = Topics::new(&setup.group_id, &setup.edge_node_id);
    let ncmd = topics.node("NCMD");
    let dcmd = topics.device("DCMD", "+");
    let dcmd_prefix = dcmd.trim_end_matches('+').to_owned();
    let state = setup.host_id.as_deref().map(Topics::state);
    let mut current = Current::new();
    let mut aliases = Aliases::default();
    let mut bd_seq = load_bd_seq(&setup.bd_seq_file);
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            return;
        }
        let will = Some((topics.node("NDEATH"), payloads::ndeath(bd_seq)));
        let connector = match Connector::new(&setup.mqtt, setup.client_id.clone(), will) {
            Ok(c) => c.sparkplug(),
            Err(e) => {
                tracing::error!("sparkplug: {e:#}");
                return;
            }
        };
        // The will of this connection names this bdSeq; the next connection uses the next.
        let this_bd = bd_seq;
        bd_seq = bd_seq.wrapping_add(1);
        if let Err(e) = std::fs::write(&setup.bd_seq_file, bd_seq.to_string()) {
            tracing::warn!(file = %setup.bd_seq_file.display(), "sparkplug: cannot keep bdSeq: {e}");
        }
        let (client, mut events) = connector.connect(4096, 256);
        let mut session = Session {
            client: client.clone(),
            topics: topics.clone(),
            seq: 0,
            born: BTreeMap::new(),
            health: setup.health.clone(),
        };
        for filter in [Some(&ncmd), Some(&dcmd), state.as_ref()]
            .into_iter()
            .flatten()
        {
            let _ = client.subscribe(filter).await;
        }
        let mut connected = false;
        let mut check = tokio::time::interval(Duration::from_secs(1));
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // Without a primary host, births go out at once; with one, when it is online.
        let mut host_online = state.is_none();
        let mut alive = false;
        let lost = loop {
            tokio::select! {
                ev = events.next() => match ev {
                    Ok(Event::Connected) => {
                        connected = true;
                        failures = 0;
                        stats.connected.store(true, Ordering::Relaxed);
                        if host_online && !alive {
                            session.birth(this_bd, &current, &mut aliases, &stats);
                            alive = true;
                        }
                    }
                    Ok(Event::Message { topic, payload }) => {
                        if Some(&topic) == state.as_ref() {
                            match payloads::host_online(&payload) {
                                Some(true) if !alive => {
                                    host_online = true;
                                    session.birth(this_bd, &current, &mut aliases, &stats);
                                    alive = true;
                                }
                                Some(false) if alive => {
                                    // The primary host went away: die and come back with
                                    // the next bdSeq once it is online again.
                                    tracing::info!("sparkplug: primary host offline; reconnecting");
                                    session.die(this_bd, &stats);
                                    break false;
                                }
                                Some(online) => host_online = online,
                                None => { stats.commands_malformed.fetch_add(1, Ordering::Relaxed); }
                            }
                        } else if topic == ncmd {
                            match payloads::node_command(&payload) {
                                Ok(Command::Rebirth) if alive => {
                                    stats.rebirths.fetch_add(1, Ordering::Relaxed);
                                    session.birth(this_bd, &current, &mut aliases, &stats);
                                }
                                Ok(_) => { stats.commands_ignored.fetch_add(1, Ordering::Relaxed); }
                                Err(_) => { stats.commands_malformed.fetch_add(1, Ordering::Relaxed); }
                            }
                        } else if topic.starts_with(&dcmd_prefix) {
                            // Never written to a device.
                            match <proto::Payload as prost::Message>::decode(payload.as_slice()) {
                                Ok(_) => stats.commands_ignored.fetch_add(1, Ordering::Relaxed),
                                Err(_) => stats.commands_malformed.fetch_add(1, Ordering::Relaxed),
                            };
                        }
                    }
                    Ok(Event::Disconnected) => break false,
                    Ok(_) => {}
                    Err(e) => {
                        if connected || failures == 0 {
                            tracing::warn!("sparkplug: MQTT connection: {}", e.message);
                        }
                        break true;
                    }
                },
                p = polls.recv() => match p {
                    Ok(poll) => {
                        merge(&mut current, &poll);
                        if alive {
                            session.data(&poll, &current, &mut aliases, &stats);
                        } else {
                            stats.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        stats.dropped.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        if alive { session.die(this_bd, &stats); }
                        drain(&mut events).await;
                        stats.connected.store(false, Ordering::Relaxed);
                        return;
                    }
                },
                // Only once alive: a tick that cancelled `events.next()` while it was still
                // connecting would drop the half-open connection (and fire the will).
                _ = check.tick(), if alive => session.bury_offline(&stats),
                _ = stop.changed() => {
                    if alive { session.die(this_bd, &stats); }
                    drain(&mut events).await;
                    stats.connected.store(false, Ordering::Relaxed);
                    return;
                }
            }
        };
        stats.connected.store(false, Ordering::Relaxed);
        if lost {
            failures += 1;
        }
        drain(&mut events).await;
        let wait = Duration::from_millis(500 * u64::from(failures.clamp(1, 10)));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Lets the event loop send what is queued (deaths, the disconnect), for at most two seconds.
async fn drain(events: &mut kilowatch_site::mqtt::Events) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(ev) = events.next().await {
            if ev == Event::Disconnected {
                break;
            }
        }
    })
    .await;
}
