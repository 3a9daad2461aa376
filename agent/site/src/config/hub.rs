//! `[hub]`: what a site gateway forwards to a portfolio hub (off unless the section is there).
//!
//! The gateway keeps the records in a durable outbox and publishes them with QoS 1 to
//! `<topic_prefix>/<site>/<kind>`, either on the site's own broker (`[mqtt]`, which bridges
//! the prefix out to the central broker) or, with `[hub.mqtt]`, straight to a central broker.
//! Only outbound connections: a plant behind NAT needs no open port.

use std::time::Duration;

use serde::Deserialize;

use super::error::{Bound, ConfigError, Origin, Problem};
use super::mqtt::MqttConfig;
use super::values::de_duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// The broker to publish to, with every key of `[mqtt]`; default: the site's own broker.
    pub mqtt: Option<MqttConfig>,
    /// Topic root; records go to `<topic_prefix>/<site>/<kind>`.
    #[serde(default = "default_prefix")]
    pub topic_prefix: String,
    /// What to forward (default: everything): `rollup` (15-minute rollups of every series),
    /// `enpi` (daily and monthly indicator facts), `alarm` (alarm transitions), `savings`
    /// (M&V plan results), `completeness` (per device and plant-local day), `guarantee` (each
    /// M&V plan's contract years against its guarantee).
    #[serde(default = "HubKind::all")]
    pub forward: Vec<HubKind>,
    /// MQTT client id of the forwarder (default `kilowatch-uplink-<site>`).
    pub client_id: Option<String>,
    /// At the first start, rollups and indicator rows this far back are forwarded (default 7d).
    #[serde(default = "default_backfill", deserialize_with = "de_duration")]
    pub backfill: Duration,
    /// A changed record waits this long before it is sent, so a figure that changes every few
    /// seconds (today's energy) goes out once per period, not at every change (default 60s).
    #[serde(default = "default_settle", deserialize_with = "de_duration")]
    pub settle: Duration,
    /// How often each device's data completeness is worked out (default 5m).
    #[serde(
        default = "default_completeness_every",
        deserialize_with = "de_duration"
    )]
    pub completeness_every: Duration,
    /// Publishes awaiting the broker's acknowledgement at most (default 100).
    #[serde(default = "default_inflight")]
    pub inflight: u16,
}

/// A kind of record sent to the hub; its name is the topic's last level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HubKind {
    Rollup,
    Enpi,
    Alarm,
    Savings,
    Completeness,
    /// Each M&V plan's contract years against its guarantee.
    Guarantee,
}

impl HubKind {
    pub const ALL: [HubKind; 6] = [
        HubKind::Rollup,
        HubKind::Enpi,
        HubKind::Alarm,
        HubKind::Savings,
        HubKind::Completeness,
        HubKind::Guarantee,
    ];

    fn all() -> Vec<HubKind> {
        Self::ALL.to_vec()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HubKind::Rollup => "rollup",
            HubKind::Enpi => "enpi",
            HubKind::Alarm => "alarm",
            HubKind::Savings => "savings",
            HubKind::Completeness => "completeness",
            HubKind::Guarantee => "guarantee",
        }
    }

    pub fn parse(s: &str) -> Option<HubKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The default topic root of hub records.
pub const HUB_TOPIC_PREFIX: &str = "kilowatch/v1/hub";

fn default_prefix() -> String {
    HUB_TOPIC_PREFIX.into()
}

fn default_backfill() -> Duration {
    Duration::from_secs(7 * 86_400)
}

fn default_settle() -> Duration {
    Duration::from_secs(60)
}

fn default_completeness_every() -> Duration {
    Duration::from_secs(300)
}

fn default_inflight() -> u16 {
    100
}

/// A topic prefix is one or more non-empty levels without wildcards (it is published to).
pub fn topic_prefix_problem(prefix: &str) -> Option<&'static str> {
    if prefix.is_empty() || prefix.split('/').any(str::is_empty) {
        Some("needs one or more non-empty levels, e.g. kilowatch/v1/hub")
    } else if prefix.contains(['+', '#']) {
        Some("must not contain the wildcards + or #")
    } else if prefix.starts_with('$') {
        Some("must not start with $ (reserved by brokers)")
    } else {
        None
    }
}

impl HubConfig {
    pub(super) fn check(&self, file: &str) -> Result<(), ConfigError> {
        if let Some(m) = &self.mqtt {
            m.check_as(file, "hub.mqtt")?;
        }
        if let Some(problem) = topic_prefix_problem(&self.topic_prefix) {
            return Err(ConfigError::new(file, "hub.topic_prefix", problem));
        }
        if self.forward.is_empty() {
            return Err(ConfigError::new(
                file,
                "hub.forward",
                "forwards nothing: list kinds (rollup, enpi, alarm, savings, completeness) or remove [hub]",
            ));
        }
        if !(1..=1000).contains(&self.inflight) {
            return Err(ConfigError::at(
                file,
                "hub.inflight",
                Problem::OutOfRange {
                    value: self.inflight.to_string(),
                    bound: Bound::Between("1".into(), "1000".into()),
                },
            ));
        }
        if self.completeness_every < Duration::from_secs(1) {
            return Err(ConfigError::new(
                file,
                "hub.completeness_every",
                "must be at least 1s",
            ));
        }
        Ok(())
    }

    pub(super) fn check_access(&self, origin: &Origin) -> Result<(), ConfigError> {
        match &self.mqtt {
            Some(m) => m.check_access_as(origin, "hub.mqtt"),
            None => Ok(()),
        }
    }

    pub fn forwards(&self, kind: HubKind) -> bool {
        self.forward.contains(&kind)
    }
}
