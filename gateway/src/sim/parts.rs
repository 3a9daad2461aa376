//! Which part of the simulated plant a device shows (`[devices.simulate] plant = "…"`) and
//! what it reports of the plant's state.

use serde::Deserialize;

use super::rng::Rng;
use super::snapshot::Snapshot;

/// Which part of the plant a simulated device shows (`[devices.simulate] plant = "…"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    /// Main incomer power meter.
    Incomer,
    /// Power meter on the load/unload compressor's feeder.
    CompressorFixed,
    /// Power meter on the VSD compressor's feeder.
    CompressorVsd,
    /// Power meter on the chiller's feeder.
    Chiller,
    /// Discharge pressure and header flow transmitters (4–20 mA, through an I/O module).
    AirHeader,
    /// Chilled-water supply and return temperatures and flow.
    ChilledWater,
    /// Outdoor temperature sensor.
    Weather,
    /// The production counter in the line's PLC.
    Production,
    /// Drives (their own power, frequency, speed, current and run bit): the chilled-water
    /// pump, the condenser-water pump, the cooling-tower fan, the exhaust fan.
    ChwPump,
    CwPump,
    TowerFan,
    ExhaustFan,
    /// Condenser-water supply/return temperatures, flow and the pump's differential pressure.
    CondenserWater,
    /// Steam flow and pressure, feedwater, flue-gas temperature and O2, combustion air.
    Boiler,
    /// The boiler's gas meter, by pulses on the meter board (total and rate).
    GasMeter,
    /// The exhaust duct's air flow and the fan's pressure rise.
    ExhaustDuct,
}

/// What a drive reports running a motor at `speed` (of 60 Hz, 1 770 rpm) drawing `kw`.
fn drive(kw: f64, speed: f64) -> std::collections::BTreeMap<&'static str, f64> {
    // 380 V, power factor 0.85 at the motor terminals.
    let amps = kw * 1000.0 / (3f64.sqrt() * 380.0 * 0.85);
    [
        ("active_power", kw),
        ("output_frequency", 60.0 * speed),
        ("motor_speed", 1770.0 * speed),
        ("motor_current", amps),
        ("run_state", f64::from(u8::from(kw > 0.0))),
    ]
    .into_iter()
    .collect()
}

/// The quantities (canonical units) a device on `part` reports for the plant's state.
pub fn part_values(
    part: Part,
    s: &Snapshot,
    voltage_ln: f64,
    frequency: f64,
    rng: &mut Rng,
) -> std::collections::BTreeMap<&'static str, f64> {
    use super::meter::three_phase;
    let meter = |kw: f64, kwh: f64, pf: f64, rng: &mut Rng| {
        let mut q = three_phase(kw, pf, voltage_ln, frequency, rng);
        q.insert("active_energy_import", kwh);
        q.insert("active_energy_export", 0.0);
        q
    };
    match part {
        Part::Incomer | Part::CompressorFixed | Part::CompressorVsd | Part::Chiller => {
            let (kw, pf) = feeder(part, s).unwrap_or_default();
            let kwh = match part {
                Part::Incomer => s.incomer_kwh,
                Part::CompressorFixed => s.fixed_kwh,
                Part::CompressorVsd => s.vsd_kwh,
                _ => s.chiller_kwh,
            };
            let mut q = meter(kw, kwh, pf, rng);
            let kvarh = match part {
                Part::Incomer => s.incomer_kvarh,
                Part::CompressorFixed => s.fixed_kvarh,
                Part::CompressorVsd => s.vsd_kvarh,
                _ => s.chiller_kvarh,
            };
            q.insert("reactive_energy_import", kvarh);
            q
        }
        Part::AirHeader => [("pressure", s.pressure_bar), ("air_flow", s.air_flow_m3min)]
            .into_iter()
            .collect(),
        Part::ChilledWater => [
            ("chw_supply_temp", s.chw_supply_c),
            ("chw_return_temp", s.chw_return_c),
            ("water_flow", s.chw_flow_m3h),
            ("differential_pressure", s.utilities.chw_dp_kpa),
        ]
        .into_iter()
        .collect(),
        Part::Weather => [
            ("outdoor_temp", s.outdoor_c),
            ("outdoor_humidity", s.utilities.humidity_pct),
            ("wet_bulb_temp", s.utilities.wet_bulb_c),
        ]
        .into_iter()
        .collect(),
        Part::Production => [("production_count", s.production_count.floor())]
            .into_iter()
            .collect(),
        Part::ChwPump => drive(s.utilities.chw_pump_kw, s.utilities.chw_pump_speed),
        Part::CwPump => drive(s.utilities.cw_pump_kw, 1.0),
        Part::TowerFan => drive(s.utilities.tower_fan_kw, s.utilities.tower_fan_speed),
        Part::ExhaustFan => drive(s.utilities.exhaust_kw, s.utilities.exhaust_speed),
        Part::CondenserWater => [
            ("cw_supply_temp", s.utilities.cw_supply_c),
            ("cw_return_temp", s.utilities.cw_return_c),
            ("water_flow", s.utilities.cw_flow_m3h),
            ("differential_pressure", s.utilities.cw_dp_kpa),
        ]
        .into_iter()
        .collect(),
        Part::Boiler => {
            let u = &s.utilities;
            [
                ("steam_flow", u.steam_tph),
                ("steam_pressure", u.steam_bar),
                ("feedwater_temp", u.feedwater_c),
                ("flue_gas_temp", u.flue_c),
                ("flue_gas_o2", u.flue_o2_pct),
                ("combustion_air_temp", u.combustion_air_c),
            ]
            .into_iter()
            .collect()
        }
        Part::GasMeter => [
            ("gas_volume", s.utilities.gas_m3),
            ("gas_flow", s.utilities.gas_m3h),
        ]
        .into_iter()
        .collect(),
        Part::ExhaustDuct => [
            ("air_flow", s.utilities.exhaust_flow_m3min),
            ("differential_pressure", s.utilities.exhaust_dp_kpa),
        ]
        .into_iter()
        .collect(),
    }
}

/// Active power (kW) and power factor of a power meter's feeder; `None` for other parts.
pub fn feeder(part: Part, s: &Snapshot) -> Option<(f64, f64)> {
    Some(match part {
        Part::Incomer => (s.incomer_kw, 0.9),
        Part::CompressorFixed => (s.fixed_kw, if s.fixed_loaded { 0.87 } else { 0.62 }),
        Part::CompressorVsd => (s.vsd_kw, if s.vsd_kw > 0.0 { 0.95 } else { 1.0 }),
        Part::Chiller => (s.chiller_kw, 0.88),
        _ => return None,
    })
}

pub(super) fn kvarh_register(part: Part, s: &mut Snapshot) -> &mut f64 {
    match part {
        Part::Incomer => &mut s.incomer_kvarh,
        Part::CompressorFixed => &mut s.fixed_kvarh,
        Part::CompressorVsd => &mut s.vsd_kvarh,
        _ => &mut s.chiller_kvarh,
    }
}

/// `[devices.simulate]` of a device that shows part of the simulated plant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartSettings {
    pub plant: Part,
    #[serde(default = "d_voltage")]
    pub voltage_ln: f64,
    #[serde(default = "d_frequency")]
    pub frequency: f64,
}

fn d_voltage() -> f64 {
    220.0
}

fn d_frequency() -> f64 {
    60.0
}
