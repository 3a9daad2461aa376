//! Analog input channels of I/O modules: the profile gives the raw span, the site file says what
//! each channel measures, and [`Profile::for_device`] turns the pair into registers.

use std::collections::HashSet;

use serde::Deserialize;

use super::{PollClass, Profile, RegisterDef, Table};
use crate::decode::DataType;
use crate::vocab;

/// One analog input channel of an I/O module: raw counts spanning a signal range.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelDef {
    pub channel: u8,
    pub table: Table,
    pub address: u16,
    #[serde(rename = "type")]
    pub data_type: DataType,
    /// Raw value at the bottom and top of the signal range.
    pub raw_low: f64,
    pub raw_high: f64,
    /// The signal range the raw span covers, e.g. 4 and 20 mA.
    pub signal_low: f64,
    pub signal_high: f64,
    pub signal_unit: String,
}

/// What a site says one channel measures: `range` is the engineering value at the bottom and
/// top of the signal (for a 0-10 bar transmitter on 4-20 mA: `range = [0.0, 10.0]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub channel: u8,
    pub quantity: String,
    pub unit: String,
    pub range: [f64; 2],
}

impl Profile {
    /// The profile as one device uses it: its analog channels turned into registers of the
    /// quantities and ranges the site file gives.
    pub fn for_device(&self, channels: &[ChannelConfig]) -> Result<Profile, String> {
        let mut p = self.clone();
        for c in channels {
            let def = self
                .channels
                .iter()
                .find(|d| d.channel == c.channel)
                .ok_or_else(|| {
                    format!(
                        "profile `{}` has no channel {} (it has {})",
                        self.name,
                        c.channel,
                        self.channels
                            .iter()
                            .map(|d| d.channel.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            let q = vocab::quantity(&c.quantity).map_err(|e| e.to_string())?;
            vocab::convert(1.0, &c.unit, q.unit).map_err(|e| e.to_string())?;
            let [low, high] = c.range;
            if !(low.is_finite() && high.is_finite()) || low == high {
                return Err(format!(
                    "channel {}: range must be two different numbers",
                    c.channel
                ));
            }
            let scale = (high - low) / (def.raw_high - def.raw_low);
            p.registers.push(RegisterDef {
                quantity: c.quantity.clone(),
                table: def.table,
                address: def.address,
                data_type: def.data_type,
                order: None,
                scale,
                offset: low - def.raw_low * scale,
                unit: c.unit.clone(),
                sentinel: None,
                poll: PollClass::Fast,
                bit: None,
                mask: None,
            });
        }
        let mut seen = HashSet::new();
        for r in &p.registers {
            if !seen.insert(r.quantity.as_str()) {
                return Err(format!("quantity `{}` is measured twice", r.quantity));
            }
        }
        Ok(p)
    }
}
