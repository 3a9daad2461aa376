//! Alarms: rules evaluated in the gateway as readings arrive and once a second, each alarm
//! raised → acknowledged → cleared, stored (`alarms` table), served (`/api/v1/alarms`),
//! counted (`/metrics`), published retained on `kilowatch/v1/<site>/alarm/<id>`, and every
//! state change sent as a [`Transition`] to whoever subscribes (notifications).
//!
//! `spec` resolves the rules of the site file, `rules/` holds each family's arithmetic,
//! `state` the raise/clear logic (duration, hysteresis), `engine` the per-device state fed by
//! ingest, `task` the loop that stores and publishes what the engine decides.

pub mod engine;
mod notify;
pub mod quarterly;
pub mod rules;
pub mod spec;
pub mod state;
mod task;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use kilowatch_site::config::{ConfigError, SiteConfig};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot, Notify};

pub use state::AlarmState;
pub use task::{Runner, Sources};

use crate::store::{AlarmRow, Incoming};

/// One state change of one alarm, for notifications.
#[derive(Debug, Clone, Serialize)]
pub struct Transition {
    /// The alarm's id (its MQTT topic's last level).
    pub id: String,
    pub occurrence: i64,
    pub rule: String,
    pub severity: String,
    pub subject: String,
    /// `None` for a raise.
    pub from: Option<AlarmState>,
    pub to: AlarmState,
    pub message: String,
    pub evidence: serde_json::Value,
    pub at: DateTime<Utc>,
    /// The dashboard page about it.
    pub link: String,
    /// In the rule's quiet hours: recorded, not to be notified.
    pub quiet: bool,
    /// Who acknowledged, and their note.
    pub by: Option<String>,
    pub note: Option<String>,
}

/// Why an acknowledgement was refused.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    #[error("no active alarm `{0}`")]
    NotFound(String),
    #[error("alarm `{0}` is already acknowledged")]
    Already(String),
    #[error("the alarm engine is not running")]
    Unavailable,
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
}

pub(crate) enum Command {
    Ack {
        id: String,
        by: String,
        note: Option<String>,
        reply: oneshot::Sender<Result<AlarmRow, AckError>>,
    },
}

/// The alarms' shared side: ingest feeds it, the API and `/metrics` read it.
pub struct Alarms {
    engine: Arc<Mutex<engine::Engine>>,
    wake: Arc<Notify>,
    commands: mpsc::Sender<Command>,
    transitions: broadcast::Sender<Transition>,
    /// Active alarm id → (rule, severity).
    active: Mutex<BTreeMap<String, (String, String)>>,
    /// (rule, severity) → raised so far; every rule in force starts at 0.
    raised: Mutex<BTreeMap<(String, String), u64>>,
    /// Quarterly alarm id → (rule, start of the last quarter it reached a verdict on, ms):
    /// shows the efficiency rules are judging, alarm or not.
    judged: Mutex<BTreeMap<String, (String, i64)>>,
}

impl Alarms {
    /// The alarms of this site, and the loop to run them with ([`Runner::run`]).
    pub fn new(
        config: &SiteConfig,
        assets: &crate::enpi::Assets,
        file: &str,
    ) -> Result<(Arc<Self>, Runner), ConfigError> {
        let mut specs = spec::rules(config, assets, file)?;
        if config.gateway.share_group.is_some() {
            // Each instance of a share group sees a part of the readings: a device whose polls
            // all went to the other would look silent, a window's energy would be half.
            specs.retain(|s| {
                !matches!(
                    s.kind,
                    spec::Kind::Demand { .. }
                        | spec::Kind::DeviceSilent { .. }
                        | spec::Kind::PowerFactor { .. }
                        | spec::Kind::SpecificPower { .. }
                )
            });
            tracing::info!(
                "gateway.share_group is set: demand, silence, power-factor and specific-power alarms are off"
            );
        }
        let raised = specs
            .iter()
            .map(|s| ((s.rule().to_owned(), s.severity.as_str().to_owned()), 0))
            .collect();
        let now = Utc::now().timestamp_millis();
        let engine = Arc::new(Mutex::new(engine::Engine::new(
            specs,
            config.timezone(),
            now,
        )));
        let (commands, rx) = mpsc::channel(64);
        let (transitions, _) = broadcast::channel(1024);
        let me = Arc::new(Self {
            engine,
            wake: Arc::new(Notify::new()),
            commands,
            transitions,
            active: Mutex::default(),
            raised: Mutex::new(raised),
            judged: Mutex::default(),
        });
        let runner = Runner::new(me.clone(), rx, config, Arc::new(assets.clone()));
        Ok((me, runner))
    }

    /// Every state change from now on (raised, acknowledged, cleared).
    pub fn subscribe(&self) -> broadcast::Receiver<Transition> {
        self.transitions.subscribe()
    }

    /// Takes a committed ingest batch: a hash lookup per poll; wakes the loop when a demand
    /// meter moved, so the demand alarm does not wait for the next tick.
    pub fn observe(&self, batch: &[Incoming]) {
        let now = Utc::now().timestamp_millis();
        let mut demand = false;
        {
            let mut e = self.engine.lock().unwrap_or_else(|p| p.into_inner());
            for item in batch {
                if let Incoming::Poll(p) = item {
                    demand |= e.observe(p, now);
                }
            }
        }
        if demand {
            self.wake.notify_one();
        }
    }

    /// Acknowledges the active alarm `id`.
    pub async fn ack(
        &self,
        id: &str,
        by: &str,
        note: Option<String>,
    ) -> Result<AlarmRow, AckError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Ack {
                id: id.to_owned(),
                by: by.to_owned(),
                note,
                reply,
            })
            .await
            .map_err(|_| AckError::Unavailable)?;
        answer.await.map_err(|_| AckError::Unavailable)?
    }

    /// `/metrics` lines: active alarms and raised totals by rule and severity.
    pub fn metrics(&self) -> String {
        use std::fmt::Write as _;
        let raised = self.raised.lock().unwrap_or_else(|p| p.into_inner());
        let active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        let mut counts: BTreeMap<(String, String), u64> =
            raised.keys().map(|k| (k.clone(), 0)).collect();
        for (rule, severity) in active.values() {
            *counts.entry((rule.clone(), severity.clone())).or_default() += 1;
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP kilowatch_gateway_alarms_active Alarms raised or acknowledged, not cleared.\n# TYPE kilowatch_gateway_alarms_active gauge"
        );
        for ((rule, severity), n) in &counts {
            let _ = writeln!(
                out,
                "kilowatch_gateway_alarms_active{{rule=\"{rule}\",severity=\"{severity}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP kilowatch_gateway_alarms_raised_total Alarms raised since the gateway started.\n# TYPE kilowatch_gateway_alarms_raised_total counter"
        );
        for ((rule, severity), n) in raised.iter() {
            let _ = writeln!(
                out,
                "kilowatch_gateway_alarms_raised_total{{rule=\"{rule}\",severity=\"{severity}\"}} {n}"
            );
        }
        let judged = self.judged.lock().unwrap_or_else(|p| p.into_inner());
        if !judged.is_empty() {
            let _ = writeln!(
                out,
                "# HELP kilowatch_gateway_alarms_quarter_judged_seconds Start of the last quarter-hour each quarterly rule reached a verdict on (Unix time).\n# TYPE kilowatch_gateway_alarms_quarter_judged_seconds gauge"
            );
            for (id, (rule, quarter)) in judged.iter() {
                let _ = writeln!(
                    out,
                    "kilowatch_gateway_alarms_quarter_judged_seconds{{alarm=\"{id}\",rule=\"{rule}\"}} {}",
                    quarter / 1000
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
