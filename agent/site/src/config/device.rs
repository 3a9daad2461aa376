//! `[[devices]]`: the meters and sensors the agent polls (and the simulators imitate).

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;

use super::error::{Bound, ConfigError, Problem, Thing};
use super::values::{address_problem, de_duration, de_opt_duration};
use crate::payload::is_identifier;
use crate::profile::{ChannelConfig, Profile, ProfileLibrary, Scaling};

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
    /// Ratio of the current transformers the meter reads through, when the meter is not told
    /// (1000/5 A → 200): currents × CT, powers and energies × CT·PT.
    pub ct_ratio: Option<f64>,
    /// Ratio of the voltage transformers (11 kV/100 V → 110): voltages × PT.
    pub pt_ratio: Option<f64>,
    /// Further factors per quantity, e.g. `scale = { active_power = 0.001 }`.
    #[serde(default)]
    pub scale: std::collections::BTreeMap<String, f64>,
    /// The meter that feeds this one (the meter tree, e.g. `incomer`); the agent ignores it.
    pub parent: Option<String>,
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
            ct_ratio: None,
            pt_ratio: None,
            scale: Default::default(),
            parent: None,
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

    /// The device's CT/PT ratios and per-quantity factors.
    pub fn scaling(&self) -> Scaling {
        Scaling {
            ct_ratio: self.ct_ratio,
            pt_ratio: self.pt_ratio,
            scale: self.scale.clone(),
        }
    }

    /// The library profile as this device uses it: its analog channels set up and its
    /// factors applied. Errors name the site-file key at fault (`channels`, `ct_ratio`,
    /// `scale.active_power`).
    pub fn resolve(&self, profile: &Profile) -> Result<Profile, (String, String)> {
        profile
            .for_device(&self.channels)
            .map_err(|e| ("channels".to_owned(), e))?
            .scaled(&self.scaling())
            .map_err(|e| (e.key, e.message))
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

/// Checks each device: its id, profile, channels, Modbus and serial settings and transport.
pub(super) fn check_devices(
    devices: &[DeviceConfig],
    file: &str,
    profiles: &ProfileLibrary,
) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for (i, d) in devices.iter().enumerate() {
        let key = |k: &str| format!("devices[{i}].{k}");
        if !is_identifier(&d.id) {
            return Err(ConfigError::new(
                file,
                key("id"),
                format!("`{}` must be 1-64 letters, digits, `-` or `_`", d.id),
            ));
        }
        if !seen.insert(d.id.as_str()) {
            return Err(ConfigError::at(
                file,
                key("id"),
                Problem::Duplicate {
                    of: Thing::Device,
                    id: d.id.clone(),
                },
            ));
        }
        let Some(profile) = profiles.get(&d.profile) else {
            return Err(ConfigError::at(
                file,
                key("profile"),
                Problem::UnknownRef {
                    of: Thing::Profile,
                    name: d.profile.clone(),
                    known: profiles.names().into_iter().map(str::to_owned).collect(),
                },
            ));
        };
        if let Err((k, e)) = d.resolve(profile) {
            return Err(ConfigError::new(file, key(&k), e));
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
            return Err(ConfigError::at(
                file,
                key("max_registers"),
                Problem::OutOfRange {
                    value: d.max_registers.unwrap_or_default().to_string(),
                    bound: Bound::Between("1".into(), "125".into()),
                },
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
            return Err(ConfigError::at(
                file,
                key("stop_bits"),
                Problem::OutOfRange {
                    value: d.stop_bits.to_string(),
                    bound: Bound::Between("1".into(), "2".into()),
                },
            ));
        }
        if !(1..=247).contains(&d.unit) {
            return Err(ConfigError::at(
                file,
                key("unit"),
                Problem::OutOfRange {
                    value: d.unit.to_string(),
                    bound: Bound::Between("1".into(), "247".into()),
                },
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
            if let Some(other) = devices[..i]
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
