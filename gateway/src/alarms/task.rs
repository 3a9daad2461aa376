//! The alarm loop: evaluates the engine once a second and when ingest wakes it, records each
//! decision through the store's writer, publishes the alarm's state retained on MQTT, and
//! sends the transition to subscribers. Its own MQTT client also follows the agents'
//! retained `online`/`offline` status.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kilowatch_site::config::SiteConfig;
use kilowatch_site::payload::TOPIC_ROOT;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use tokio::sync::mpsc;

use super::engine::Context;
use super::rules::data::agent_of_status_topic;
use super::state::{AlarmState, Change};
use super::{AckError, Alarms, Command, Transition};
use crate::store::{AlarmRow, NewAlarm, Readers, StoreWriter};

/// Where the data rules read what other stages count (given by the service, so the alarms
/// need not know ingest or the InfluxDB writer).
pub struct Sources {
    /// Polls the agents reported lost, in total.
    pub lost_total: Box<dyn Fn() -> u64 + Send>,
    /// InfluxDB batches waiting.
    pub backlog: Box<dyn Fn() -> u64 + Send>,
    /// Per agent: spooled readings waiting and evicted in all (its latest health message).
    pub spools: Box<dyn Fn() -> Vec<(String, u64, u64)> + Send>,
}

/// Runs the alarms of one site (see [`Alarms::new`]).
pub struct Runner {
    alarms: Arc<Alarms>,
    commands: mpsc::Receiver<Command>,
    site: String,
    mqtt: kilowatch_site::config::MqttConfig,
    client_id: String,
    /// Active alarm id → (occurrence, state).
    open: HashMap<String, (i64, AlarmState)>,
    /// Where transitions are notified (`[[notifications]]`).
    channels: Arc<[kilowatch_site::config::NotifyChannel]>,
    assets: Arc<crate::enpi::Assets>,
    /// The last quarter the quarterly rules judged (or gave up on), and the last look (ms).
    quarter_judged: i64,
    quarter_tried: i64,
}

impl Runner {
    pub(super) fn new(
        alarms: Arc<Alarms>,
        commands: mpsc::Receiver<Command>,
        config: &SiteConfig,
        assets: Arc<crate::enpi::Assets>,
    ) -> Self {
        Self {
            alarms,
            commands,
            site: config.site.id.clone(),
            mqtt: config.mqtt.clone(),
            client_id: format!("{}-alarms", config.gateway_client_id()),
            open: HashMap::new(),
            channels: config.notifications.clone().into(),
            assets,
            quarter_judged: 0,
            quarter_tried: 0,
        }
    }

    /// Judges the quarterly rules on the last closed quarter once its facts are stored,
    /// looking every 15 s; gives up on a quarter when the next one has closed too.
    async fn quarterly(
        &mut self,
        now: i64,
        readers: &Arc<Readers>,
        writer: &StoreWriter,
        client: &AsyncClient,
    ) {
        use super::quarterly::{judge, LAG_MS};
        use super::rules::demand::{window_start, WINDOW_MS};
        let quarter = window_start(now, self.assets.timezone) - WINDOW_MS;
        if quarter <= self.quarter_judged
            || now < quarter + WINDOW_MS + LAG_MS
            || now - self.quarter_tried < 15_000
        {
            return;
        }
        self.quarter_tried = now;
        let specs = self
            .alarms
            .engine
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .quarterly_specs();
        if specs.is_empty() {
            self.quarter_judged = quarter;
            return;
        }
        let assets = self.assets.clone();
        // Up to four weeks of facts: read on the read-only pool, so the writer only writes.
        match readers
            .read(move |s| judge(s, &assets, &specs, quarter))
            .await
        {
            Ok(Some(verdicts)) => {
                self.quarter_judged = quarter;
                for v in verdicts {
                    self.judged(&v, quarter);
                    let d = self
                        .alarms
                        .engine
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .judge_quarterly(v, now);
                    if let Some(d) = d {
                        self.decide(d, now, writer, client).await;
                    }
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("alarms: cannot read the quarter's indicators: {e}"),
        }
        if self.quarter_judged < quarter && now >= quarter + 2 * WINDOW_MS {
            self.quarter_judged = quarter; // its facts never came
        }
    }

    /// Notes that verdict `v` was reached on `quarter` (for `/metrics`).
    fn judged(&self, v: &super::quarterly::Verdict, quarter: i64) {
        let rule = self
            .alarms
            .engine
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .specs
            .get(v.spec)
            .map(|s| s.rule());
        if let Some(rule) = rule {
            self.alarms
                .judged
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(v.key.clone(), (rule.to_owned(), quarter));
        }
    }

    fn topic(&self, id: &str) -> String {
        format!("{TOPIC_ROOT}/{}/alarm/{id}", self.site)
    }

    /// Runs until `shutdown` completes.
    pub async fn run(
        mut self,
        writer: StoreWriter,
        readers: Arc<Readers>,
        sources: Sources,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let connector =
            kilowatch_site::mqtt::Connector::new(&self.mqtt, self.client_id.clone(), None)?;
        let mut opts = connector.v4_options();
        // Retained statuses come again with every subscription: nothing to keep across.
        opts.set_clean_session(true);
        let (client, mut eventloop) = AsyncClient::new(opts, 1024);
        let status = format!("{TOPIC_ROOT}/{}/agent/+/status", self.site);
        let (engine, wake, site) = (
            self.alarms.engine.clone(),
            self.alarms.wake.clone(),
            self.site.clone(),
        );
        let sub = client.clone();
        let network = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Err(e) = sub.try_subscribe(&status, QoS::AtLeastOnce) {
                            tracing::warn!("alarms: cannot subscribe to agent status: {e}");
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if let Some(agent) = agent_of_status_topic(&p.topic, &site) {
                            let online = p.payload.as_ref() == b"online";
                            engine
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .agent_status(agent, online, Utc::now().timestamp_millis());
                            wake.notify_one();
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!("alarms: MQTT connection: {e}; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        self.restore(&writer, &client).await;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let wake = self.alarms.wake.clone();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = wake.notified() => {}
                Some(cmd) = self.commands.recv() => {
                    self.command(cmd, &writer, &client).await;
                    continue;
                }
                () = &mut shutdown => break,
            }
            let ctx = Context {
                lost_total: (sources.lost_total)(),
                backlog: (sources.backlog)(),
                spools: (sources.spools)(),
            };
            let now = Utc::now().timestamp_millis();
            let decisions = self
                .alarms
                .engine
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .evaluate(now, &ctx);
            for d in decisions {
                self.decide(d, now, &writer, &client).await;
            }
            self.quarterly(now, &readers, &writer, &client).await;
        }
        let _ = client.try_disconnect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        network.abort();
        Ok(())
    }

    /// Takes the alarms left active by the last run: those a rule still watches carry on;
    /// the others (their rule removed from the site file) are cleared.
    async fn restore(&mut self, writer: &StoreWriter, client: &AsyncClient) {
        let rows = match writer.call(|s| s.active_alarms()).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!("alarms: cannot read the active alarms: {e}");
                return;
            }
        };
        for row in rows {
            let state = AlarmState::parse(&row.state).unwrap_or(AlarmState::Raised);
            let known = self
                .alarms
                .engine
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .knows(&row.id);
            if known {
                self.alarms
                    .engine
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .restore(&row.id);
                self.open.insert(row.id.clone(), (row.occurrence, state));
                self.set_active(&row, true);
            } else {
                let evidence = serde_json::json!({ "reason": "the rule is no longer configured" });
                let now = Utc::now().timestamp_millis();
                let occ = row.occurrence;
                // The rule is gone: nothing to notify about.
                match writer
                    .call(move |s| s.clear_alarm(occ, (now, &evidence), &|_, _| Ok(())))
                    .await
                {
                    Ok(Some(r)) => self.announce(&r, Some(state), false, client),
                    Ok(None) => {}
                    Err(e) => tracing::error!("alarms: cannot clear {}: {e}", row.id),
                }
            }
        }
    }

    fn set_active(&self, row: &AlarmRow, active: bool) {
        let mut a = self.alarms.active.lock().unwrap_or_else(|p| p.into_inner());
        if active {
            a.insert(row.id.clone(), (row.rule.clone(), row.severity.clone()));
        } else {
            a.remove(&row.id);
        }
    }

    async fn decide(
        &mut self,
        d: super::engine::Decision,
        now: i64,
        writer: &StoreWriter,
        client: &AsyncClient,
    ) {
        let spec = self
            .alarms
            .engine
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .specs[d.spec]
            .clone();
        match d.change {
            Change::Raise => {
                let new = NewAlarm {
                    alarm: d.key.clone(),
                    rule: spec.rule().to_owned(),
                    severity: spec.severity.as_str().to_owned(),
                    subject: d.subject,
                    raised_at: now,
                    quiet: d.quiet,
                    message: d.message.en(),
                    message_key: Some(d.message),
                    evidence: d.evidence,
                    link: spec.link.to_owned(),
                };
                let (channels, quiet) = (self.channels.clone(), new.quiet);
                let stored = writer
                    .call(move |s| {
                        s.raise_alarm(&new, &|tx, row| {
                            super::notify::queue(&channels, quiet, tx, row)
                        })
                    })
                    .await;
                match stored {
                    Ok(Some(row)) => {
                        tracing::warn!(alarm = %row.id, severity = %row.severity, "alarm raised: {}", row.message);
                        self.open
                            .insert(row.id.clone(), (row.occurrence, AlarmState::Raised));
                        self.set_active(&row, true);
                        *self
                            .alarms
                            .raised
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .entry((row.rule.clone(), row.severity.clone()))
                            .or_default() += 1;
                        self.announce(&row, None, row.quiet, client);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(alarm = %d.key, "alarms: cannot record the raise: {e}")
                    }
                }
            }
            Change::Clear => {
                let Some((occ, from)) = self.open.remove(&d.key) else {
                    return;
                };
                let (evidence, quiet) = (d.evidence, d.quiet);
                let channels = self.channels.clone();
                match writer
                    .call(move |s| {
                        s.clear_alarm(occ, (now, &evidence), &|tx, row| {
                            super::notify::queue(&channels, quiet, tx, row)
                        })
                    })
                    .await
                {
                    Ok(Some(row)) => {
                        tracing::info!(alarm = %row.id, "alarm cleared");
                        self.set_active(&row, false);
                        self.announce(&row, Some(from), quiet, client);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(alarm = %d.key, "alarms: cannot record the clear: {e}")
                    }
                }
            }
        }
    }

    async fn command(&mut self, cmd: Command, writer: &StoreWriter, client: &AsyncClient) {
        match cmd {
            Command::Ack {
                id,
                by,
                note,
                reply,
            } => {
                let result = match self.open.get(&id).copied() {
                    None => Err(AckError::NotFound(id)),
                    Some((_, AlarmState::Acknowledged)) => Err(AckError::Already(id)),
                    Some((occ, _)) => {
                        let now = Utc::now().timestamp_millis();
                        let (b, n) = (by.clone(), note.clone());
                        let channels = self.channels.clone();
                        match writer
                            .call(move |s| {
                                s.ack_alarm(occ, (&b, n.as_deref(), now), &|tx, row| {
                                    super::notify::queue(&channels, false, tx, row)
                                })
                            })
                            .await
                        {
                            Ok(Some(row)) => {
                                self.open.insert(id, (occ, AlarmState::Acknowledged));
                                // A person acted: nobody needs waking, whatever the hour.
                                self.announce(&row, Some(AlarmState::Raised), false, client);
                                Ok(row)
                            }
                            Ok(None) => Err(AckError::Already(id)),
                            Err(e) => Err(AckError::Store(e)),
                        }
                    }
                };
                let _ = reply.send(result);
            }
        }
    }

    /// Publishes the stored state retained and sends the transition to subscribers; `quiet`:
    /// in the rule's quiet hours (recorded, not to be notified).
    fn announce(
        &self,
        row: &AlarmRow,
        from: Option<AlarmState>,
        quiet: bool,
        client: &AsyncClient,
    ) {
        let body = serde_json::to_vec(row).unwrap_or_default();
        if let Err(e) = client.try_publish(self.topic(&row.id), QoS::AtLeastOnce, true, body) {
            tracing::warn!(alarm = %row.id, "alarms: cannot publish the state: {e}");
        }
        let to = AlarmState::parse(&row.state).unwrap_or(AlarmState::Raised);
        let (at, evidence) = match to {
            AlarmState::Raised => (Some(row.raised_at), row.evidence.clone()),
            AlarmState::Acknowledged => (row.acked_at, row.evidence.clone()),
            AlarmState::Cleared => (
                row.cleared_at,
                row.cleared_evidence
                    .clone()
                    .unwrap_or_else(|| row.evidence.clone()),
            ),
        };
        // No subscriber yet is fine: the store has it.
        let _ = self.alarms.transitions.send(Transition {
            id: row.id.clone(),
            occurrence: row.occurrence,
            rule: row.rule.clone(),
            severity: row.severity.clone(),
            subject: row.subject.clone(),
            from,
            to,
            message: row.message.clone(),
            evidence,
            at: at.unwrap_or_else(|| DateTime::<Utc>::from_timestamp_millis(0).unwrap_or_default()),
            link: row.link.clone(),
            quiet,
            by: row
                .acked_by
                .clone()
                .filter(|_| to == AlarmState::Acknowledged),
            note: row
                .ack_note
                .clone()
                .filter(|_| to == AlarmState::Acknowledged),
        });
    }
}
