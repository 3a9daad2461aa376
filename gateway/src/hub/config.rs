//! `hub.toml`: the hub's broker, subscription and database. Errors name the file and the key.
//!
//! ```toml
//! [mqtt]                 # the central broker: every key of a site file's [mqtt]
//! broker = "broker.example:1883"
//!
//! [hub]
//! client_id = "kilowatch-hub-1"   # one per instance, the same at every restart
//! share_group = "kilowatch-hub"   # instances in one group split the stream
//!
//! [postgres]
//! url = "host=db.example user=kilowatch dbname=kilowatch"   # or postgres://…
//! password_file = "/etc/kilowatch/pg-password"
//!
//! [http]                 # the portfolio pages and API (or --http)
//! listen = "0.0.0.0:8480"
//! public_url = "https://hub.example"   # behind a TLS proxy: cookies get Secure
//!
//! [auth]
//! lockout_failures = 5   # failed logins within lockout_window lock the account
//! lockout_window = "15m"
//! session_ttl = "12h"     # a session ends this long after login at the latest
//! session_idle = "1h"     # … or after this long without a request
//! ```

use std::path::Path;

use kilowatch_site::config::{topic_prefix_problem, ConfigError, MqttConfig, HUB_TOPIC_PREFIX};
use kilowatch_site::payload::is_identifier;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubFile {
    #[serde(default)]
    pub mqtt: MqttConfig,
    #[serde(default)]
    pub hub: HubSection,
    pub postgres: PostgresConfig,
    #[serde(default)]
    pub http: HttpSection,
    #[serde(default)]
    pub auth: AuthSection,
    /// The file this was read from.
    #[serde(skip)]
    pub file: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSection {
    /// This instance's MQTT client id. The broker keeps its session (and the messages it had
    /// not acknowledged) under this id, so a restarted instance must come back with the same.
    pub client_id: Option<String>,
    /// The shared-subscription group; instances with the same group split the stream.
    #[serde(default = "default_group")]
    pub share_group: String,
    /// Topic root of the sites' records (as in their `[hub] topic_prefix`).
    #[serde(default = "default_prefix")]
    pub topic_prefix: String,
    /// Records committed per transaction at most.
    #[serde(default = "default_batch")]
    pub batch: usize,
}

impl Default for HubSection {
    fn default() -> Self {
        Self {
            client_id: None,
            share_group: default_group(),
            topic_prefix: default_prefix(),
            batch: default_batch(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// libpq style (`host=… port=… user=… dbname=…`) or a `postgres://` URL, without the password.
    pub url: String,
    /// File holding the password (first line); never logged.
    pub password_file: Option<String>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// Connections in the pool (ingest takes one per batch, the API one per request).
    #[serde(default = "default_pool")]
    pub pool_size: usize,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Where the pages and API are served (any address: every request is authenticated).
    pub listen: Option<std::net::SocketAddr>,
    /// The address users reach the hub at, when a proxy stands in front (`https://…` makes
    /// the session cookie Secure, and is the one origin state-changing requests may come from).
    pub public_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    #[serde(default = "default_failures")]
    pub lockout_failures: u32,
    #[serde(default = "default_window")]
    pub lockout_window: String,
    #[serde(default = "default_ttl")]
    pub session_ttl: String,
    #[serde(default = "default_idle")]
    pub session_idle: String,
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            lockout_failures: default_failures(),
            lockout_window: default_window(),
            session_ttl: default_ttl(),
            session_idle: default_idle(),
        }
    }
}

fn default_failures() -> u32 {
    5
}
fn default_idle() -> String {
    "1h".into()
}
fn default_window() -> String {
    "15m".into()
}
fn default_ttl() -> String {
    "12h".into()
}

fn default_group() -> String {
    "kilowatch-hub".into()
}
fn default_prefix() -> String {
    HUB_TOPIC_PREFIX.into()
}
fn default_batch() -> usize {
    500
}
fn default_pool() -> usize {
    8
}

fn err(file: &str, key: &str, what: impl Into<String>) -> ConfigError {
    ConfigError {
        problem: Default::default(),
        file: file.to_owned(),
        key: Some(key.to_owned()),
        what: what.into(),
        line: None,
    }
}

impl HubFile {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::unreadable(&file, &e))?;
        Self::parse(&text, &file)
    }

    pub fn parse(text: &str, file: &str) -> Result<Self, ConfigError> {
        let mut cfg: HubFile = kilowatch_site::config::parse_toml(text, file)?;
        cfg.file = file.to_owned();
        cfg.check()?;
        cfg.mqtt.check_access_in(file, text, "mqtt")?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let file = &self.file;
        self.mqtt.check_as(file, "mqtt")?;
        if !is_identifier(&self.hub.share_group) {
            return Err(err(
                file,
                "hub.share_group",
                "must be 1-64 letters, digits, `-` or `_`",
            ));
        }
        if let Some(problem) = topic_prefix_problem(&self.hub.topic_prefix) {
            return Err(err(file, "hub.topic_prefix", problem));
        }
        if !(1..=10_000).contains(&self.hub.batch) {
            return Err(err(file, "hub.batch", "must be between 1 and 10000"));
        }
        if !(1..=1000).contains(&self.postgres.pool_size) {
            return Err(err(
                file,
                "postgres.pool_size",
                "must be between 1 and 1000",
            ));
        }
        if self.postgres.password_file.is_some() && self.postgres.password_env.is_some() {
            return Err(err(
                file,
                "postgres.password_env",
                "give the password in a file or a variable, not both",
            ));
        }
        let pg: Result<tokio_postgres::Config, _> = self.postgres.url.parse();
        match pg {
            Err(e) => {
                return Err(err(
                    file,
                    "postgres.url",
                    format!("not a connection string: {e}"),
                ))
            }
            Ok(c) if c.get_password().is_some() => {
                return Err(err(file, "postgres.url", "holds a password: use postgres.password_file or password_env, so it stays out of the file"));
            }
            Ok(_) => {}
        }
        if let Some(url) = &self.http.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(err(
                    file,
                    "http.public_url",
                    "must start with http:// or https://",
                ));
            }
        }
        self.policy()?;
        Ok(())
    }

    /// The lockout and session policy of `[auth]` (checked by `parse`).
    pub fn policy(&self) -> Result<crate::hub::auth::sessions::Policy, ConfigError> {
        let file = &self.file;
        let dur = |key: &str, v: &str| {
            kilowatch_site::config::parse_duration(v)
                .map_err(|e| err(file, key, e.to_string()))
                .and_then(|d| {
                    if d.as_secs() == 0 {
                        Err(err(file, key, "must be at least 1s"))
                    } else {
                        Ok(d)
                    }
                })
        };
        if !(1..=1000).contains(&self.auth.lockout_failures) {
            return Err(err(
                file,
                "auth.lockout_failures",
                "must be between 1 and 1000",
            ));
        }
        Ok(crate::hub::auth::sessions::Policy {
            lockout_failures: self.auth.lockout_failures,
            lockout_window: dur("auth.lockout_window", &self.auth.lockout_window)?,
            session_ttl: dur("auth.session_ttl", &self.auth.session_ttl)?,
            session_idle: dur("auth.session_idle", &self.auth.session_idle)?,
        })
    }

    /// The MQTT client id: `--client-id`, else `hub.client_id`, else `kilowatch-hub-<host>`.
    pub fn client_id(&self) -> String {
        self.hub.client_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
            format!("kilowatch-hub-{}", host.trim())
        })
    }

    /// The subscription: every site's every kind, shared by the group.
    pub fn filter(&self) -> String {
        format!(
            "$share/{}/{}/+/+",
            self.hub.share_group, self.hub.topic_prefix
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file_and_key() {
        let e = HubFile::parse(
            "[postgres]\nurl = \"host=x\"\n[hub]\nbatch = 0\n",
            "hub.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("hub.toml: hub.batch:"), "{e}");
        let e = HubFile::parse(
            "[postgres]\nurl = \"host=x\"\n[mqtt]\nbroker = \"nope\"\n",
            "hub.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("hub.toml: mqtt.broker:"), "{e}");
        let e = HubFile::parse(
            "[postgres]\nurl = \"postgres://u:secret@h/db\"\n",
            "hub.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("postgres.url") && !e.contains("secret"), "{e}");
        let e = HubFile::parse("[postgres]\nurl = \"host=x\"\nsize = 3\n", "h.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("postgres") && e.contains("size"), "{e}");
        let e = HubFile::parse(
            "[postgres]\nurl = \"host=x\"\n[auth]\nlockout_window = \"soon\"\n",
            "h.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("h.toml: auth.lockout_window:"), "{e}");
        let ok = HubFile::parse("[postgres]\nurl = \"host=x\"\n", "h.toml").unwrap();
        let p = ok.policy().unwrap();
        assert_eq!((p.lockout_failures, p.lockout_window.as_secs()), (5, 900));
        assert_eq!(ok.filter(), "$share/kilowatch-hub/kilowatch/v1/hub/+/+");
    }
}
