//! `[mqtt]`: how agent and gateway reach the broker.

use super::access::{check_env, check_secret_file};
use super::error::{ConfigError, Origin};
use super::values::address_problem;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// Broker address, `host:port`.
    #[serde(default = "default_broker")]
    pub broker: String,
    /// MQTT protocol version: `"3.1.1"` (default) or `"5"`.
    #[serde(default)]
    pub protocol: MqttProtocol,
    /// Fixed client id of the agent (default `kilowatch-agent-<site>`); persistent sessions
    /// depend on it staying the same across restarts.
    pub agent_client_id: Option<String>,
    /// Fixed client id of the gateway (default `kilowatch-gateway-<site>`).
    pub gateway_client_id: Option<String>,
    /// User name for the broker.
    pub username: Option<String>,
    /// File holding the password (first line); never logged.
    pub password_file: Option<String>,
    /// Environment variable holding the password; never logged.
    pub password_env: Option<String>,
    /// Connect with TLS (implied by `ca_file`).
    #[serde(default)]
    pub tls: bool,
    /// PEM file of the CA that signed the broker's certificate (default: the system's CAs).
    pub ca_file: Option<String>,
    /// PEM client certificate and its PEM (PKCS#8) key, for brokers that require one.
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum MqttProtocol {
    #[default]
    #[serde(rename = "3.1.1")]
    V311,
    #[serde(rename = "5")]
    V5,
}

fn default_broker() -> String {
    "127.0.0.1:1883".into()
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            broker: default_broker(),
            protocol: MqttProtocol::default(),
            agent_client_id: None,
            gateway_client_id: None,
            username: None,
            password_file: None,
            password_env: None,
            tls: false,
            ca_file: None,
            client_cert: None,
            client_key: None,
        }
    }
}

impl MqttConfig {
    pub(super) fn check(&self, file: &str) -> Result<(), ConfigError> {
        if let Some(problem) = address_problem(&self.broker) {
            return Err(ConfigError::new(
                file,
                "mqtt.broker",
                format!("{problem}, e.g. 127.0.0.1:1883"),
            ));
        }
        if self.password_file.is_some() && self.password_env.is_some() {
            return Err(ConfigError::new(
                file,
                "mqtt.password_env",
                "give the password either in a file (password_file) or in an environment variable (password_env), not both",
            ));
        }
        if (self.password_file.is_some() || self.password_env.is_some()) && self.username.is_none()
        {
            return Err(ConfigError::new(
                file,
                "mqtt.username",
                "a password is configured but no username",
            ));
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            return Err(ConfigError::new(
                file,
                if self.client_cert.is_some() {
                    "mqtt.client_key"
                } else {
                    "mqtt.client_cert"
                },
                "a client certificate needs both client_cert and client_key",
            ));
        }
        Ok(())
    }

    /// [`MqttConfig::check`] for this table under another name (`hub.mqtt`, a hub file's
    /// `mqtt`): errors name `<section>.<key>`.
    pub fn check_as(&self, file: &str, section: &str) -> Result<(), ConfigError> {
        self.check(file).map_err(|e| rename(e, section))
    }

    /// The files and variables this table names exist, for a table in `file` (whose `text`
    /// locates the key's line) under the name `section`.
    pub fn check_access_in(
        &self,
        file: &str,
        text: &str,
        section: &str,
    ) -> Result<(), ConfigError> {
        let origin = Origin {
            file: file.to_owned(),
            text: text.to_owned(),
        };
        self.check_access_as(&origin, section)
    }

    pub(super) fn check_access_as(
        &self,
        origin: &Origin,
        section: &str,
    ) -> Result<(), ConfigError> {
        self.check_access(origin)
            .map_err(|e| origin.locate(rename(ConfigError { line: None, ..e }, section)))
    }

    /// The password file or variable, CA and client certificate files are there.
    pub(super) fn check_access(&self, origin: &Origin) -> Result<(), ConfigError> {
        if let Some(path) = &self.password_file {
            check_secret_file(origin, "mqtt.password_file", path)?;
        }
        if let Some(var) = &self.password_env {
            check_env(origin, "mqtt.password_env", var)?;
        }
        for (key, path) in [
            ("mqtt.ca_file", &self.ca_file),
            ("mqtt.client_cert", &self.client_cert),
            ("mqtt.client_key", &self.client_key),
        ] {
            if let Some(path) = path {
                std::fs::read(path)
                    .map_err(|e| origin.error(key, format!("cannot read {path}: {e}")))?;
            }
        }
        Ok(())
    }
}

/// `mqtt.broker` → `<section>.broker`.
fn rename(mut e: ConfigError, section: &str) -> ConfigError {
    if let Some(k) = &e.key {
        if let Some(rest) = k.strip_prefix("mqtt.") {
            e.key = Some(format!("{section}.{rest}"));
        }
    }
    e
}
