//! Identification fields of a device (model, serial number, firmware), read on demand and never
//! published as readings.

use serde::Deserialize;

use super::Table;
use crate::decode::{self, DataType, WordOrder};

/// One identification field of a device.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfoDef {
    /// Field name, e.g. `serial_number`, `model`.
    pub name: String,
    pub table: Table,
    pub address: u16,
    #[serde(rename = "type")]
    pub data_type: InfoType,
    /// Registers a `string` occupies (two characters each).
    pub length: Option<u16>,
    pub order: Option<WordOrder>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InfoType {
    String,
    U16,
    U32,
}

impl InfoDef {
    /// Registers to read.
    pub fn words(&self) -> u16 {
        match self.data_type {
            InfoType::String => self.length.unwrap_or(0),
            InfoType::U16 => 1,
            InfoType::U32 => 2,
        }
    }

    /// The field's value from its registers: text, or the number as text.
    pub fn decode(&self, words: &[u16], default_order: WordOrder) -> String {
        let order = self.order.unwrap_or(default_order);
        match self.data_type {
            InfoType::String => decode::decode_string(words, order),
            InfoType::U16 => words.first().map_or(String::new(), |w| w.to_string()),
            InfoType::U32 => decode::decode(words, DataType::U32, order)
                .map(|v| format!("{v}"))
                .unwrap_or_default(),
        }
    }
}
