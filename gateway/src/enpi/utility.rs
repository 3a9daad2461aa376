//! The utility assets beyond compressors, chillers and the plant: pumps, fans, boilers, cooling
//! towers, chilled-water plants, heat recovery and lighting. One module per type (pump.rs,
//! fan.rs, …) holds its `[[assets]]` table, its quarter-hour facts and its indicators; this
//! module dispatches to them; what they share is in `utility_inputs`.

use kilowatch_site::config::ConfigError;

use super::boiler::BoilerSpec;
use super::chw_plant::ChwPlantSpec;
use super::cooling_tower::TowerSpec;
use super::defs::{Definition, Span, V};
use super::facts::Facts;
use super::fan::FanSpec;
use super::heat_recovery::HeatRecoverySpec;
use super::inputs::Loader;
use super::lighting::LightingSpec;
use super::pump::PumpSpec;
pub use super::utility_inputs::{Check, Site};
use crate::store::StoreError;

/// The `type` of each utility asset.
pub const KINDS: [&str; 7] = [
    "pump",
    "fan",
    "boiler",
    "cooling_tower",
    "chw_plant",
    "heat_recovery",
    "lighting",
];

#[derive(Debug, Clone)]
pub enum Utility {
    Pump(PumpSpec),
    Fan(FanSpec),
    Boiler(Box<BoilerSpec>),
    CoolingTower(TowerSpec),
    ChwPlant(ChwPlantSpec),
    HeatRecovery(HeatRecoverySpec),
    Lighting(LightingSpec),
}

pub type DeError = serde_path_to_error::Error<toml::de::Error>;

/// The utility asset of type `kind` from its table, `None` when `kind` is not one.
pub fn parse(kind: &str, value: toml::Value) -> Option<Result<Utility, DeError>> {
    use serde_path_to_error::deserialize as de;
    Some(match kind {
        "pump" => de(value).map(Utility::Pump),
        "fan" => de(value).map(Utility::Fan),
        "boiler" => de(value).map(|b| Utility::Boiler(Box::new(b))),
        "cooling_tower" => de(value).map(Utility::CoolingTower),
        "chw_plant" => de(value).map(Utility::ChwPlant),
        "heat_recovery" => de(value).map(Utility::HeatRecovery),
        "lighting" => de(value).map(Utility::Lighting),
        _ => return None,
    })
}

/// Every spec's identity fields.
macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Utility::Pump($s) => $e,
            Utility::Fan($s) => $e,
            Utility::Boiler($s) => $e,
            Utility::CoolingTower($s) => $e,
            Utility::ChwPlant($s) => $e,
            Utility::HeatRecovery($s) => $e,
            Utility::Lighting($s) => $e,
        }
    };
}

impl Utility {
    pub fn id(&self) -> &str {
        each!(self, s => &s.id)
    }

    pub fn name(&self) -> Option<&str> {
        each!(self, s => s.name.as_deref())
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Utility::Pump(_) => KINDS[0],
            Utility::Fan(_) => KINDS[1],
            Utility::Boiler(_) => KINDS[2],
            Utility::CoolingTower(_) => KINDS[3],
            Utility::ChwPlant(_) => KINDS[4],
            Utility::HeatRecovery(_) => KINDS[5],
            Utility::Lighting(_) => KINDS[6],
        }
    }

    /// Every power-meter device whose energy the asset counts.
    pub fn power(&self) -> Vec<String> {
        match self {
            Utility::ChwPlant(c) => c.all_devices(),
            Utility::Pump(s) => s.power.clone(),
            Utility::Fan(s) => s.power.clone(),
            Utility::Boiler(s) => s.power.clone(),
            Utility::CoolingTower(s) => s.power.clone(),
            Utility::HeatRecovery(s) => s.power.clone(),
            Utility::Lighting(s) => s.power.clone(),
        }
    }

    /// Checks inputs and constants (and resolves fuels); errors name the key.
    pub fn check(&mut self, c: &Check<'_>) -> Result<(), ConfigError> {
        each!(self, s => s.check(c))
    }

    pub fn facts(
        &self,
        loader: &mut Loader<'_>,
        assets: &Site<'_>,
        out: &mut [Facts],
    ) -> Result<(), StoreError> {
        each!(self, s => s.facts(loader, assets, out))
    }

    pub fn definitions(&self, assets: &Site<'_>) -> Vec<Definition> {
        each!(self, s => s.definitions(assets))
    }

    pub fn compute(&self, assets: &Site<'_>, f: &Facts, span: Span) -> Vec<(&'static str, V)> {
        each!(self, s => s.compute(assets, f, span))
    }
}
