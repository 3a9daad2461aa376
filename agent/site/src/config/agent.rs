//! `[agent]`: the agent process's own settings (spool, metrics, health reporting).

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::error::ConfigError;
use super::home_assistant::HomeAssistantConfig;
use super::rbe::ReportByException;
use super::sparkplug::SparkplugConfig;
use super::values::{de_duration, de_size, yes};

/// Settings of the agent process itself: its spool, metrics and health reporting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Directory of the store-and-forward spool (default `kilowatch-spool-<site>` in the
    /// working directory).
    pub spool_dir: Option<String>,
    /// Disk budget of the spool, e.g. `512MB`, `2GB`; when it is full the oldest unsent
    /// readings are evicted (counted and logged).
    #[serde(default = "default_spool_budget", deserialize_with = "de_size")]
    pub spool_budget: u64,
    /// How long acknowledged readings stay in the spool so the gateway can ask for them again
    /// (replay of lost readings), within `spool_budget` (default 24h).
    #[serde(default = "default_spool_retention", deserialize_with = "de_duration")]
    pub spool_retention: Duration,
    /// Polls held in memory while the spool cannot be written (a full disk); polls beyond it
    /// are dropped and counted (default 10000).
    #[serde(default = "default_memory_buffer")]
    pub memory_buffer: usize,
    /// `fdatasync` every batch of spooled readings before publishing it (default true).
    #[serde(default = "yes")]
    pub fsync: bool,
    /// Prometheus `/metrics` listen address, or `"off"`.
    #[serde(default = "default_metrics")]
    pub metrics: String,
    /// How often agent health is published on `kilowatch/v1/<site>/agent/<id>/health`.
    #[serde(default = "default_health_interval", deserialize_with = "de_duration")]
    pub health_interval: Duration,
    /// Home Assistant MQTT discovery (`[agent.home_assistant]`).
    #[serde(default)]
    pub home_assistant: HomeAssistantConfig,
    /// Sparkplug B output (`[agent.sparkplug]`).
    #[serde(default)]
    pub sparkplug: SparkplugConfig,
    /// Report by exception (`[agent.report_by_exception]`).
    #[serde(default)]
    pub report_by_exception: ReportByException,
}

fn default_spool_budget() -> u64 {
    512 << 20
}

fn default_spool_retention() -> Duration {
    Duration::from_secs(86_400)
}

/// `agent.memory_buffer` when the site file does not set it.
pub const DEFAULT_MEMORY_BUFFER: usize = 10_000;

fn default_memory_buffer() -> usize {
    DEFAULT_MEMORY_BUFFER
}

fn default_metrics() -> String {
    "127.0.0.1:9464".into()
}

fn default_health_interval() -> Duration {
    Duration::from_secs(30)
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            spool_dir: None,
            spool_budget: default_spool_budget(),
            spool_retention: default_spool_retention(),
            memory_buffer: default_memory_buffer(),
            fsync: true,
            metrics: default_metrics(),
            health_interval: default_health_interval(),
            home_assistant: HomeAssistantConfig::default(),
            sparkplug: SparkplugConfig::default(),
            report_by_exception: ReportByException::default(),
        }
    }
}

impl AgentConfig {
    pub(super) fn check(&self, file: &str, gap_limit: Duration) -> Result<(), ConfigError> {
        self.home_assistant.check(file)?;
        self.sparkplug.check(file)?;
        self.report_by_exception.check(file, gap_limit)?;
        if self.metrics != "off" && self.metrics.parse::<SocketAddr>().is_err() {
            return Err(ConfigError::new(
                file,
                "agent.metrics",
                format!(
                    "`{}` is not an address (use e.g. 127.0.0.1:9464, or \"off\")",
                    self.metrics
                ),
            ));
        }
        if self.spool_budget < 64 << 10 {
            return Err(ConfigError::new(
                file,
                "agent.spool_budget",
                "the spool needs at least 64KB",
            ));
        }
        if !(1..=10_000_000).contains(&self.memory_buffer) {
            return Err(ConfigError::new(
                file,
                "agent.memory_buffer",
                "must be 1-10000000 polls",
            ));
        }
        Ok(())
    }
}
