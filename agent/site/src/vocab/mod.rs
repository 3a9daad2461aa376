//! The quantity vocabulary and its units: the single definition that device profiles, the agent,
//! the gateway and the analytics share. A reading is always stored and published in the
//! canonical unit of its quantity; profiles state the unit the device uses and the conversion
//! happens once, at the edge, through [`convert`].

use thiserror::Error;

pub mod heat_content;
mod quantities;
mod units;

pub use heat_content::HeatContent;
pub use quantities::QUANTITIES;
use units::ALIASES;
pub use units::UNITS;

/// What a unit measures; conversion is only defined inside one dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// Active electrical power and thermal power alike.
    Power,
    ReactivePower,
    ApparentPower,
    /// Active electrical energy and heat alike.
    Energy,
    ReactiveEnergy,
    ApparentEnergy,
    Voltage,
    Current,
    Frequency,
    Ratio,
    Pressure,
    /// Compressed-air flow (reference m³/min).
    VolumeFlow,
    /// Liquid and fuel-gas flow (reference m³/h).
    WaterFlow,
    Volume,
    Temperature,
    Count,
    Mass,
    MassFlow,
    /// Pump head.
    Length,
    RotationalSpeed,
    /// Running time (reference hours).
    Duration,
    /// 公秉油當量: reached from energy or fuel only through the heat-content table.
    OilEquivalent,
}

/// A unit symbol and its affine map onto the dimension's reference unit:
/// `reference = value * scale + offset`.
#[derive(Debug, PartialEq)]
pub struct Unit {
    pub symbol: &'static str,
    pub dimension: Dimension,
    pub scale: f64,
    pub offset: f64,
}

/// Looks a unit up by symbol or common ASCII alias.
pub fn unit(symbol: &str) -> Option<&'static Unit> {
    let symbol = ALIASES
        .iter()
        .find(|(alias, _)| *alias == symbol)
        .map_or(symbol, |(_, canonical)| canonical);
    UNITS.iter().find(|u| u.symbol == symbol)
}

#[derive(Debug, Error, PartialEq)]
pub enum VocabError {
    #[error("unknown unit `{0}`")]
    UnknownUnit(String),
    #[error("unknown quantity `{0}` (see `kilowatch-agent quantities`)")]
    UnknownQuantity(String),
    #[error("cannot convert `{from}` to `{to}`: they measure different things")]
    Incompatible { from: String, to: String },
}

/// Converts `value` from one unit to another of the same dimension.
pub fn convert(value: f64, from: &str, to: &str) -> Result<f64, VocabError> {
    Ok(Conversion::new(from, to)?.apply(value))
}

/// A unit conversion looked up once, for hot loops (the agent converts every register it reads).
#[derive(Debug, Clone, Copy)]
pub struct Conversion {
    from: &'static Unit,
    to: &'static Unit,
}

impl Conversion {
    pub fn new(from: &str, to: &str) -> Result<Self, VocabError> {
        let f = unit(from).ok_or_else(|| VocabError::UnknownUnit(from.to_owned()))?;
        let t = unit(to).ok_or_else(|| VocabError::UnknownUnit(to.to_owned()))?;
        if f.dimension != t.dimension {
            return Err(VocabError::Incompatible {
                from: from.to_owned(),
                to: to.to_owned(),
            });
        }
        Ok(Self { from: f, to: t })
    }

    /// The target unit's canonical symbol.
    pub fn target(&self) -> &'static str {
        self.to.symbol
    }

    pub fn apply(&self, value: f64) -> f64 {
        let (f, t) = (self.from, self.to);
        if std::ptr::eq(f, t) {
            return value;
        }
        (value * f.scale + f.offset - t.offset) / t.scale
    }
}

/// How a quantity behaves over time, which decides how it is aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value at an instant (power, temperature): averaged.
    Instantaneous,
    /// A monotonic register (energy, volume, production count): differenced.
    Counter,
    /// A discrete state (compressor loaded = 1): time-weighted fraction.
    State,
}

/// One canonical quantity.
#[derive(Debug, PartialEq)]
pub struct Quantity {
    pub name: &'static str,
    /// The canonical unit symbol every reading of this quantity carries.
    pub unit: &'static str,
    pub kind: Kind,
    pub description: &'static str,
}

/// Looks a quantity up by canonical name.
pub fn quantity(name: &str) -> Result<&'static Quantity, VocabError> {
    QUANTITIES
        .iter()
        .find(|q| q.name == name)
        .ok_or_else(|| VocabError::UnknownQuantity(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_and_energy_scale() {
        assert_eq!(convert(12_300.0, "W", "kW").unwrap(), 12.3);
        assert_eq!(convert(1.5, "MWh", "kWh").unwrap(), 1500.0);
        assert_eq!(convert(4.0, "kVAr", "var").unwrap(), 4000.0);
    }

    #[test]
    fn temperature_is_affine() {
        assert!((convert(212.0, "°F", "°C").unwrap() - 100.0).abs() < 1e-9);
        assert!((convert(0.0, "°C", "K").unwrap() - 273.15).abs() < 1e-9);
        assert!((convert(44.6, "degF", "C").unwrap() - 7.0).abs() < 1e-9);
    }

    #[test]
    fn flow_units() {
        // 100 cfm = 2.8317 m³/min
        assert!((convert(100.0, "cfm", "m3/min").unwrap() - 2.831_684_659_2).abs() < 1e-9);
        assert!((convert(100.0, "L/min", "m³/h").unwrap() - 6.0).abs() < 1e-9);
    }

    #[test]
    fn heat_and_thermal_power_convert_like_electricity() {
        // 1 GJ = 10^9 J / 3.6·10^6 J/kWh = 277.777… kWh.
        assert!((convert(1.0, "GJ", "kWh").unwrap() - 277.777_777_777_777_8).abs() < 1e-9);
        // 1 Gcal (IT) = 4.1868 GJ = 1 163 kWh.
        assert!((convert(1.0, "Gcal", "kWh").unwrap() - 1163.0).abs() < 1e-9);
        // 1 RT = 12 000 Btu/h = 3.516 853 kW.
        assert!((convert(1.0, "TR", "kW").unwrap() - 3.516_852_842).abs() < 1e-9);
        assert!((convert(1.0, "MMBtu", "kWh").unwrap() - 293.071_070_172).abs() < 1e-6);
    }

    #[test]
    fn mass_flow_head_speed_and_hours() {
        assert_eq!(convert(2.5, "t/h", "kg/h").unwrap(), 2500.0);
        assert_eq!(convert(1.0, "kg/s", "t/h").unwrap(), 3.6);
        assert_eq!(convert(1.5, "tonne", "kg").unwrap(), 1500.0);
        assert!((convert(10.0, "ft", "m").unwrap() - 3.048).abs() < 1e-12);
        // 10 m of water column = 98.0665 kPa; 1 kgf/cm² = 98.0665 kPa.
        assert!((convert(10.0, "mH2O", "kPa").unwrap() - 98.0665).abs() < 1e-9);
        assert!((convert(1.0, "kgf/cm2", "kPa").unwrap() - 98.0665).abs() < 1e-9);
        assert!((convert(250.0, "mmAq", "Pa").unwrap() - 2451.6625).abs() < 1e-9);
        assert_eq!(convert(1480.0, "r/min", "rpm").unwrap(), 1480.0);
        assert_eq!(convert(3.0, "d", "h").unwrap(), 72.0);
        assert_eq!(convert(90.0, "min", "h").unwrap(), 1.5);
        assert_eq!(convert(2.0, "KL", "m³").unwrap(), 2.0);
        assert_eq!(convert(21.0, "%vol", "%").unwrap(), 21.0);
    }

    #[test]
    fn oil_equivalent_is_reached_only_through_the_table() {
        // A plain unit conversion would give 0.085 985 kLOE per MWh; the table says 0.086.
        assert!(matches!(
            convert(1.0, "MWh", "kLOE"),
            Err(VocabError::Incompatible { .. })
        ));
        assert_eq!(convert(1.0, "kLOE", "LOE").unwrap(), 1000.0);
    }

    #[test]
    fn every_unit_symbol_and_alias_is_unique_and_resolves() {
        for (i, u) in UNITS.iter().enumerate() {
            assert!(
                UNITS[i + 1..].iter().all(|o| o.symbol != u.symbol),
                "duplicate unit {}",
                u.symbol
            );
            assert!(u.scale.is_finite() && u.scale > 0.0, "{}", u.symbol);
        }
        for (alias, canonical) in ALIASES {
            assert!(
                unit(canonical).is_some(),
                "alias {alias} → unknown {canonical}"
            );
            assert!(
                UNITS.iter().all(|u| u.symbol != *alias),
                "alias {alias} shadows a unit"
            );
        }
    }

    #[test]
    fn the_utility_systems_have_their_quantities() {
        for (name, unit) in [
            ("mass_flow", "kg/h"),
            ("steam_flow", "t/h"),
            ("heat_energy", "kWh"),
            ("thermal_power", "kW"),
            ("differential_pressure", "kPa"),
            ("pump_head", "m"),
            ("motor_speed", "rpm"),
            ("output_frequency", "Hz"),
            ("running_hours", "h"),
            ("cw_supply_temp", "°C"),
            ("cw_return_temp", "°C"),
            ("flue_gas_o2", "%"),
            ("flue_gas_temp", "°C"),
            ("water_volume", "m³"),
            ("coal_mass", "t"),
            ("lpg_mass", "kg"),
            ("gas_volume", "m³"),
        ] {
            assert_eq!(quantity(name).unwrap().unit, unit, "{name}");
        }
        assert_eq!(quantity("heat_energy").unwrap().kind, Kind::Counter);
        assert_eq!(quantity("run_state").unwrap().kind, Kind::State);
    }

    #[test]
    fn different_dimensions_refuse() {
        assert!(matches!(
            convert(1.0, "kW", "kWh"),
            Err(VocabError::Incompatible { .. })
        ));
        assert_eq!(
            convert(1.0, "furlong", "kW"),
            Err(VocabError::UnknownUnit("furlong".into()))
        );
    }

    #[test]
    fn every_quantity_has_a_known_unique_unit_and_name() {
        for (i, q) in QUANTITIES.iter().enumerate() {
            assert!(
                unit(q.unit).is_some(),
                "{} has unknown unit {}",
                q.name,
                q.unit
            );
            assert!(
                QUANTITIES[i + 1..].iter().all(|o| o.name != q.name),
                "duplicate quantity {}",
                q.name
            );
        }
        assert_eq!(quantity("active_power").unwrap().unit, "kW");
        assert!(quantity("activepower").is_err());
    }
}
