//! The sink of ingest: commits batches of classified messages, isolates a message the store
//! refuses, acknowledges after the commit, tracks each device's poll numbering and asks agents
//! for the polls that never arrived.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use kilowatch_agent::config::SiteConfig;
use kilowatch_agent::payload::{replay_request_topic, ReplayReport, ReplayRequest};
use rumqttc::{AsyncClient, QoS};
use tokio::sync::mpsc;

use super::classify::{dead_letter, Gate};
use super::sequence::Sequences;
use super::{IngestStats, Message};
use crate::store::{Incoming, Store, StoreError, WriteStats};

/// Holes are asked for only after this long: polls of one device may arrive out of order
/// after a reconnect (the agent re-sends its unacknowledged backlog beside live polls).
const GRACE_MS: i64 = 5_000;
/// A device's open holes are asked for again at most this often until they close.
const ASK_EVERY_MS: i64 = 15_000;

pub(crate) struct Writer {
    store: Store,
    gate: Gate,
    sequences: Sequences,
    client: AsyncClient,
    stats: Arc<IngestStats>,
    site: String,
}

impl Writer {
    pub fn open(
        config: &SiteConfig,
        db: &Path,
        client: AsyncClient,
        stats: Arc<IngestStats>,
    ) -> anyhow::Result<Self> {
        let store = Store::open(db)?.with_settings(crate::store::StoreSettings::for_site(
            config,
            &kilowatch_agent::profile::ProfileLibrary::builtin(),
        ));
        let gate = Gate::new(config, store.devices()?);
        let sequences = Sequences::restore(store.sequences()?);
        *stats.sequences.lock().unwrap_or_else(|p| p.into_inner()) = sequences.snapshot();
        Ok(Self {
            store,
            gate,
            sequences,
            client,
            stats,
            site: config.site.id.clone(),
        })
    }

    /// Stores what arrives on `rx` until it closes; with `repair`, asks for missing polls.
    pub async fn run(&mut self, mut rx: mpsc::UnboundedReceiver<Message>, repair: bool) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                first = rx.recv() => {
                    let Some(first) = first else { return };
                    let mut messages = vec![first];
                    // Take whatever else is already waiting: batches grow with the load.
                    while messages.len() < 5000 {
                        match rx.try_recv() {
                            Ok(m) => messages.push(m),
                            Err(_) => break,
                        }
                    }
                    self.take(messages).await;
                }
                _ = tick.tick(), if repair => self.ask_for_holes(),
            }
        }
    }

    async fn take(&mut self, messages: Vec<Message>) {
        let now = Utc::now();
        let mut batch = Vec::with_capacity(messages.len());
        for m in &messages {
            match m {
                Message::Data(p) => batch.push(self.gate.classify(&p.topic, &p.payload, now)),
                Message::Report(p) => self.report(&p.topic, &p.payload),
            }
        }
        for item in &batch {
            if let Incoming::Dead(d) = item {
                tracing::warn!(topic = %d.topic, size = d.size, "rejected message: {}", d.reason);
            }
        }
        let written = self.commit(batch).await;
        self.stats
            .messages
            .fetch_add(messages.len() as u64, Ordering::Relaxed);
        self.stats
            .stored_samples
            .fetch_add(written.0.samples as u64, Ordering::Relaxed);
        self.stats
            .rejected
            .fetch_add(written.0.dead as u64, Ordering::Relaxed);
        let now_ms = Utc::now().timestamp_millis();
        for item in &written.1 {
            if let Incoming::Poll(p) = item {
                self.sequences
                    .observe(&p.device, p.seq, p.ts.timestamp_millis(), now_ms);
            }
        }
        self.save_sequences();
        for m in &messages {
            if let Err(e) = self.client.ack(m.publish()).await {
                tracing::warn!("cannot acknowledge message: {e}");
            }
        }
    }

    /// Commits `batch`, retrying while the store fails; returns what was written (a message the
    /// store refused on its own is replaced by its dead letter).
    async fn commit(&mut self, mut batch: Vec<Incoming>) -> (WriteStats, Vec<Incoming>) {
        let mut attempt = 0u32;
        loop {
            let result = tokio::task::block_in_place(|| self.store.write(&batch));
            let e = match result {
                Ok(w) => return (w, batch),
                Err(e) => e,
            };
            self.stats.store_errors.fetch_add(1, Ordering::Relaxed);
            attempt += 1;
            tracing::error!("store write failed (attempt {attempt}): {e}");
            // Is it the store, or something in this batch? If the store takes a small write,
            // write the messages one by one and dead-letter those it refuses.
            if tokio::task::block_in_place(|| self.store.probe()).is_ok() {
                match tokio::task::block_in_place(|| self.isolate(&mut batch)) {
                    Ok(()) => continue,
                    Err(e) => tracing::error!("store write failed while isolating: {e}"),
                }
            }
            // Acknowledging without a commit would lose the readings: wait and retry.
            tokio::time::sleep(Duration::from_millis(500).saturating_mul(attempt.min(20))).await;
        }
    }

    /// Replaces every item the store refuses on its own by a dead letter.
    fn isolate(&mut self, batch: &mut [Incoming]) -> Result<(), StoreError> {
        for item in batch.iter_mut() {
            if let Err(e) = self.store.write(std::slice::from_ref(item)) {
                self.store.probe()?;
                let Incoming::Poll(p) = item else { continue };
                let topic = kilowatch_agent::payload::data_topic(&p.site, &p.device);
                let body = p.to_json();
                tracing::error!(%topic, "the store refused a message: {e}; dead-lettered");
                self.stats.poison.fetch_add(1, Ordering::Relaxed);
                *item = Incoming::Dead(dead_letter(
                    &topic,
                    &body,
                    format!("the store refused it: {e}"),
                    Utc::now(),
                ));
            }
        }
        Ok(())
    }

    fn save_sequences(&mut self) {
        let rows = self.sequences.take_dirty();
        if rows.is_empty() {
            return;
        }
        if let Err(e) = tokio::task::block_in_place(|| self.store.save_sequences(&rows)) {
            // Not fatal: a gateway restarted from older state asks for polls it has, and the
            // upsert makes their replay harmless.
            tracing::warn!("cannot save poll-numbering state: {e}");
        }
        *self
            .stats
            .sequences
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = self.sequences.snapshot();
    }

    /// An agent's answer to a replay request: what it cannot provide is lost.
    fn report(&mut self, topic: &str, payload: &[u8]) {
        let report = match ReplayReport::parse(payload) {
            Ok(r)
                if topic
                    == kilowatch_agent::payload::replay_report_topic(&self.site, &r.device) =>
            {
                r
            }
            Ok(r) => {
                self.stats
                    .bad_replay_reports
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(topic, device = %r.device, "replay report on another device's topic; ignored");
                return;
            }
            Err(e) => {
                self.stats
                    .bad_replay_reports
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(topic, "unreadable replay report: {e}");
                return;
            }
        };
        self.stats.replay_reports.fetch_add(1, Ordering::Relaxed);
        let mut lost = 0;
        for [from, to] in &report.unavailable {
            lost += self.sequences.unavailable(&report.device, *from, *to);
        }
        if lost > 0 {
            tracing::error!(
                device = %report.device,
                lost,
                "polls lost: the agent no longer holds them (spool budget or retention)"
            );
        }
        tracing::info!(device = %report.device, from = report.from_seq, to = report.to_seq, resent = report.resent, "replay report");
    }

    fn ask_for_holes(&mut self) {
        let now_ms = Utc::now().timestamp_millis();
        for (device, from, to) in self.sequences.requests(now_ms, GRACE_MS, ASK_EVERY_MS) {
            let body = ReplayRequest::new(&device, from, to).to_json();
            let topic = replay_request_topic(&self.site, &device);
            match self
                .client
                .try_publish(&topic, QoS::AtLeastOnce, false, body)
            {
                Ok(()) => {
                    self.stats.replay_requests.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%device, from, to, "asked the agent to publish missing polls again");
                }
                Err(e) => tracing::warn!(%device, "cannot ask for missing polls: {e}"),
            }
        }
    }
}
