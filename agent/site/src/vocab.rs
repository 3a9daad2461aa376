//! The quantity vocabulary and its units: the single definition that device profiles, the agent,
//! the gateway and the analytics share. A reading is always stored and published in the
//! canonical unit of its quantity; profiles state the unit the device uses and the conversion
//! happens once, at the edge, through [`convert`].

use thiserror::Error;

/// What a unit measures; conversion is only defined inside one dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    ActivePower,
    ReactivePower,
    ApparentPower,
    ActiveEnergy,
    ReactiveEnergy,
    ApparentEnergy,
    Voltage,
    Current,
    Frequency,
    Ratio,
    Pressure,
    VolumeFlow,
    WaterFlow,
    Volume,
    Temperature,
    Count,
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

const fn u(symbol: &'static str, dimension: Dimension, scale: f64, offset: f64) -> Unit {
    Unit {
        symbol,
        dimension,
        scale,
        offset,
    }
}

use Dimension as D;

/// Every unit kilowatch understands. Reference units: W, var, VA, Wh, varh, VAh, V, A, Hz,
/// ratio 1, bar, m³/min (air), m³/h (water), m³, °C, count.
pub static UNITS: &[Unit] = &[
    u("W", D::ActivePower, 1.0, 0.0),
    u("kW", D::ActivePower, 1e3, 0.0),
    u("MW", D::ActivePower, 1e6, 0.0),
    u("var", D::ReactivePower, 1.0, 0.0),
    u("kvar", D::ReactivePower, 1e3, 0.0),
    u("VA", D::ApparentPower, 1.0, 0.0),
    u("kVA", D::ApparentPower, 1e3, 0.0),
    u("Wh", D::ActiveEnergy, 1.0, 0.0),
    u("kWh", D::ActiveEnergy, 1e3, 0.0),
    u("MWh", D::ActiveEnergy, 1e6, 0.0),
    u("varh", D::ReactiveEnergy, 1.0, 0.0),
    u("kvarh", D::ReactiveEnergy, 1e3, 0.0),
    u("VAh", D::ApparentEnergy, 1.0, 0.0),
    u("kVAh", D::ApparentEnergy, 1e3, 0.0),
    u("V", D::Voltage, 1.0, 0.0),
    u("kV", D::Voltage, 1e3, 0.0),
    u("mA", D::Current, 1e-3, 0.0),
    u("A", D::Current, 1.0, 0.0),
    u("kA", D::Current, 1e3, 0.0),
    u("Hz", D::Frequency, 1.0, 0.0),
    u("", D::Ratio, 1.0, 0.0),
    u("%", D::Ratio, 0.01, 0.0),
    u("bar", D::Pressure, 1.0, 0.0),
    u("mbar", D::Pressure, 1e-3, 0.0),
    u("kPa", D::Pressure, 0.01, 0.0),
    u("MPa", D::Pressure, 10.0, 0.0),
    u("psi", D::Pressure, 0.068_947_572_9, 0.0),
    u("m³/min", D::VolumeFlow, 1.0, 0.0),
    u("Nm³/min", D::VolumeFlow, 1.0, 0.0),
    u("L/s", D::VolumeFlow, 0.06, 0.0),
    u("cfm", D::VolumeFlow, 0.028_316_846_592, 0.0),
    u("m³/h", D::WaterFlow, 1.0, 0.0),
    u("L/min", D::WaterFlow, 0.06, 0.0),
    u("gpm", D::WaterFlow, 0.227_124_707_2, 0.0),
    u("m³", D::Volume, 1.0, 0.0),
    u("L", D::Volume, 1e-3, 0.0),
    u("°C", D::Temperature, 1.0, 0.0),
    u("°F", D::Temperature, 5.0 / 9.0, -160.0 / 9.0),
    u("K", D::Temperature, 1.0, -273.15),
    u("count", D::Count, 1.0, 0.0),
];

/// ASCII spellings people type in configuration files.
const ALIASES: &[(&str, &str)] = &[
    ("m3/min", "m³/min"),
    ("Nm3/min", "Nm³/min"),
    ("m3/h", "m³/h"),
    ("m3", "m³"),
    ("degC", "°C"),
    ("C", "°C"),
    ("degF", "°F"),
    ("F", "°F"),
    ("VAr", "var"),
    ("kVAr", "kvar"),
    ("kVArh", "kvarh"),
    ("barg", "bar"),
    ("bar(g)", "bar"),
    ("1", ""),
];

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

const fn q(
    name: &'static str,
    unit: &'static str,
    kind: Kind,
    description: &'static str,
) -> Quantity {
    Quantity {
        name,
        unit,
        kind,
        description,
    }
}

use Kind::{Counter, Instantaneous, State};

/// The vocabulary. Adding a quantity is one line here; nothing else needs to change for the
/// agent and the store to carry it.
pub static QUANTITIES: &[Quantity] = &[
    q(
        "voltage_l1",
        "V",
        Instantaneous,
        "line-to-neutral voltage, phase 1",
    ),
    q(
        "voltage_l2",
        "V",
        Instantaneous,
        "line-to-neutral voltage, phase 2",
    ),
    q(
        "voltage_l3",
        "V",
        Instantaneous,
        "line-to-neutral voltage, phase 3",
    ),
    q(
        "voltage_l1_l2",
        "V",
        Instantaneous,
        "line-to-line voltage L1-L2",
    ),
    q(
        "voltage_l2_l3",
        "V",
        Instantaneous,
        "line-to-line voltage L2-L3",
    ),
    q(
        "voltage_l3_l1",
        "V",
        Instantaneous,
        "line-to-line voltage L3-L1",
    ),
    q("current_l1", "A", Instantaneous, "phase 1 current"),
    q("current_l2", "A", Instantaneous, "phase 2 current"),
    q("current_l3", "A", Instantaneous, "phase 3 current"),
    q("current_n", "A", Instantaneous, "neutral current"),
    q("active_power", "kW", Instantaneous, "total active power"),
    q(
        "active_power_l1",
        "kW",
        Instantaneous,
        "active power, phase 1",
    ),
    q(
        "active_power_l2",
        "kW",
        Instantaneous,
        "active power, phase 2",
    ),
    q(
        "active_power_l3",
        "kW",
        Instantaneous,
        "active power, phase 3",
    ),
    q(
        "reactive_power",
        "kvar",
        Instantaneous,
        "total reactive power",
    ),
    q(
        "apparent_power",
        "kVA",
        Instantaneous,
        "total apparent power",
    ),
    q(
        "power_factor",
        "",
        Instantaneous,
        "total power factor (kW/kVA)",
    ),
    q("frequency", "Hz", Instantaneous, "supply frequency"),
    q(
        "active_power_demand",
        "kW",
        Instantaneous,
        "meter's demand-interval average power",
    ),
    q(
        "active_energy_import",
        "kWh",
        Counter,
        "imported active energy register",
    ),
    q(
        "active_energy_export",
        "kWh",
        Counter,
        "exported active energy register",
    ),
    q(
        "reactive_energy_import",
        "kvarh",
        Counter,
        "imported reactive energy register",
    ),
    q(
        "reactive_energy_export",
        "kvarh",
        Counter,
        "exported reactive energy register",
    ),
    q(
        "apparent_energy",
        "kVAh",
        Counter,
        "apparent energy register",
    ),
    q("pressure", "bar", Instantaneous, "gauge pressure, bar(g)"),
    q(
        "air_flow",
        "m³/min",
        Instantaneous,
        "compressed-air flow, free air delivered",
    ),
    q("air_volume", "m³", Counter, "compressed-air totaliser"),
    q("water_flow", "m³/h", Instantaneous, "water flow"),
    q(
        "chw_supply_temp",
        "°C",
        Instantaneous,
        "chilled-water supply temperature",
    ),
    q(
        "chw_return_temp",
        "°C",
        Instantaneous,
        "chilled-water return temperature",
    ),
    q(
        "outdoor_temp",
        "°C",
        Instantaneous,
        "outdoor dry-bulb temperature",
    ),
    q("temperature", "°C", Instantaneous, "temperature"),
    q(
        "load_state",
        "",
        State,
        "compressor loaded (1) or unloaded (0)",
    ),
    q("production_count", "count", Counter, "production counter"),
    q(
        "gas_volume",
        "m³",
        Counter,
        "fuel gas meter (natural gas, LPG vapour), for scope 1 CO2e",
    ),
    q(
        "fuel_volume",
        "L",
        Counter,
        "liquid fuel meter (diesel, fuel oil), for scope 1 CO2e",
    ),
];

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
