//! `device/quantity` references to stored series, as the site file's assets name them.

use serde::{Deserialize, Deserializer};

/// `device/quantity`, e.g. `air-header/air_flow`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRef {
    pub device: String,
    pub quantity: String,
}

impl std::fmt::Display for SeriesRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.device, self.quantity)
    }
}

impl<'de> Deserialize<'de> for SeriesRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let (device, quantity) = text.split_once('/').ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` must be `device/quantity`, e.g. `air-header/air_flow`"
            ))
        })?;
        kilowatch_site::vocab::quantity(quantity).map_err(serde::de::Error::custom)?;
        Ok(Self {
            device: device.to_owned(),
            quantity: quantity.to_owned(),
        })
    }
}
