//! The sink of ingest: commits batches of classified messages, isolates a message the store
//! refuses, acknowledges after the commit, tracks each device's poll numbering and asks agents
//! for the polls that never arrived.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use kilowatch_site::config::SiteConfig;
use kilowatch_site::payload::{replay_request_topic, ReplayReport, ReplayRequest};
use rumqttc::{AsyncClient, QoS};
use tokio::sync::mpsc;

use super::classify::{dead_letter, Gate};
use super::sequence::Sequences;
use super::{IngestStats, Message};
use crate::store::{Incoming, Store, StoreError, StoreWriter, WriteStats};

/// Holes are asked for only after this long: polls of one device may arrive out of order
/// after a reconnect (the agent re-sends its unacknowledged backlog beside live polls).
const GRACE_MS: i64 = 5_000;
/// A device's open holes are asked for again at most this often until they close.
const ASK_EVERY_MS: i64 = 15_000;

pub(crate) struct Writer {
    store: StoreWriter,
    gate: Gate,
    sequences: Sequences,
    client: AsyncClient,
    stats: Arc<IngestStats>,
    site: String,
    /// Track poll numbering and ask for holes (off with a share group: each instance sees a
    /// part of the stream, and the rest would look like holes).
    repair: bool,
    /// Fed every committed batch (state updates only; the alarm loop decides).
    alarms: Option<Arc<crate::alarms::Alarms>>,
    /// QoS 0 messages waiting in the channel (the network task bounds them).
    pub qos0_queued: Arc<std::sync::atomic::AtomicUsize>,
}

impl Writer {
    /// The ingest sink writing through `store` (opened with the site's settings).
    pub async fn open(
        config: &SiteConfig,
        store: StoreWriter,
        client: AsyncClient,
        stats: Arc<IngestStats>,
        alarms: Option<Arc<crate::alarms::Alarms>>,
    ) -> anyhow::Result<Self> {
        let site = config.site.id.clone();
        let (devices, sequences) = store
            .call(move |s| Ok((s.devices(&site)?, s.sequences()?)))
            .await?;
        let gate = Gate::new(config, devices);
        let sequences = Sequences::restore(sequences);
        *stats.sequences.lock().unwrap_or_else(|p| p.into_inner()) = sequences
            .snapshot()
            .into_iter()
            .map(|s| (s.device.clone(), s))
            .collect();
        Ok(Self {
            store,
            gate,
            sequences,
            client,
            stats,
            site: config.site.id.clone(),
            repair: config.gateway.share_group.is_none(),
            alarms,
            qos0_queued: Arc::default(),
        })
    }

    /// Stores what arrives on `rx` until it closes, asking for missing polls.
    pub async fn run(&mut self, mut rx: mpsc::UnboundedReceiver<Message>) {
        let repair = self.repair;
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
                    if let Err(e) = self.take(messages).await {
                        // Nothing acknowledged: the broker delivers it again to the next run.
                        tracing::error!("ingest stopped: {e}");
                        return;
                    }
                }
                _ = tick.tick(), if repair => self.ask_for_holes(),
            }
        }
    }

    async fn take(&mut self, messages: Vec<Message>) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut batch = Vec::with_capacity(messages.len());
        // Per data message: the device numbering it carries, if it is one of the site's polls.
        let mut numbering = Vec::with_capacity(messages.len());
        let mut reports = Vec::new();
        for m in &messages {
            let p = m.publish();
            if p.qos == QoS::AtMostOnce {
                self.qos0_queued.fetch_sub(1, Ordering::Relaxed);
            }
            match m {
                Message::Data(p) => {
                    let item = self.gate.classify(&p.topic, &p.payload, now);
                    numbering.push(match &item {
                        Incoming::Poll(poll) => {
                            Some((poll.device.clone(), poll.seq, poll.ts.timestamp_millis()))
                        }
                        Incoming::Dead(_) => self.gate.numbering(&p.topic, &p.payload),
                    });
                    batch.push(item);
                }
                Message::Report(p) => reports.push(p),
            }
        }
        for item in &batch {
            if let Incoming::Dead(d) = item {
                tracing::warn!(topic = %d.topic, size = d.size, "rejected message: {}", d.reason);
            }
        }
        let (written, batch) = self.commit(batch).await?;
        if let Some(alarms) = &self.alarms {
            alarms.observe(&batch);
        }
        self.stats
            .messages
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.stats
            .stored_samples
            .fetch_add(written.samples as u64, Ordering::Relaxed);
        self.stats
            .rejected
            .fetch_add(written.dead as u64, Ordering::Relaxed);
        if self.repair {
            let now_ms = Utc::now().timestamp_millis();
            for (item, numbered) in batch.iter().zip(numbering) {
                let Some((device, seq, ts)) = numbered else {
                    continue;
                };
                match item {
                    Incoming::Poll(_) => {
                        self.sequences.observe(&device, seq, ts, now_ms);
                    }
                    Incoming::Dead(_) => self.sequences.refused(&device, seq),
                }
            }
            // After the data: a report may cover polls re-sent in this very batch.
            for p in reports {
                self.report(&p.topic, &p.payload);
            }
            self.save_sequences().await;
        }
        for m in &messages {
            if let Err(e) = self.client.ack(m.publish()).await {
                tracing::warn!("cannot acknowledge message: {e}");
            }
        }
        Ok(())
    }

    /// Commits `batch` on the writer thread, retrying while the store fails; returns what was
    /// written (a message the store refused on its own is replaced by its dead letter). Fails
    /// only when the writer is gone.
    async fn commit(
        &mut self,
        mut batch: Vec<Incoming>,
    ) -> Result<(WriteStats, Vec<Incoming>), StoreError> {
        let mut attempt = 0u32;
        // With a batch the store refused for its content: items written one by one so far.
        let mut isolated: Option<(usize, WriteStats)> = None;
        loop {
            let (back, result) = match isolated {
                None => self.store.call_with(batch, |s, b| s.write(b)).await?,
                Some((done, stats)) => {
                    let poison = self.stats.clone();
                    let ((b, done, stats), r) = self
                        .store
                        .call_with((batch, done, stats), move |s, (b, done, stats)| {
                            isolate(s, &poison, b, done, stats)
                        })
                        .await?;
                    isolated = Some((done, stats));
                    ((b), r.map(|()| stats))
                }
            };
            batch = back;
            let e = match result {
                Ok(w) => return Ok((w, batch)),
                Err(e) => e,
            };
            self.stats.store_errors.fetch_add(1, Ordering::Relaxed);
            attempt += 1;
            tracing::error!("store write failed (attempt {attempt}): {e}");
            if !e.is_transient() && isolated.is_none() {
                // Not the database but something in the batch: find it, keep the rest.
                isolated = Some((0, WriteStats::default()));
                continue;
            }
            // Acknowledging without a commit would lose the readings: wait and retry.
            tokio::time::sleep(Duration::from_millis(500).saturating_mul(attempt.min(20))).await;
        }
    }

    async fn save_sequences(&mut self) {
        let rows = self.sequences.take_dirty();
        if rows.is_empty() {
            return;
        }
        {
            let mut shown = self
                .stats
                .sequences
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            for (device, _) in &rows {
                if let Some(s) = self.sequences.snapshot_of(device) {
                    shown.insert(device.clone(), s);
                }
            }
        }
        if let Err(e) = self.store.call(move |s| s.save_sequences(&rows)).await {
            // Not fatal: a gateway restarted from older state asks for polls it has, and the
            // upsert makes their replay harmless.
            tracing::warn!("cannot save poll-numbering state: {e}");
        }
    }

    /// An agent's answer to a replay request: what it cannot provide is lost.
    fn report(&mut self, topic: &str, payload: &[u8]) {
        let report = match ReplayReport::parse(payload) {
            Ok(r)
                if topic == kilowatch_site::payload::replay_report_topic(&self.site, &r.device) =>
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

/// Writes `batch[*done..]` one message at a time; a message the store refuses for what it
/// is (not for a busy, full or failing database) is replaced by its dead letter. Stops at a
/// failure of the database, to be resumed from `done`.
fn isolate(
    store: &mut Store,
    ingest: &IngestStats,
    batch: &mut [Incoming],
    done: &mut usize,
    stats: &mut WriteStats,
) -> Result<(), StoreError> {
    while let Some(item) = batch.get_mut(*done) {
        let written = match store.write(std::slice::from_ref(item)) {
            Ok(w) => w,
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => {
                let (topic, body) = match item {
                    Incoming::Poll(p) => (
                        kilowatch_site::payload::data_topic(&p.site, &p.device),
                        p.to_json(),
                    ),
                    Incoming::Dead(d) => (d.topic.clone(), d.payload.clone()),
                };
                tracing::error!(%topic, "the store refused a message: {e}; dead-lettered");
                ingest.poison.fetch_add(1, Ordering::Relaxed);
                *item = Incoming::Dead(dead_letter(
                    &topic,
                    &body,
                    format!("the store refused it: {e}"),
                    Utc::now(),
                ));
                store.write(std::slice::from_ref(item))?
            }
        };
        stats.polls += written.polls;
        stats.samples += written.samples;
        stats.dead += written.dead;
        *done += 1;
    }
    Ok(())
}
