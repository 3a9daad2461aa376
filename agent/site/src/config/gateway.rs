//! `[gateway]`: the site service's settings (HTTP API, database, InfluxDB, retention).

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::access::{check_env, check_secret_file};
use super::error::{ConfigError, Origin};
use super::values::{de_duration, parse_duration, yes};
use crate::payload::is_identifier;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// HTTP listen address for the API and dashboard.
    #[serde(default = "default_http")]
    pub http: SocketAddr,
    /// SQLite database file, relative to the working directory.
    #[serde(default = "default_database")]
    pub database: String,
    /// MQTT v5 shared-subscription group: instances with the same group split the stream.
    pub share_group: Option<String>,
    /// Samples further apart than this are not bridged when integrating power (default 5m).
    #[serde(default = "default_gap_limit", deserialize_with = "de_duration")]
    pub gap_limit: Duration,
    /// How long each resolution is kept.
    #[serde(default)]
    pub retention: Retention,
    /// Bearer token for the HTTP API, from a file or an environment variable; required when
    /// `http` is not a loopback address.
    pub access_token_file: Option<String>,
    pub access_token_env: Option<String>,
    /// Serve a non-loopback address without a token (logged as a warning at every start).
    #[serde(default)]
    pub allow_unauthenticated: bool,
    /// Forward every stored reading to InfluxDB (or any line-protocol engine).
    pub influx: Option<InfluxConfig>,
    /// How many devices that are not in this site file may still create series (0, the
    /// default: none; their messages are dead-lettered). A cap, so a stray or hostile publisher
    /// cannot grow the catalogue without limit.
    #[serde(default)]
    pub admit_unknown_devices: u32,
    /// Evaluate the alarm rules (default on). Off, no alarm is raised and `/api/v1/alarms`
    /// lists only what is stored (benchmarks measure the engine's cost this way).
    #[serde(default = "yes_alarms")]
    pub alarms: bool,
}

fn yes_alarms() -> bool {
    true
}

/// An InfluxDB (or line-protocol compatible) sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfluxConfig {
    /// Base URL, e.g. `http://127.0.0.1:8086` (a path prefix behind a proxy is kept).
    pub url: String,
    /// `"v1"` (`/write`: InfluxDB 1.x, 3.x, VictoriaMetrics) or `"v2"` (`/api/v2/write`).
    #[serde(default)]
    pub api: InfluxApi,
    /// v1: database, optional retention policy, optional user name and password.
    pub database: Option<String>,
    pub retention_policy: Option<String>,
    pub username: Option<String>,
    pub password_file: Option<String>,
    pub password_env: Option<String>,
    /// v2: organisation, bucket and token.
    pub org: Option<String>,
    pub bucket: Option<String>,
    pub token_file: Option<String>,
    pub token_env: Option<String>,
    /// Lines per write request (default 5000).
    #[serde(default = "default_influx_batch")]
    pub batch_lines: usize,
    /// gzip request bodies (default true).
    #[serde(default = "yes")]
    pub gzip: bool,
    /// Keep no samples in SQLite (InfluxDB instead of, not beside, the embedded store). SQLite
    /// still buffers what InfluxDB has not accepted yet and keeps dead letters.
    #[serde(default)]
    pub only: bool,
}

impl InfluxConfig {
    /// An InfluxDB 1.x-style sink (`/write?db=`) with the defaults a site file would get.
    pub fn v1(url: &str, database: &str) -> Self {
        Self {
            url: url.to_owned(),
            api: InfluxApi::V1,
            database: Some(database.to_owned()),
            retention_policy: None,
            username: None,
            password_file: None,
            password_env: None,
            org: None,
            bucket: None,
            token_file: None,
            token_env: None,
            batch_lines: default_influx_batch(),
            gzip: true,
            only: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InfluxApi {
    #[default]
    V1,
    V2,
}

fn default_influx_batch() -> usize {
    5000
}

fn default_gap_limit() -> Duration {
    Duration::from_secs(300)
}

/// Retention per resolution: a duration such as `90d`, or `forever`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    #[serde(default = "raw_retention", deserialize_with = "de_retention")]
    pub raw: Option<Duration>,
    #[serde(
        rename = "1m",
        default = "minute_retention",
        deserialize_with = "de_retention"
    )]
    pub minute: Option<Duration>,
    #[serde(rename = "15m", default, deserialize_with = "de_retention")]
    pub quarter: Option<Duration>,
    #[serde(rename = "1h", default, deserialize_with = "de_retention")]
    pub hour: Option<Duration>,
    #[serde(rename = "1d", default, deserialize_with = "de_retention")]
    pub day: Option<Duration>,
}

fn raw_retention() -> Option<Duration> {
    Some(Duration::from_secs(90 * 86_400))
}

fn minute_retention() -> Option<Duration> {
    Some(Duration::from_secs(400 * 86_400))
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            raw: raw_retention(),
            minute: minute_retention(),
            quarter: None,
            hour: None,
            day: None,
        }
    }
}

fn de_retention<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    if text == "forever" {
        return Ok(None);
    }
    parse_duration(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
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
            share_group: None,
            gap_limit: default_gap_limit(),
            retention: Retention::default(),
            access_token_file: None,
            access_token_env: None,
            allow_unauthenticated: false,
            influx: None,
            admit_unknown_devices: 0,
            alarms: true,
        }
    }
}

impl GatewayConfig {
    pub(super) fn check(&self, file: &str) -> Result<(), ConfigError> {
        if let Some(problem) = self.token_problem(self.http) {
            return Err(ConfigError::new(file, "gateway.http", problem));
        }
        if let Some(g) = &self.share_group {
            if !is_identifier(g) {
                return Err(ConfigError::new(
                    file,
                    "gateway.share_group",
                    format!("`{g}` must be 1-64 letters, digits, `-` or `_`"),
                ));
            }
        }
        if self.access_token_file.is_some() && self.access_token_env.is_some() {
            return Err(ConfigError::new(
                file,
                "gateway.access_token_env",
                "give the API token either in a file or in an environment variable, not both",
            ));
        }
        if let Some(i) = &self.influx {
            let need = |ok: bool, key: &str, what: &str| {
                if ok {
                    Ok(())
                } else {
                    Err(ConfigError::new(
                        file,
                        format!("gateway.influx.{key}"),
                        what,
                    ))
                }
            };
            need(
                i.url.starts_with("http://") || i.url.starts_with("https://"),
                "url",
                "must start with http:// or https://",
            )?;
            match i.api {
                InfluxApi::V1 => need(
                    i.database.is_some(),
                    "database",
                    "the v1 API needs a database",
                )?,
                InfluxApi::V2 => {
                    need(i.org.is_some(), "org", "the v2 API needs an org")?;
                    need(i.bucket.is_some(), "bucket", "the v2 API needs a bucket")?;
                    need(
                        i.token_file.is_some() || i.token_env.is_some(),
                        "token_file",
                        "the v2 API needs a token (token_file or token_env)",
                    )?;
                }
            }
            need(
                (1..=100_000).contains(&i.batch_lines),
                "batch_lines",
                "must be 1-100000",
            )?;
        }
        Ok(())
    }

    /// Why serving the API on `http` is refused: a network address with no token configured
    /// and no explicit waiver.
    fn token_problem(&self, http: SocketAddr) -> Option<String> {
        let token = self.access_token_file.is_some() || self.access_token_env.is_some();
        (!token && !self.allow_unauthenticated && !http.ip().is_loopback()).then(|| {
            format!(
                "{http} is reachable from the network but no access token is set; set \
                 gateway.access_token_file or gateway.access_token_env, listen on loopback \
                 (e.self. 127.0.0.1:{}), or, knowingly, allow_unauthenticated = true",
                http.port()
            )
        })
    }

    /// The access token (required off loopback unless waived, serving on `http`) and the
    /// InfluxDB secrets are there.
    pub(super) fn check_access(
        &self,
        http: SocketAddr,
        origin: &Origin,
    ) -> Result<(), ConfigError> {
        if let Some(path) = &self.access_token_file {
            check_secret_file(origin, "gateway.access_token_file", path)?;
        }
        if let Some(var) = &self.access_token_env {
            check_env(origin, "gateway.access_token_env", var)?;
        }
        if let Some(problem) = self.token_problem(http) {
            return Err(origin.error("gateway.http", problem));
        }
        if let Some(i) = &self.influx {
            for (key, path) in [
                ("password_file", &i.password_file),
                ("token_file", &i.token_file),
            ] {
                if let Some(path) = path {
                    check_secret_file(origin, &format!("gateway.influx.{key}"), path)?;
                }
            }
            for (key, var) in [
                ("password_env", &i.password_env),
                ("token_env", &i.token_env),
            ] {
                if let Some(var) = var {
                    check_env(origin, &format!("gateway.influx.{key}"), var)?;
                }
            }
        }
        Ok(())
    }
}
