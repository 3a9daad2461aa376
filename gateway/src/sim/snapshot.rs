//! The simulated plant's state at one instant, as its meters and sensors can show it.

use super::utilities::UtilitySnapshot;

/// Everything the plant's meters and sensors can show at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub production_fraction: f64,
    pub production_count: f64,
    pub outdoor_c: f64,
    pub pressure_bar: f64,
    pub air_flow_m3min: f64,
    pub air_volume_m3: f64,
    pub fixed_kw: f64,
    pub fixed_loaded: bool,
    pub vsd_kw: f64,
    pub chiller_kw: f64,
    pub cooling_tr: f64,
    pub chw_supply_c: f64,
    pub chw_return_c: f64,
    pub chw_flow_m3h: f64,
    pub incomer_kw: f64,
    /// Energy registers (kWh) of each power meter: incomer, fixed, VSD, chiller.
    pub incomer_kwh: f64,
    pub fixed_kwh: f64,
    pub vsd_kwh: f64,
    pub chiller_kwh: f64,
    /// Reactive energy registers (kvarh) of the same meters, at each feeder's power factor.
    pub incomer_kvarh: f64,
    pub fixed_kvarh: f64,
    pub vsd_kvarh: f64,
    pub chiller_kvarh: f64,
    /// Energy saved so far by each measure (kWh), from the counterfactual twins.
    pub saved_leak_kwh: f64,
    pub saved_chiller_kwh: f64,
    /// Pumps, tower, boiler, exhaust fan.
    pub utilities: UtilitySnapshot,
}
