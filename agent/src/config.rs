//! The site configuration (TOML): one file describes a plant's devices, its broker and its
//! gateway, and is read by the agent, the gateway and the simulators alike.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use thiserror::Error;

use crate::payload::is_identifier;
use crate::profile::{ChannelConfig, ProfileLibrary};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub site: Site,
    #[serde(default)]
    pub mqtt: MqttConfig,
    #[serde(default)]
    pub agent: AgentConfig,
    #[serde(default)]
    pub gateway: GatewayConfig,
    #[serde(default)]
    pub devices: Vec<DeviceConfig>,
    /// The simulated plant behind `plant = "…"` devices (`kilowatch-gateway simulate` and
    /// `demo`); the agent ignores it.
    pub plant: Option<toml::Table>,
    /// Assets and their energy-performance indicators (`[[assets]]`), read by the gateway's
    /// EnPI engine; the agent ignores them.
    #[serde(default)]
    pub assets: Vec<toml::Table>,
    /// Measurement and verification plans with savings guarantees (`[[mv_plans]]`),
    /// evaluated by the gateway; the agent ignores them.
    #[serde(default)]
    pub mv_plans: Vec<toml::Table>,
    /// The file name and text this was read from, for errors found after parsing.
    #[serde(skip)]
    origin: Origin,
}

#[derive(Clone, Default)]
struct Origin {
    file: String,
    text: String,
}

// The text is the whole file: too long for debug output.
impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Origin").field("file", &self.file).finish()
    }
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
    /// Contract capacity with the utility, kW (demand above it is charged extra).
    pub contract_kw: Option<f64>,
    /// Tariff file (seeds/tariffs/*.toml), relative to the site file's directory or absolute.
    pub tariff: Option<String>,
    /// Grid emission factors by year (seeds/emission-factors.toml).
    pub emission_factors: Option<String>,
    /// The plant's own non-working days (plant-local dates), for day-type baselines.
    #[serde(default)]
    pub holidays: Vec<chrono::NaiveDate>,
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
}

fn default_spool_budget() -> u64 {
    512 << 20
}

fn default_spool_retention() -> Duration {
    Duration::from_secs(86_400)
}

fn default_memory_buffer() -> usize {
    10_000
}

fn yes() -> bool {
    true
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
        }
    }
}

/// Parses a byte size: `4096`, `64KB`, `512MB`, `2GB` (also KiB, MiB, GiB; powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a size (use e.g. 64MB, 2GB)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("`{text}`: unknown size unit (use B, KB, MB, GB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{text}` is too large"))
}

fn de_size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Bytes(n) => Ok(n),
        Size::Text(t) => parse_size(&t).map_err(serde::de::Error::custom),
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
    /// The asset this device meters (e.g. `compressor-1`), kept in the series catalogue.
    pub asset: Option<String>,
    /// Modbus TCP address, `host:port`.
    pub tcp: Option<String>,
    /// Serial port of an RS-485 line (Modbus RTU), e.g. `/dev/ttyUSB0`.
    pub rtu: Option<String>,
    /// Serial server that tunnels raw RTU frames over TCP, `host:port`.
    pub rtu_over_tcp: Option<String>,
    /// Serial settings for `rtu` (all devices on one port must agree).
    #[serde(default = "default_baud")]
    pub baud: u32,
    #[serde(default)]
    pub parity: Parity,
    #[serde(default = "default_stop_bits")]
    pub stop_bits: u8,
    /// Modbus unit id (slave address), 1–247.
    #[serde(default = "default_unit")]
    pub unit: u8,
    /// Poll interval, e.g. `1s`, `500ms`, `1m`.
    #[serde(default = "default_interval", deserialize_with = "de_duration")]
    pub interval: Duration,
    /// Interval for the profile's `slow` registers (energy counters); default: `interval`.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub slow_interval: Option<Duration>,
    /// Time allowed for each Modbus request.
    #[serde(default = "default_timeout", deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// Registers per request (1-125; some devices accept fewer).
    pub max_registers: Option<u16>,
    /// Unused addresses read through rather than split at (default 16).
    pub max_gap: Option<u16>,
    /// Pause between two requests to this device (slow serial converters).
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub pause: Option<Duration>,
    /// One request per register, for devices that refuse any multi-register read.
    #[serde(default)]
    pub single_reads: bool,
    /// What each analog channel of an I/O-module profile measures.
    #[serde(default)]
    pub channels: Vec<ChannelConfig>,
    /// Settings for the device simulator (`kilowatch-gateway simulate`); the agent ignores it.
    pub simulate: Option<toml::Table>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Parity {
    #[default]
    None,
    Even,
    Odd,
}

/// How a device is reached. Devices with the same transport share one connection and are
/// polled one at a time (an RS-485 line carries one request at a time).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp(String),
    Rtu {
        path: String,
        baud: u32,
        parity: Parity,
        stop_bits: u8,
    },
    RtuOverTcp(String),
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Tcp(a) => write!(f, "tcp {a}"),
            Transport::Rtu {
                path,
                baud,
                parity,
                stop_bits,
            } => write!(f, "rtu {path} {baud} {parity:?} {stop_bits}"),
            Transport::RtuOverTcp(a) => write!(f, "rtu-over-tcp {a}"),
        }
    }
}

impl DeviceConfig {
    /// A device reached over one transport with default settings (CLI one-shot reads).
    pub fn new(id: &str, profile: &str, transport: Transport, unit: u8, timeout: Duration) -> Self {
        let mut d = DeviceConfig {
            id: id.into(),
            name: None,
            profile: profile.into(),
            asset: None,
            tcp: None,
            rtu: None,
            rtu_over_tcp: None,
            baud: default_baud(),
            parity: Parity::None,
            stop_bits: default_stop_bits(),
            unit,
            interval: default_interval(),
            slow_interval: None,
            timeout,
            max_registers: None,
            max_gap: None,
            pause: None,
            single_reads: false,
            channels: Vec::new(),
            simulate: None,
        };
        match transport {
            Transport::Tcp(a) => d.tcp = Some(a),
            Transport::RtuOverTcp(a) => d.rtu_over_tcp = Some(a),
            Transport::Rtu {
                path,
                baud,
                parity,
                stop_bits,
            } => {
                d.rtu = Some(path);
                d.baud = baud;
                d.parity = parity;
                d.stop_bits = stop_bits;
            }
        }
        d
    }

    /// The transport (checked at load: exactly one is set).
    pub fn transport(&self) -> Transport {
        if let Some(path) = &self.rtu {
            Transport::Rtu {
                path: path.clone(),
                baud: self.baud,
                parity: self.parity,
                stop_bits: self.stop_bits,
            }
        } else if let Some(a) = &self.rtu_over_tcp {
            Transport::RtuOverTcp(a.clone())
        } else {
            Transport::Tcp(self.tcp.clone().unwrap_or_default())
        }
    }
}

fn default_baud() -> u32 {
    9600
}
fn default_stop_bits() -> u8 {
    1
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

/// The longest duration a site file or a query may give: a hundred years is longer than any
/// interval, timeout or retention means, and keeps every clock sum far from overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(36_500 * 86_400);

/// Parses `250ms`, `5s`, `2m`, `1h`, `1d` (decimals allowed, e.g. `1.5s`): longer than zero,
/// at most [`MAX_DURATION`]. Whole numbers are exact; decimals round to the nanosecond.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let not_a_duration = || format!("`{text}` is not a duration (use e.g. 500ms, 5s, 2m, 1h, 90d)");
    let too_long = || {
        format!(
            "`{text}` is too long (at most {}d)",
            MAX_DURATION.as_secs() / 86_400
        )
    };
    let nanos_per: u128 = match unit.trim() {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ if num.is_empty() => return Err(not_a_duration()),
        _ => return Err(format!("`{text}` has no unit (use ms, s, m, h or d)")),
    };
    let nanos = if num.contains('.') {
        let n: f64 = num.parse().map_err(|_| not_a_duration())?;
        // Saturating: digits alone can reach infinity, which is then too long.
        (n * nanos_per as f64).round() as u128
    } else if num.is_empty() {
        return Err(not_a_duration());
    } else {
        // All digits: a parse failure is an overflow.
        num.parse::<u128>()
            .ok()
            .and_then(|n| n.checked_mul(nanos_per))
            .ok_or_else(too_long)?
    };
    if nanos == 0 {
        return Err(format!("`{text}` must be longer than zero"));
    }
    if nanos > MAX_DURATION.as_nanos() {
        return Err(too_long());
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| too_long())?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de_duration(d).map(Some)
}

/// A configuration problem, displayed as one line naming the file, the key and the problem.
#[derive(Debug, Error)]
#[error("{file}: {key}{what}{line}", key = key_prefix(.key), what = one_line(.what), line = line_suffix(.line))]
pub struct ConfigError {
    pub file: String,
    /// Dotted path of the offending key, when known.
    pub key: Option<String>,
    pub what: String,
    pub line: Option<usize>,
}

/// Values quoted in a message may hold line breaks; the message stays one line.
fn one_line(what: &str) -> String {
    what.replace('\r', "\\r").replace('\n', "\\n")
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

/// What is wrong with a `host:port` address, if anything.
fn address_problem(addr: &str) -> Option<String> {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Some(format!("`{addr}` must be host:port"));
    };
    if host.trim_matches(['[', ']']).trim().is_empty() {
        return Some(format!("`{addr}` has no host: use host:port"));
    }
    // An IPv6 address is written in brackets, whole: [::1]:1883.
    let bracketed = host.starts_with('[') && host.ends_with(']');
    if (host.contains(['[', ']']) || host.contains(':')) && !bracketed {
        return Some(format!(
            "`{addr}`: write an IPv6 address in brackets, e.g. [::1]:1883"
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => None,
        _ => Some(format!("`{addr}`: the port must be 1-65535")),
    }
}

/// The 1-based line of byte offset `at` in `text`.
fn line_at(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text[..at].matches('\n').count() + 1
}

/// Adds the line of the error's key, where the error has none and the key is in `text`.
fn with_line(mut e: ConfigError, text: &str) -> ConfigError {
    if e.line.is_none() {
        e.line = e.key.as_deref().and_then(|k| line_of_key(text, k));
    }
    e
}

/// The line where a dotted key such as `devices[0].interval` or `mqtt.broker` is set.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let root = toml::de::DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut span = None;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let mut value = table.get(name)?;
        if let Some(i) = index {
            value = value.get_ref().as_array()?.get(i)?;
        }
        span = Some(value.span());
        if parts.peek().is_some() {
            table = value.get_ref().as_table()?;
        }
    }
    span.map(|s| line_at(text, s.start))
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
        let line_of = |span: Option<std::ops::Range<usize>>| span.map(|s| line_at(text, s.start));
        let de = toml::Deserializer::parse(text).map_err(|e| ConfigError {
            file: file.to_owned(),
            key: None,
            what: e.message().trim().to_owned(),
            line: line_of(e.span()),
        })?;
        let mut config: SiteConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            ConfigError {
                file: file.to_owned(),
                key: (key != ".").then_some(key),
                what: inner.message().trim().to_owned(),
                line: line_of(inner.span()),
            }
        })?;
        config.origin = Origin {
            file: file.to_owned(),
            text: text.to_owned(),
        };
        config
            .check(file, profiles)
            .map_err(|e| with_line(e, text))?;
        Ok(config)
    }

    /// Adds the line of the error's key in the file this was read from (for errors found by
    /// the gateway in tables the agent keeps raw, such as `[[mv_plans]]`).
    pub fn locate(&self, e: ConfigError) -> ConfigError {
        with_line(e, &self.origin.text)
    }

    /// An error about `key`, naming the file this was read from and the key's line.
    fn error(&self, key: &str, what: impl Into<String>) -> ConfigError {
        with_line(
            ConfigError::new(&self.origin.file, key, what),
            &self.origin.text,
        )
    }

    /// Checks what the MQTT settings point at on this machine: the broker address, readable
    /// password, CA and client certificate files, and a set password variable.
    pub fn check_mqtt_access(&self) -> Result<(), ConfigError> {
        let m = &self.mqtt;
        if let Some(path) = &m.password_file {
            self.check_secret_file("mqtt.password_file", path)?;
        }
        if let Some(var) = &m.password_env {
            self.check_env("mqtt.password_env", var)?;
        }
        for (key, path) in [
            ("mqtt.ca_file", &m.ca_file),
            ("mqtt.client_cert", &m.client_cert),
            ("mqtt.client_key", &m.client_key),
        ] {
            if let Some(path) = path {
                std::fs::read(path)
                    .map_err(|e| self.error(key, format!("cannot read {path}: {e}")))?;
            }
        }
        Ok(())
    }

    /// Checks what the gateway's settings point at on this machine, serving the API on
    /// `http`: the access token (required off loopback unless waived) and InfluxDB secrets.
    pub fn check_gateway_access(&self, http: SocketAddr) -> Result<(), ConfigError> {
        let g = &self.gateway;
        if let Some(path) = &g.access_token_file {
            self.check_secret_file("gateway.access_token_file", path)?;
        }
        if let Some(var) = &g.access_token_env {
            self.check_env("gateway.access_token_env", var)?;
        }
        if let Some(problem) = self.token_problem(http) {
            return Err(self.error("gateway.http", problem));
        }
        if let Some(i) = &g.influx {
            for (key, path) in [
                ("password_file", &i.password_file),
                ("token_file", &i.token_file),
            ] {
                if let Some(path) = path {
                    self.check_secret_file(&format!("gateway.influx.{key}"), path)?;
                }
            }
            for (key, var) in [
                ("password_env", &i.password_env),
                ("token_env", &i.token_env),
            ] {
                if let Some(var) = var {
                    self.check_env(&format!("gateway.influx.{key}"), var)?;
                }
            }
        }
        Ok(())
    }

    /// Why serving the API on `http` is refused: a network address with no token configured
    /// and no explicit waiver.
    fn token_problem(&self, http: SocketAddr) -> Option<String> {
        let g = &self.gateway;
        let token = g.access_token_file.is_some() || g.access_token_env.is_some();
        (!token && !g.allow_unauthenticated && !http.ip().is_loopback()).then(|| {
            format!(
                "{http} is reachable from the network but no access token is set; set \
                 gateway.access_token_file or gateway.access_token_env, listen on loopback \
                 (e.g. 127.0.0.1:{}), or, knowingly, allow_unauthenticated = true",
                http.port()
            )
        })
    }

    /// A secret file must be readable and have a non-empty first line.
    fn check_secret_file(&self, key: &str, path: &str) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| self.error(key, format!("cannot read {path}: {e}")))?;
        if text.lines().next().unwrap_or("").trim().is_empty() {
            return Err(self.error(key, format!("{path} is empty")));
        }
        Ok(())
    }

    fn check_env(&self, key: &str, var: &str) -> Result<(), ConfigError> {
        match std::env::var_os(var) {
            Some(_) => Ok(()),
            None => Err(self.error(key, format!("environment variable {var} is not set"))),
        }
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
        let m = &self.mqtt;
        if let Some(problem) = address_problem(&m.broker) {
            return Err(ConfigError::new(
                file,
                "mqtt.broker",
                format!("{problem}, e.g. 127.0.0.1:1883"),
            ));
        }
        if let Some(problem) = self.token_problem(self.gateway.http) {
            return Err(ConfigError::new(file, "gateway.http", problem));
        }
        if m.password_file.is_some() && m.password_env.is_some() {
            return Err(ConfigError::new(
                file,
                "mqtt.password_env",
                "give the password either in a file (password_file) or in an environment variable (password_env), not both",
            ));
        }
        if (m.password_file.is_some() || m.password_env.is_some()) && m.username.is_none() {
            return Err(ConfigError::new(
                file,
                "mqtt.username",
                "a password is configured but no username",
            ));
        }
        if m.client_cert.is_some() != m.client_key.is_some() {
            return Err(ConfigError::new(
                file,
                if m.client_cert.is_some() {
                    "mqtt.client_key"
                } else {
                    "mqtt.client_cert"
                },
                "a client certificate needs both client_cert and client_key",
            ));
        }
        if self.agent.metrics != "off" && self.agent.metrics.parse::<SocketAddr>().is_err() {
            return Err(ConfigError::new(
                file,
                "agent.metrics",
                format!(
                    "`{}` is not an address (use e.g. 127.0.0.1:9464, or \"off\")",
                    self.agent.metrics
                ),
            ));
        }
        if let Some(g) = &self.gateway.share_group {
            if !is_identifier(g) {
                return Err(ConfigError::new(
                    file,
                    "gateway.share_group",
                    format!("`{g}` must be 1-64 letters, digits, `-` or `_`"),
                ));
            }
        }
        if self.gateway.access_token_file.is_some() && self.gateway.access_token_env.is_some() {
            return Err(ConfigError::new(
                file,
                "gateway.access_token_env",
                "give the API token either in a file or in an environment variable, not both",
            ));
        }
        if let Some(i) = &self.gateway.influx {
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
        if self.agent.spool_budget < 64 << 10 {
            return Err(ConfigError::new(
                file,
                "agent.spool_budget",
                "the spool needs at least 64KB",
            ));
        }
        if !(1..=10_000_000).contains(&self.agent.memory_buffer) {
            return Err(ConfigError::new(
                file,
                "agent.memory_buffer",
                "must be 1-10000000 polls",
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
            let Some(profile) = profiles.get(&d.profile) else {
                return Err(ConfigError::new(
                    file,
                    key("profile"),
                    format!(
                        "unknown profile `{}` (known: {})",
                        d.profile,
                        profiles.names().join(", ")
                    ),
                ));
            };
            if let Err(e) = profile.for_device(&d.channels) {
                return Err(ConfigError::new(file, key("channels"), e));
            }
            if !profile.channels.is_empty() && d.channels.is_empty() {
                return Err(ConfigError::new(
                    file,
                    key("channels"),
                    format!(
                        "profile `{}` is an I/O module: say what its channels measure, e.g. \
                         channels = [{{ channel = 0, quantity = \"pressure\", unit = \"bar\", range = [0.0, 10.0] }}]",
                        d.profile
                    ),
                ));
            }
            if d.max_registers.is_some_and(|m| !(1..=125).contains(&m)) {
                return Err(ConfigError::new(
                    file,
                    key("max_registers"),
                    "must be 1-125 (the Modbus limit)",
                ));
            }
            if ![1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200].contains(&d.baud) {
                return Err(ConfigError::new(
                    file,
                    key("baud"),
                    format!("{} is not a standard RS-485 baud rate", d.baud),
                ));
            }
            if !(1..=2).contains(&d.stop_bits) {
                return Err(ConfigError::new(file, key("stop_bits"), "must be 1 or 2"));
            }
            if !(1..=247).contains(&d.unit) {
                return Err(ConfigError::new(
                    file,
                    key("unit"),
                    format!("unit id {} is outside 1-247", d.unit),
                ));
            }
            let set = [&d.tcp, &d.rtu, &d.rtu_over_tcp]
                .iter()
                .filter(|t| t.is_some())
                .count();
            if set != 1 {
                return Err(ConfigError::new(
                    file,
                    format!("devices[{i}]"),
                    "set exactly one of `tcp`, `rtu` or `rtu_over_tcp`",
                ));
            }
            for (name, addr) in [("tcp", &d.tcp), ("rtu_over_tcp", &d.rtu_over_tcp)] {
                if let Some(problem) = addr.as_deref().and_then(address_problem) {
                    return Err(ConfigError::new(
                        file,
                        key(name),
                        format!("{problem}, e.g. 192.168.1.20:502"),
                    ));
                }
            }
            // One RS-485 line has one set of serial settings.
            if let (Some(path), Transport::Rtu { .. }) = (&d.rtu, d.transport()) {
                if let Some(other) = self.devices[..i]
                    .iter()
                    .find(|o| o.rtu.as_ref() == Some(path) && o.transport() != d.transport())
                {
                    return Err(ConfigError::new(
                        file,
                        key("baud"),
                        format!(
                            "{path} is also used by `{}` with other serial settings; one line has one baud rate, parity and stop bits",
                            other.id
                        ),
                    ));
                }
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

    /// The agent's spool directory.
    pub fn spool_dir(&self) -> std::path::PathBuf {
        self.agent
            .spool_dir
            .clone()
            .unwrap_or_else(|| format!("kilowatch-spool-{}", self.site.id))
            .into()
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
    fn addresses_are_host_and_port_with_ipv6_in_brackets() {
        for ok in ["127.0.0.1:1883", "broker.plant:8883", "[::1]:1883"] {
            assert_eq!(address_problem(ok), None, "{ok}");
        }
        for bad in [
            "[::1:1883",
            "::1:1883",
            "::1]:1883",
            "host",
            ":1883",
            "h:0",
            "h:99999",
        ] {
            assert!(address_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn transports_and_channels() {
        let c = parse(&GOOD.replace(
            "tcp = \"127.0.0.1:502\"",
            "rtu = \"/dev/ttyUSB0\"\nbaud = 19200\nparity = \"even\"",
        ))
        .unwrap();
        assert_eq!(
            c.devices[0].transport(),
            Transport::Rtu {
                path: "/dev/ttyUSB0".into(),
                baud: 19200,
                parity: Parity::Even,
                stop_bits: 1
            }
        );
        let e = parse(&GOOD.replace(
            "tcp = \"127.0.0.1:502\"",
            "tcp = \"127.0.0.1:502\"\nrtu = \"/dev/ttyUSB0\"",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("exactly one"), "{e}");
        let e = parse(&GOOD.replace("eastron-sdm630", "advantech-adam-4117")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("devices[0].channels"), "{e}");
        let ok = GOOD.replace("eastron-sdm630", "advantech-adam-4117")
            + "channels = [{ channel = 0, quantity = \"pressure\", unit = \"bar\", range = [0.0, 16.0] }]\n";
        parse(&ok).unwrap();
        let two_bauds = format!(
            "{}\n[[devices]]\nid = \"b\"\nprofile = \"eastron-sdm120\"\nrtu = \"/dev/ttyUSB0\"\nunit = 2\nbaud = 19200\n",
            GOOD.replace("tcp = \"127.0.0.1:502\"", "rtu = \"/dev/ttyUSB0\"")
        );
        let e = parse(&two_bauds).unwrap_err();
        assert!(e.to_string().contains("other serial settings"), "{e}");
    }

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
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("36500d").unwrap(), MAX_DURATION);
        let digits = "9".repeat(400);
        for long in [
            "36501d",
            "999999999999999d",
            &format!("{digits}d"),
            &format!("{digits}.5s"),
        ] {
            let e = parse_duration(long).unwrap_err();
            assert!(e.contains("too long"), "{long}: {e}");
        }
        assert!(parse_duration("0.0000000001s")
            .unwrap_err()
            .contains("longer than zero"));
    }

    #[test]
    fn overlong_durations_are_config_errors_with_their_line() {
        let e = parse(&GOOD.replace("\"2s\"", "\"999999999999999d\"")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("site.toml: devices[0].interval: `999999999999999d` is too long"),
            "{msg}"
        );
        assert!(msg.ends_with("(line 9)"), "{msg}");
    }

    #[test]
    fn broker_addresses_are_checked_with_their_line() {
        for bad in ["nohost", "host:99999", ":1883", "", "host:0", "[]:1883"] {
            let text = format!("[site]\nid = \"p\"\n\n[mqtt]\nbroker = \"{bad}\"\n");
            let e = parse(&text).unwrap_err();
            assert_eq!(e.key.as_deref(), Some("mqtt.broker"), "{bad}: {e}");
            assert_eq!(e.line, Some(5), "{bad}: {e}");
        }
        for good in ["127.0.0.1:1883", "broker.local:8883", "[::1]:1883"] {
            let text = format!("[site]\nid = \"p\"\n[mqtt]\nbroker = \"{good}\"\n");
            parse(&text).unwrap();
        }
    }

    #[test]
    fn a_network_address_needs_a_token_or_a_waiver() {
        let open = "[site]\nid = \"p\"\n[gateway]\nhttp = \"0.0.0.0:8080\"\n";
        let e = parse(open).unwrap_err();
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("gateway.http"), Some(4)),
            "{e}"
        );
        assert!(e.to_string().contains("gateway.access_token_file"), "{e}");
        parse(&format!("{open}allow_unauthenticated = true\n")).unwrap();
        let c = parse(&format!(
            "{open}access_token_env = \"KW_UNSET_TOKEN_VAR\"\n"
        ))
        .unwrap();
        let e = c
            .check_gateway_access(c.gateway.http)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "site.toml: gateway.access_token_env: environment variable KW_UNSET_TOKEN_VAR is not set (line 5)"
        );
        // `run --http` may move a loopback file onto the network.
        let c = parse("[site]\nid = \"p\"\n").unwrap();
        let e = c
            .check_gateway_access("0.0.0.0:80".parse().unwrap())
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("gateway.http"));
    }

    #[test]
    fn secret_files_and_variables_are_checked() {
        let text =
            "[site]\nid = \"p\"\n[mqtt]\nusername = \"u\"\npassword_file = \"/nonexistent/pw\"\n";
        let e = parse(text).unwrap().check_mqtt_access().unwrap_err();
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("mqtt.password_file"), Some(5))
        );
        assert!(e.what.starts_with("cannot read /nonexistent/pw"), "{e}");
        let text = "[site]\nid = \"p\"\n[mqtt]\nca_file = \"/nonexistent/ca.pem\"\n";
        let e = parse(text).unwrap().check_mqtt_access().unwrap_err();
        assert_eq!(e.key.as_deref(), Some("mqtt.ca_file"));
        let text =
            "[site]\nid = \"p\"\n[mqtt]\nusername = \"u\"\npassword_env = \"KW_UNSET_PW_VAR\"\n";
        let e = parse(text).unwrap().check_mqtt_access().unwrap_err();
        assert_eq!(e.key.as_deref(), Some("mqtt.password_env"));
    }

    #[test]
    fn lines_of_nested_keys() {
        let text = "[site]\nid = \"p\"\n\n[[devices]]\nid = \"a\"\n\n[[devices]]\nid = \"b\"\ninterval = \"1s\"\n";
        assert_eq!(line_of_key(text, "devices[1].interval"), Some(9));
        assert_eq!(line_of_key(text, "site.id"), Some(2));
        assert_eq!(line_of_key(text, "devices[2].interval"), None);
        assert_eq!(line_of_key(text, "mqtt.broker"), None);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn durations_never_panic(text in "\\PC{0,40}") {
                let _ = parse_duration(&text);
            }

            #[test]
            fn number_and_unit_durations_are_in_range(
                num in "[0-9.]{0,60}",
                unit in "(ms|s|m|min|h|d| d|x|)",
            ) {
                if let Ok(d) = parse_duration(&format!("{num}{unit}")) {
                    prop_assert!(!d.is_zero() && d <= MAX_DURATION);
                }
            }

            #[test]
            fn whole_durations_round_trip(ms in 1..=MAX_DURATION.as_millis() as u64) {
                prop_assert_eq!(parse_duration(&format!("{ms}ms")), Ok(Duration::from_millis(ms)));
                if ms % 1000 == 0 {
                    prop_assert_eq!(
                        parse_duration(&format!("{}s", ms / 1000)),
                        Ok(Duration::from_millis(ms))
                    );
                }
            }

            #[test]
            fn sizes_never_panic_and_round_trip(
                text in "\\PC{0,30}",
                n in 0u64..(1 << 34),
                unit in prop::sample::select(vec![("", 1u64), ("KB", 1 << 10), ("MB", 1 << 20), ("GiB", 1 << 30)]),
            ) {
                let _ = parse_size(&text);
                let (suffix, mult) = unit;
                prop_assert_eq!(parse_size(&format!("{n}{suffix}")), Ok(n * mult));
                let _ = parse_size(&format!("{n}{n}{n}{suffix}"));
            }

            #[test]
            fn site_files_never_panic(text in "\\PC{0,200}") {
                let _ = parse(&text);
            }

            #[test]
            fn any_setting_value_gives_a_result_not_a_panic(
                key in prop::sample::select(vec![
                    "interval", "timeout", "slow_interval", "pause", "unit", "baud", "tcp",
                ]),
                value in "\\PC{0,30}",
                broker in "\\PC{0,30}",
                budget in "\\PC{0,20}",
            ) {
                let quote = |v: &str| format!("{v:?}");
                let text = format!(
                    "{GOOD}{key} = {}\n[mqtt]\nbroker = {}\n[agent]\nspool_budget = {}\n",
                    quote(&value),
                    quote(&broker),
                    quote(&budget),
                );
                if let Err(e) = parse(&text) {
                    let msg = e.to_string();
                    prop_assert!(!msg.contains(['\n', '\r']), "one line: {}", msg);
                }
                let _ = line_of_key(&text, &format!("devices[0].{key}"));
            }
        }
    }
}
