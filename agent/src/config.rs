//! The site configuration (TOML): one file describes a plant's devices, its broker and its
//! gateway, and is read by the agent, the gateway and the simulators alike.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use thiserror::Error;

use crate::profile::ProfileLibrary;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub site: Site,
    #[serde(default)]
    pub mqtt: MqttConfig,
    #[serde(default)]
    pub gateway: GatewayConfig,
    #[serde(default)]
    pub devices: Vec<DeviceConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Short identifier used in MQTT topics and series names (letters, digits, `-`, `_`).
    pub id: String,
    /// Human-readable name shown on dashboards.
    pub name: Option<String>,
    /// IANA time zone of the plant, for daily and monthly figures.
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

fn default_timezone() -> String {
    "UTC".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// Broker address, `host:port`.
    #[serde(default = "default_broker")]
    pub broker: String,
    /// Fixed client id of the agent (default `kilowatch-agent-<site>`); persistent sessions
    /// depend on it staying the same across restarts.
    pub agent_client_id: Option<String>,
    /// Fixed client id of the gateway (default `kilowatch-gateway-<site>`).
    pub gateway_client_id: Option<String>,
}

fn default_broker() -> String {
    "127.0.0.1:1883".into()
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            broker: default_broker(),
            agent_client_id: None,
            gateway_client_id: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// HTTP listen address for the API and dashboard.
    #[serde(default = "default_http")]
    pub http: SocketAddr,
    /// SQLite database file, relative to the working directory.
    #[serde(default = "default_database")]
    pub database: String,
}

fn default_http() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_database() -> String {
    "kilowatch.db".into()
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            http: default_http(),
            database: default_database(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Short identifier used in topics and series (letters, digits, `-`, `_`).
    pub id: String,
    pub name: Option<String>,
    /// Name of a device profile (`kilowatch-agent profiles` lists them).
    pub profile: String,
    /// Modbus TCP address, `host:port`.
    pub tcp: String,
    /// Modbus unit id (slave address), 1–247.
    #[serde(default = "default_unit")]
    pub unit: u8,
    /// Poll interval, e.g. `1s`, `500ms`, `1m`.
    #[serde(default = "default_interval", deserialize_with = "de_duration")]
    pub interval: Duration,
    /// Time allowed for each Modbus request.
    #[serde(default = "default_timeout", deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// Settings for the device simulator (`kilowatch-gateway simulate`); the agent ignores it.
    pub simulate: Option<toml::Table>,
}

fn default_unit() -> u8 {
    1
}
fn default_interval() -> Duration {
    Duration::from_secs(5)
}
fn default_timeout() -> Duration {
    Duration::from_secs(1)
}

/// Parses `250ms`, `5s`, `2m`, `1h`, `1d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (use e.g. 500ms, 5s, 2m, 1h, 90d)"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return Err(format!("`{text}` has no unit (use ms, s, m, h or d)")),
    };
    if secs <= 0.0 {
        return Err(format!("`{text}` must be longer than zero"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

/// A configuration problem, displayed as one line naming the file, the key and the problem.
#[derive(Debug, Error)]
#[error("{file}: {key}{what}{line}", key = key_prefix(.key), line = line_suffix(.line))]
pub struct ConfigError {
    pub file: String,
    /// Dotted path of the offending key, when known.
    pub key: Option<String>,
    pub what: String,
    pub line: Option<usize>,
}

fn key_prefix(key: &Option<String>) -> String {
    key.as_ref().map_or(String::new(), |k| format!("{k}: "))
}

fn line_suffix(line: &Option<usize>) -> String {
    line.map_or(String::new(), |l| format!(" (line {l})"))
}

impl ConfigError {
    fn new(file: &str, key: impl Into<String>, what: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            key: Some(key.into()),
            what: what.into(),
            line: None,
        }
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl SiteConfig {
    /// Reads, parses and checks a site file against the profile library.
    pub fn load(path: &Path, profiles: &ProfileLibrary) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            key: None,
            what: format!("cannot read: {e}"),
            line: None,
        })?;
        Self::parse(&text, &file, profiles)
    }

    /// Parses and checks site TOML; `file` names the origin in errors.
    pub fn parse(text: &str, file: &str, profiles: &ProfileLibrary) -> Result<Self, ConfigError> {
        let line_of = |span: Option<std::ops::Range<usize>>| {
            span.map(|s| text[..s.start.min(text.len())].lines().count().max(1))
        };
        let de = toml::Deserializer::parse(text).map_err(|e| ConfigError {
            file: file.to_owned(),
            key: None,
            what: e.message().trim().to_owned(),
            line: line_of(e.span()),
        })?;
        let config: SiteConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            ConfigError {
                file: file.to_owned(),
                key: (key != ".").then_some(key),
                what: inner.message().trim().to_owned(),
                line: line_of(inner.span()),
            }
        })?;
        config.check(file, profiles)?;
        Ok(config)
    }

    fn check(&self, file: &str, profiles: &ProfileLibrary) -> Result<(), ConfigError> {
        if !is_identifier(&self.site.id) {
            return Err(ConfigError::new(
                file,
                "site.id",
                format!(
                    "`{}` must be 1-64 letters, digits, `-` or `_`",
                    self.site.id
                ),
            ));
        }
        if self.site.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ConfigError::new(
                file,
                "site.timezone",
                format!(
                    "unknown time zone `{}` (use an IANA name such as Asia/Taipei)",
                    self.site.timezone
                ),
            ));
        }
        let mut seen = HashSet::new();
        for (i, d) in self.devices.iter().enumerate() {
            let key = |k: &str| format!("devices[{i}].{k}");
            if !is_identifier(&d.id) {
                return Err(ConfigError::new(
                    file,
                    key("id"),
                    format!("`{}` must be 1-64 letters, digits, `-` or `_`", d.id),
                ));
            }
            if !seen.insert(d.id.as_str()) {
                return Err(ConfigError::new(
                    file,
                    key("id"),
                    format!("`{}` is used by two devices", d.id),
                ));
            }
            if profiles.get(&d.profile).is_none() {
                return Err(ConfigError::new(
                    file,
                    key("profile"),
                    format!(
                        "unknown profile `{}` (known: {})",
                        d.profile,
                        profiles.names().join(", ")
                    ),
                ));
            }
            if !(1..=247).contains(&d.unit) {
                return Err(ConfigError::new(
                    file,
                    key("unit"),
                    format!("unit id {} is outside 1-247", d.unit),
                ));
            }
            if !d.tcp.contains(':') {
                return Err(ConfigError::new(
                    file,
                    key("tcp"),
                    format!("`{}` must be host:port, e.g. 192.168.1.20:502", d.tcp),
                ));
            }
        }
        Ok(())
    }

    /// The plant's time zone (checked at load).
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.site.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// The agent's MQTT client id.
    pub fn agent_client_id(&self) -> String {
        self.mqtt
            .agent_client_id
            .clone()
            .unwrap_or_else(|| format!("kilowatch-agent-{}", self.site.id))
    }

    /// The gateway's MQTT client id.
    pub fn gateway_client_id(&self) -> String {
        self.mqtt
            .gateway_client_id
            .clone()
            .unwrap_or_else(|| format!("kilowatch-gateway-{}", self.site.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SiteConfig, ConfigError> {
        SiteConfig::parse(text, "site.toml", &ProfileLibrary::builtin())
    }

    const GOOD: &str = r#"
[site]
id = "plant"

[[devices]]
id = "incomer"
profile = "eastron-sdm630"
tcp = "127.0.0.1:502"
interval = "2s"
"#;

    #[test]
    fn good_config_with_defaults() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.devices[0].interval, Duration::from_secs(2));
        assert_eq!(c.devices[0].unit, 1);
        assert_eq!(c.mqtt.broker, "127.0.0.1:1883");
        assert_eq!(c.agent_client_id(), "kilowatch-agent-plant");
    }

    #[test]
    fn errors_name_file_key_and_line() {
        let e = parse(&GOOD.replace("\"2s\"", "\"2 parsecs\"")).unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.key.as_deref(), Some("devices[0].interval"), "{msg}");
        assert!(msg.starts_with("site.toml: devices[0].interval: "), "{msg}");
        assert!(msg.contains("(line 9)"), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");

        let e = parse(&GOOD.replace("eastron-sdm630", "eastron-sdm999")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("devices[0].profile"));
        assert!(e.to_string().contains("unknown profile `eastron-sdm999`"));

        let e = parse(&GOOD.replace("tcp =", "tcpp =")).unwrap_err();
        assert!(e.to_string().contains("tcpp"), "{e}");

        let e = parse("[site]\nid = \"bad/id\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("site.id"));

        let e = parse("[site\n").unwrap_err();
        assert_eq!(e.line, Some(1), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(
            parse_duration("90d").unwrap(),
            Duration::from_secs(90 * 86400)
        );
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("fast").is_err());
    }
}
