//! `[agent.home_assistant]`: announce the agent's readings to Home Assistant through MQTT
//! discovery.

use serde::Deserialize;

use super::error::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeAssistantConfig {
    /// Publish retained discovery configs (default false).
    #[serde(default)]
    pub enabled: bool,
    /// Home Assistant's discovery prefix (its MQTT integration's `discovery_prefix`).
    #[serde(default = "default_prefix")]
    pub prefix: String,
}

fn default_prefix() -> String {
    "homeassistant".into()
}

impl Default for HomeAssistantConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            prefix: default_prefix(),
        }
    }
}

impl HomeAssistantConfig {
    pub(super) fn check(&self, file: &str) -> Result<(), ConfigError> {
        let p = &self.prefix;
        if p.is_empty() || p.starts_with('/') || p.ends_with('/') || p.contains(['+', '#', '\0']) {
            return Err(ConfigError::new(
                file,
                "agent.home_assistant.prefix",
                format!("`{p}` is not a topic prefix (no wildcards, no leading or trailing `/`)"),
            ));
        }
        Ok(())
    }
}
