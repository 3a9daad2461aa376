//! Site → hub: the gateway's records for a portfolio hub (see `store/hub_outbox.rs`), sent
//! from the outbox with QoS 1 to `<prefix>/<site>/<kind>` on the site broker (bridged out) or
//! on a central broker (`[hub.mqtt]`). A row is marked sent only when the broker acknowledged
//! its version; whatever was in flight at a crash or a lost connection is sent again from the
//! outbox, and the hub's upsert makes the duplicate harmless. Outbound connections only.

mod completeness;
pub(crate) mod guarantee;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kilowatch_site::config::{HubConfig, HubKind, SiteConfig};
use kilowatch_site::mqtt::{Connector, Event};
use serde::Serialize;
use tokio::sync::watch;

use crate::hub::wire::{self, Record, WIRE_VERSION};
use crate::store::{HubRow, HubTriggers, StoreWriter};

/// Counters for `/api/v1/health`.
#[derive(Debug, Default)]
pub struct UplinkStats {
    pub connected: AtomicBool,
    pub published: AtomicU64,
    pub acknowledged: AtomicU64,
    pub pending: AtomicU64,
}

#[derive(Serialize)]
pub struct UplinkSnapshot {
    pub connected: bool,
    pub published: u64,
    pub acknowledged: u64,
    pub pending: u64,
}

impl UplinkStats {
    pub fn snapshot(&self) -> UplinkSnapshot {
        UplinkSnapshot {
            connected: self.connected.load(Ordering::Relaxed),
            published: self.published.load(Ordering::Relaxed),
            acknowledged: self.acknowledged.load(Ordering::Relaxed),
            pending: self.pending.load(Ordering::Relaxed),
        }
    }
}

/// Makes (or, without `[hub]`, drops) the outbox triggers; called at every start.
pub async fn prepare(config: &SiteConfig, store: &StoreWriter) -> anyhow::Result<()> {
    let triggers = config.hub.as_ref().map(|h| HubTriggers {
        rollups: h.forwards(HubKind::Rollup),
        enpi: h.forwards(HubKind::Enpi),
        alarms: h.forwards(HubKind::Alarm),
        savings: h.forwards(HubKind::Savings),
        from_ms: chrono::Utc::now().timestamp_millis() - h.backfill.as_millis() as i64,
        settle_ms: h.settle.as_millis() as i64,
    });
    store
        .call(move |s| s.hub_forwarding(triggers.as_ref()))
        .await?;
    Ok(())
}

/// Sent rows are forgotten this long after they were due.
const KEEP_SENT_MS: i64 = 2 * 86_400_000;

/// (kind, key, version) of a published row.
type Sent = (String, String, i64);

/// Sends the outbox to the hub's broker until `stop` turns true.
pub async fn forward(
    config: SiteConfig,
    store: StoreWriter,
    stats: Arc<UplinkStats>,
    plans: Vec<crate::mv::plan::Plan>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let Some(hub) = config.hub.clone() else {
        return Ok(());
    };
    let mqtt = hub.mqtt.clone().unwrap_or_else(|| config.mqtt.clone());
    let connector = Connector::new(&mqtt, config.uplink_client_id(), None)?;
    tracing::info!(broker = %connector.describe(), prefix = %hub.topic_prefix, "forwarding to the portfolio hub");
    let mut link = Link {
        hub,
        site: config.site.id.clone(),
        tz: config.timezone(),
        devices: config.devices.iter().map(|d| d.id.clone()).collect(),
        plans: Arc::new(plans),
        store,
        stats,
        next_completeness: Instant::now(),
        next_guarantee: Instant::now(),
        next_purge: Instant::now(),
    };
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        match link.session(&connector, &mut stop).await? {
            Session::Stopped => return Ok(()),
            Session::Lost(e) => {
                link.stats.connected.store(false, Ordering::Relaxed);
                failures += 1;
                if failures == 1 {
                    tracing::warn!("hub broker connection lost: {e}; the outbox keeps the records");
                } else {
                    tracing::debug!(failures, "hub broker connection failed: {e}");
                }
                let wait =
                    Duration::from_millis(250u64 << failures.min(7)).min(Duration::from_secs(30));
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                }
            }
            Session::Connected => failures = 0,
        }
    }
}

enum Session {
    Stopped,
    /// The connection ended after having been up (retry at once).
    Connected,
    Lost(String),
}

struct Link {
    hub: HubConfig,
    site: String,
    tz: chrono_tz::Tz,
    devices: Vec<String>,
    /// The site's M&V plans (their guarantees are in the site file only).
    plans: Arc<Vec<crate::mv::plan::Plan>>,
    store: StoreWriter,
    stats: Arc<UplinkStats>,
    next_completeness: Instant,
    next_guarantee: Instant,
    next_purge: Instant,
}

impl Link {
    /// One connection: publish due rows while fewer than `inflight` await their PUBACK.
    async fn session(
        &mut self,
        connector: &Connector,
        stop: &mut watch::Receiver<bool>,
    ) -> anyhow::Result<Session> {
        let window = usize::from(self.hub.inflight);
        let (client, mut events) = connector.connect(window * 2 + 16, self.hub.inflight);
        let mut connected = false;
        // Published, waiting for rumqttc to give them a packet id (in publish order).
        let mut queued: VecDeque<Sent> = VecDeque::new();
        let mut by_pkid: HashMap<u16, Sent> = HashMap::new();
        let mut in_flight: HashSet<(String, String)> = HashSet::new();
        let mut acked: Vec<Sent> = Vec::new();
        let mut cursor: Option<(i64, String, String)> = None;
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                ev = events.next() => match ev {
                    Ok(Event::Connected) => {
                        connected = true;
                        self.stats.connected.store(true, Ordering::Relaxed);
                        tracing::info!("connected to the hub broker");
                    }
                    Ok(Event::Sent(pkid)) => {
                        if let Some(s) = queued.pop_front() {
                            by_pkid.insert(pkid, s);
                        }
                    }
                    Ok(Event::Acked(pkid)) => {
                        if let Some(s) = by_pkid.remove(&pkid) {
                            acked.push(s);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.settle(&mut acked, &mut in_flight).await?;
                        return Ok(if connected { Session::Connected } else { Session::Lost(e.message) });
                    }
                },
                _ = tick.tick() => {
                    self.settle(&mut acked, &mut in_flight).await?;
                    self.housekeeping().await?;
                    if connected && in_flight.len() < window {
                        if in_flight.is_empty() {
                            // Rows that changed behind the cursor are found again.
                            cursor = None;
                        }
                        let rows = self.due(cursor.clone(), window - in_flight.len()).await?;
                        for row in rows {
                            cursor = Some((row.due_at, row.kind.clone(), row.key.clone()));
                            let id = (row.kind.clone(), row.key.clone());
                            if in_flight.contains(&id) {
                                continue;
                            }
                            let topic = wire::topic(&self.hub.topic_prefix, &self.site, &row.kind);
                            let payload = self.payload(&row)?;
                            if client.try_publish(&topic, false, payload).is_err() {
                                // The request queue is full: the rest waits for the next tick.
                                cursor = None;
                                break;
                            }
                            self.stats.published.fetch_add(1, Ordering::Relaxed);
                            queued.push_back((row.kind, row.key, row.version));
                            in_flight.insert(id);
                        }
                    }
                }
                _ = stop.changed() => {
                    self.settle(&mut acked, &mut in_flight).await?;
                    client.try_disconnect();
                    return Ok(Session::Stopped);
                }
            }
        }
    }

    fn payload(&self, row: &HubRow) -> anyhow::Result<Vec<u8>> {
        let record = Record {
            v: WIRE_VERSION,
            site: self.site.clone(),
            kind: row.kind.clone(),
            key: row.key.clone(),
            version: row.version,
            at: row.at,
            body: serde_json::from_str(&row.body)?,
        };
        Ok(serde_json::to_vec(&record)?)
    }

    async fn due(
        &self,
        cursor: Option<(i64, String, String)>,
        limit: usize,
    ) -> anyhow::Result<Vec<HubRow>> {
        let now = chrono::Utc::now().timestamp_millis();
        Ok(self
            .store
            .call(move |s| s.hub_due(now, cursor.as_ref(), limit))
            .await?)
    }

    /// Records acknowledged versions as sent.
    async fn settle(
        &self,
        acked: &mut Vec<Sent>,
        in_flight: &mut HashSet<(String, String)>,
    ) -> anyhow::Result<()> {
        if acked.is_empty() {
            return Ok(());
        }
        let done = std::mem::take(acked);
        for (kind, key, _) in &done {
            in_flight.remove(&(kind.clone(), key.clone()));
        }
        let n = done.len() as u64;
        self.store.call(move |s| s.hub_sent(&done)).await?;
        self.stats.acknowledged.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    /// Completeness records now and then, sent rows purged hourly, the pending count.
    async fn housekeeping(&mut self) -> anyhow::Result<()> {
        let now = Instant::now();
        let now_ms = chrono::Utc::now().timestamp_millis();
        if self.hub.forwards(HubKind::Completeness) && now >= self.next_completeness {
            self.next_completeness = now + self.hub.completeness_every;
            let (tz, devices) = (self.tz, self.devices.clone());
            let due = now_ms + self.hub.settle.as_millis() as i64;
            self.store
                .call(move |s| {
                    let rows: Vec<_> = completeness::records(s, tz, &devices, now_ms)?
                        .into_iter()
                        .map(|(key, at, body)| ("completeness", key, at, body, due))
                        .collect();
                    s.hub_put(&rows)
                })
                .await?;
        }
        // Guarantee records at the completeness cadence: plan results change at most with the
        // maintenance's evaluation, and an unchanged record is not sent again.
        if self.hub.forwards(HubKind::Guarantee)
            && !self.plans.is_empty()
            && now >= self.next_guarantee
        {
            self.next_guarantee = now + self.hub.completeness_every;
            let plans = self.plans.clone();
            let due = now_ms + self.hub.settle.as_millis() as i64;
            self.store
                .call(move |s| {
                    let rows: Vec<_> = guarantee::records(s, &plans)?
                        .into_iter()
                        .map(|(key, at, body)| ("guarantee", key, at, body, due))
                        .collect();
                    s.hub_put(&rows)
                })
                .await?;
        }
        if now >= self.next_purge {
            self.next_purge = now + Duration::from_secs(3600);
            self.store
                .call(move |s| s.hub_purge(now_ms - KEEP_SENT_MS))
                .await?;
        }
        let pending = self.store.call(|s| s.hub_pending()).await?;
        self.stats.pending.store(pending, Ordering::Relaxed);
        Ok(())
    }
}
