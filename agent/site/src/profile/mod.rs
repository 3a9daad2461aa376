//! Device profiles: register maps as data (TOML), never code. A built-in library is compiled into
//! the binary; a user directory of `*.toml` files overrides it by profile name.

use serde::Deserialize;
use thiserror::Error;

use crate::decode::{DataType, WordOrder};

mod bits;
mod channels;
mod check;
mod info;
mod library;
mod scaling;
mod value;

pub use channels::{ChannelConfig, ChannelDef};
pub use info::{InfoDef, InfoType};
pub use library::ProfileLibrary;
pub use scaling::{Scaling, ScalingError};
pub use value::Value;

/// The Modbus table a register lives in; each maps to one read function code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// Function code 1.
    Coil,
    /// Function code 2.
    DiscreteInput,
    /// Function code 4.
    Input,
    /// Function code 3.
    Holding,
}

impl Table {
    pub fn is_bits(self) -> bool {
        matches!(self, Table::Coil | Table::DiscreteInput)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub manufacturer: String,
    pub model: String,
    /// The public document the register map was taken from.
    pub source: String,
    /// 0 when `address` values are protocol addresses, 1 when they are the document's 1-based
    /// register numbers (minus the 3xxxx/4xxxx table prefix).
    #[serde(default)]
    pub address_base: u8,
    /// Default word order for multi-register values.
    #[serde(default)]
    pub word_order: WordOrder,
    #[serde(default)]
    pub registers: Vec<RegisterDef>,
    /// Analog input channels whose meaning and range the site file sets per device.
    #[serde(default)]
    pub channels: Vec<ChannelDef>,
    /// Identification fields (model, serial number, firmware): read on demand by
    /// `kilowatch-agent read --info` and `scan`, never published as readings.
    #[serde(default)]
    pub info: Vec<InfoDef>,
}

/// How often a register is read: `fast` every poll, `slow` every `slow_interval` of the device
/// (energy counters change slowly and cost bus time on a 9600-baud line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PollClass {
    #[default]
    Fast,
    Slow,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterDef {
    /// Canonical quantity name from the vocabulary.
    pub quantity: String,
    pub table: Table,
    /// Address as written in the profile (see `address_base`).
    pub address: u16,
    #[serde(rename = "type")]
    pub data_type: DataType,
    /// Overrides the profile's word order.
    pub order: Option<WordOrder>,
    /// `value = raw * scale + offset`, in `unit`.
    #[serde(default = "one")]
    pub scale: f64,
    #[serde(default)]
    pub offset: f64,
    /// The unit the device reports in, after scale and offset.
    pub unit: String,
    /// Raw value the device returns for "not available".
    pub sentinel: Option<f64>,
    #[serde(default)]
    pub poll: PollClass,
    /// A status flag: the register (u16 or u32) reads 1 when this bit (0 = least
    /// significant) is set, else 0. For `State` quantities (running, loaded, fault).
    pub bit: Option<u8>,
    /// Like `bit`, for a field of several bits: 1 when any bit of the mask is set (a fault-code
    /// byte, `mask = 0x00FF`).
    pub mask: Option<u32>,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Error)]
pub enum ProfileError {
    #[error("profile {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("profile `{profile}`, register {index} ({quantity}): {message}")]
    Register {
        profile: String,
        index: usize,
        quantity: String,
        message: String,
    },
    #[error("profile directory {dir}: {source}")]
    Dir { dir: String, source: std::io::Error },
}

impl Profile {
    /// Parses and checks a profile; `origin` names the file in error messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ProfileError> {
        let profile: Profile = toml::from_str(text).map_err(|e| ProfileError::Parse {
            origin: origin.to_owned(),
            message: e.message().to_owned(),
        })?;
        profile.check()?;
        Ok(profile)
    }

    /// Protocol (0-based) address of a register.
    pub fn protocol_address(&self, r: &RegisterDef) -> u16 {
        r.address - u16::from(self.address_base)
    }

    pub fn order(&self, r: &RegisterDef) -> WordOrder {
        r.order.unwrap_or(self.word_order)
    }
}

#[cfg(test)]
mod tests;
