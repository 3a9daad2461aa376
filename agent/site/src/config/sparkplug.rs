//! `[agent.sparkplug]`: Sparkplug B output (alongside or instead of the JSON topics).

use serde::Deserialize;

use super::error::ConfigError;
use crate::payload::is_identifier;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparkplugConfig {
    /// Publish Sparkplug B (default false).
    #[serde(default)]
    pub enabled: bool,
    /// Sparkplug group id (default `kilowatch`).
    #[serde(default = "default_group")]
    pub group_id: String,
    /// Edge node id (default: the site id).
    pub edge_node_id: Option<String>,
    /// The primary host application whose `spBv1.0/STATE/<host_id>` the node waits for
    /// before it publishes its births (none: publish at once).
    pub host_id: Option<String>,
    /// Keep publishing the JSON data topics too (default true). With false, spooled polls are
    /// retired without being published on them: nothing reaches a kilowatch gateway.
    #[serde(default = "super::values::yes")]
    pub json: bool,
}

fn default_group() -> String {
    "kilowatch".into()
}

impl Default for SparkplugConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            group_id: default_group(),
            edge_node_id: None,
            host_id: None,
            json: true,
        }
    }
}

impl SparkplugConfig {
    pub(super) fn check(&self, file: &str) -> Result<(), ConfigError> {
        let ids = [
            ("group_id", Some(&self.group_id)),
            ("edge_node_id", self.edge_node_id.as_ref()),
            ("host_id", self.host_id.as_ref()),
        ];
        for (key, value) in ids {
            if let Some(v) = value {
                // Sparkplug forbids `/`, `+` and `#` in ids; the site's id rule is stricter.
                if !is_identifier(v) {
                    return Err(ConfigError::new(
                        file,
                        format!("agent.sparkplug.{key}"),
                        format!("`{v}` is not an id (1-64 letters, digits, `-` or `_`)"),
                    ));
                }
            }
        }
        Ok(())
    }
}
