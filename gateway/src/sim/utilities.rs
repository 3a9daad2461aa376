//! The plant's other utilities: the chilled- and condenser-water loops with their pumps on
//! drives, a cooling tower, a gas-fired steam boiler with flue-gas measurement and an exhaust
//! fan. Each follows the textbook relation its EnPI inverts, so the indicators recovered from
//! the meters can be checked against the simulator:
//!
//! - pumps and fans: the affinity laws (Q ∝ n, Δp ∝ n², P ∝ n³ on a friction-only system),
//!   electrical power = Q·Δp / (wire-to-water or system efficiency);
//! - cooling tower: range = heat rejected / (flow × cp); approach grows with load and falls
//!   with fan speed and wet bulb (the shape of CTI performance curves); wet bulb from dry bulb
//!   and relative humidity (Stull 2011); fan power ∝ speed³;
//! - boiler: efficiency = 100 − Siegert flue-gas loss − radiation and blowdown losses; fuel =
//!   steam heat / efficiency / net heating value.
//!
//! Retrofits with a counterfactual: a drive slowing the chilled-water pump (`pump_vfd`), O2
//! trim on the boiler burner (`boiler_o2_trim`) and a drive slowing the exhaust fan outside
//! production (`fan_vfd`); what each saved accumulates in the snapshot.

use chrono::NaiveDate;
use serde::Deserialize;

/// Specific heat of water, kJ/(kg·K), and density taken as 1 000 kg/m³ (as the EnPIs do).
const CP_WATER: f64 = 4.186;
/// kPa per metre of head: ρ·g with water at 20 °C (998.2 kg/m³).
const KPA_PER_M: f64 = 998.2 * 9.806_65 / 1000.0;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PumpSettings {
    /// Head at the design flow, full speed, m.
    pub head_m: f64,
    /// Wire-to-water efficiency (motor, drive and pump together).
    pub wire_to_water: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TowerSettings {
    /// Condenser-water flow (constant-speed pump), m³/h.
    pub cw_flow_m3h: f64,
    /// Heat rejected at design, kW, and the approach there (fan at full speed, 26 °C wet bulb).
    pub design_kw: f64,
    pub design_approach_c: f64,
    /// Fan motor power at full speed, kW; the drive's minimum speed.
    pub fan_kw: f64,
    pub fan_min_speed: f64,
}

impl Default for TowerSettings {
    fn default() -> Self {
        Self {
            cw_flow_m3h: 110.0,
            design_kw: 700.0,
            design_approach_c: 3.5,
            fan_kw: 11.0,
            fan_min_speed: 0.3,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BoilerSettings {
    /// Steam demand: constant and at full production, t/h; the boiler's rating.
    pub base_tph: f64,
    pub process_tph: f64,
    pub rated_tph: f64,
    /// Header pressure (bar g) and the enthalpy of dry saturated steam there (IAPWS-IF97 at
    /// 8 bar g = 9.013 bar a: 2 773.1 kJ/kg, as the EnPI's steam table interpolates it).
    pub steam_bar: f64,
    pub steam_h_kj_kg: f64,
    pub feedwater_c: f64,
    /// Flue-gas O2 (% dry) before any trim; stack temperature at no load and at full load.
    pub o2_pct: f64,
    pub flue_min_c: f64,
    pub flue_full_c: f64,
    /// Combustion air: the boiler room, this much above outdoors.
    pub room_above_outdoor_c: f64,
    /// Radiation and blowdown losses, % of fuel.
    pub other_losses_pct: f64,
    /// Siegert constants of natural gas (1. BImSchV, as seeds/fuels.toml).
    pub siegert_a2: f64,
    pub siegert_b: f64,
    /// Net heating value of the gas, kWh/m³ (MOEA table: 8 107 kcal/m³).
    pub gas_kwh_per_m3: f64,
}

impl Default for BoilerSettings {
    fn default() -> Self {
        Self {
            base_tph: 0.4,
            process_tph: 1.4,
            rated_tph: 3.0,
            steam_bar: 8.0,
            steam_h_kj_kg: 2773.1,
            feedwater_c: 85.0,
            o2_pct: 6.0,
            flue_min_c: 160.0,
            flue_full_c: 220.0,
            room_above_outdoor_c: 8.0,
            other_losses_pct: 1.5,
            siegert_a2: 0.66,
            siegert_b: 0.009,
            gas_kwh_per_m3: 8107.0 * 4.1868 / 3600.0,
        }
    }
}

impl BoilerSettings {
    /// Siegert flue-gas loss, % of fuel: (t_flue − t_air) × (A2 / (21 − O2) + B).
    pub fn flue_loss_pct(&self, flue_c: f64, air_c: f64, o2: f64) -> f64 {
        (flue_c - air_c) * (self.siegert_a2 / (21.0 - o2) + self.siegert_b)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FanSettings {
    /// Design flow (m³/min) and total pressure rise (kPa) at full speed; system efficiency.
    pub flow_m3min: f64,
    pub pressure_kpa: f64,
    pub efficiency: f64,
}

impl Default for FanSettings {
    fn default() -> Self {
        Self {
            flow_m3min: 600.0,
            pressure_kpa: 0.8,
            efficiency: 0.55,
        }
    }
}

/// A drive on the chilled-water pump, run at `speed` of the old fixed speed from `date`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PumpVfd {
    pub date: NaiveDate,
    pub speed: f64,
}

/// O2 trim on the boiler burner: flue-gas O2 held at `o2_pct` from `date`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct O2Trim {
    pub date: NaiveDate,
    pub o2_pct: f64,
}

/// A drive on the exhaust fan, slowed to `idle_speed` while nothing is produced, from `date`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FanVfd {
    pub date: NaiveDate,
    pub idle_speed: f64,
}

pub fn default_chw_pump() -> PumpSettings {
    PumpSettings {
        head_m: 28.0,
        wire_to_water: 0.62,
    }
}

pub fn default_cw_pump() -> PumpSettings {
    PumpSettings {
        head_m: 22.0,
        wire_to_water: 0.60,
    }
}

/// Flow (m³/h), differential pressure (kPa) and electrical kW of a pump at `speed`.
pub fn pump_point(p: &PumpSettings, design_m3h: f64, speed: f64) -> (f64, f64, f64) {
    let q = design_m3h * speed;
    let dp = KPA_PER_M * p.head_m * speed * speed;
    (q, dp, q / 3600.0 * dp / p.wire_to_water)
}

/// Flow (m³/min), pressure rise (kPa) and electrical kW of the fan at `speed`.
pub fn fan_point(f: &FanSettings, speed: f64) -> (f64, f64, f64) {
    let q = f.flow_m3min * speed;
    let dp = f.pressure_kpa * speed * speed;
    (q, dp, q / 60.0 * dp / f.efficiency)
}

/// Wet bulb from dry bulb (°C) and relative humidity (%), Stull (2011).
pub fn stull_wet_bulb(t: f64, rh: f64) -> f64 {
    t * (0.151_977 * (rh + 8.313_659).sqrt()).atan() + (t + rh).atan() - (rh - 1.676_331).atan()
        + 0.003_918_38 * rh.powf(1.5) * (0.023_101 * rh).atan()
        - 4.686_035
}

/// What the utilities show at one instant, and what their retrofits saved so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UtilitySnapshot {
    pub chw_pump_speed: f64,
    pub chw_pump_kw: f64,
    pub chw_flow_m3h: f64,
    pub chw_dp_kpa: f64,
    pub cw_pump_kw: f64,
    pub cw_flow_m3h: f64,
    pub cw_dp_kpa: f64,
    pub cw_supply_c: f64,
    pub cw_return_c: f64,
    pub heat_rejected_kw: f64,
    pub tower_fan_speed: f64,
    pub tower_fan_kw: f64,
    pub humidity_pct: f64,
    pub wet_bulb_c: f64,
    pub steam_tph: f64,
    pub steam_bar: f64,
    pub feedwater_c: f64,
    pub flue_c: f64,
    pub flue_o2_pct: f64,
    pub combustion_air_c: f64,
    pub boiler_efficiency_pct: f64,
    pub fuel_kw: f64,
    pub gas_m3h: f64,
    /// The gas meter's register, m³.
    pub gas_m3: f64,
    pub exhaust_speed: f64,
    pub exhaust_kw: f64,
    pub exhaust_flow_m3min: f64,
    pub exhaust_dp_kpa: f64,
    /// Electricity (pump, fan) and fuel energy (boiler, net basis) saved so far, kWh.
    pub saved_pump_kwh: f64,
    pub saved_boiler_kwh: f64,
    pub saved_fan_kwh: f64,
}

/// What the rest of the plant hands the utilities for one step.
pub struct Inputs {
    pub date: NaiveDate,
    pub production: f64,
    pub outdoor_c: f64,
    /// Relative humidity, %: slow, so the wet bulb is recomputed only when it is refreshed.
    pub humidity_pct: Option<f64>,
    pub cooling_kw: f64,
    pub chiller_kw: f64,
    pub chw_design_m3h: f64,
}

/// The utilities' settings, as [plant] holds them.
pub struct Settings<'a> {
    pub chw_pump: &'a PumpSettings,
    pub cw_pump: &'a PumpSettings,
    pub tower: &'a TowerSettings,
    pub boiler: &'a BoilerSettings,
    pub exhaust_fan: &'a FanSettings,
    pub pump_vfd: Option<&'a PumpVfd>,
    pub o2_trim: Option<&'a O2Trim>,
    pub fan_vfd: Option<&'a FanVfd>,
}

/// Advances the utilities by `dt` seconds (the state is algebraic but for the counters).
pub fn step(s: &Settings<'_>, i: &Inputs, u: &mut UtilitySnapshot, dt: f64) {
    let h = dt / 3600.0;
    // Chilled-water pump: fixed speed, or slowed by its drive after the retrofit.
    let vfd = s.pump_vfd.filter(|v| i.date >= v.date);
    let speed = vfd.map_or(1.0, |v| v.speed);
    let (q, dp, kw) = pump_point(s.chw_pump, i.chw_design_m3h, speed);
    (
        u.chw_pump_speed,
        u.chw_flow_m3h,
        u.chw_dp_kpa,
        u.chw_pump_kw,
    ) = (speed, q, dp, kw);
    if vfd.is_some() {
        let (_, _, full) = pump_point(s.chw_pump, i.chw_design_m3h, 1.0);
        u.saved_pump_kwh += (full - kw) * h;
    }

    // Condenser water and the tower: the chiller rejects its cooling plus its own power.
    let t = s.tower;
    let (q, dp, kw) = pump_point(s.cw_pump, t.cw_flow_m3h, 1.0);
    (u.cw_flow_m3h, u.cw_dp_kpa, u.cw_pump_kw) = (q, dp, kw);
    if let Some(rh) = i.humidity_pct {
        u.humidity_pct = rh;
        u.wet_bulb_c = stull_wet_bulb(i.outdoor_c, rh);
    }
    let rejected = i.cooling_kw + i.chiller_kw;
    let load = rejected / t.design_kw;
    let fan = (t.fan_min_speed + (1.0 - t.fan_min_speed) * load).clamp(t.fan_min_speed, 1.0);
    // More heat per unit of air widens the approach; a colder, drier day widens it a little.
    let approach = (t.design_approach_c * load.max(0.0).sqrt() / (0.4 + 0.6 * fan)
        * (1.0 + 0.02 * (26.0 - u.wet_bulb_c)))
        .max(0.3);
    let range = rejected / (u.cw_flow_m3h / 3.6 * CP_WATER);
    u.heat_rejected_kw = rejected;
    u.tower_fan_speed = fan;
    u.tower_fan_kw = t.fan_kw * fan * fan * fan;
    u.cw_supply_c = u.wet_bulb_c + approach;
    u.cw_return_c = u.cw_supply_c + range;

    // Boiler: steam for the process, gas from the steam heat and the Siegert efficiency.
    let b = s.boiler;
    let steam = (b.base_tph + b.process_tph * i.production).min(b.rated_tph);
    let flue = b.flue_min_c + (b.flue_full_c - b.flue_min_c) * steam / b.rated_tph;
    let air = i.outdoor_c + b.room_above_outdoor_c;
    let trim = s.o2_trim.filter(|o| i.date >= o.date);
    let o2 = trim.map_or(b.o2_pct, |o| o.o2_pct);
    let efficiency = |o2: f64| 100.0 - b.flue_loss_pct(flue, air, o2) - b.other_losses_pct;
    let steam_kw = steam / 3.6 * (b.steam_h_kj_kg - CP_WATER * b.feedwater_c);
    let fuel_kw = steam_kw * 100.0 / efficiency(o2);
    u.steam_tph = steam;
    u.steam_bar = b.steam_bar;
    u.feedwater_c = b.feedwater_c;
    u.flue_c = flue;
    u.flue_o2_pct = o2;
    u.combustion_air_c = air;
    u.boiler_efficiency_pct = efficiency(o2);
    u.fuel_kw = fuel_kw;
    u.gas_m3h = fuel_kw / b.gas_kwh_per_m3;
    u.gas_m3 += u.gas_m3h * h;
    if trim.is_some() {
        u.saved_boiler_kwh += (steam_kw * 100.0 / efficiency(b.o2_pct) - fuel_kw) * h;
    }

    // Exhaust fan: full speed, or idling on its drive when nothing is produced.
    let fan_vfd = s.fan_vfd.filter(|v| i.date >= v.date);
    let speed = match fan_vfd {
        Some(v) if i.production <= 0.0 => v.idle_speed,
        _ => 1.0,
    };
    let (q, dp, kw) = fan_point(s.exhaust_fan, speed);
    (
        u.exhaust_speed,
        u.exhaust_flow_m3min,
        u.exhaust_dp_kpa,
        u.exhaust_kw,
    ) = (speed, q, dp, kw);
    if fan_vfd.is_some() {
        u.saved_fan_kwh += (fan_point(s.exhaust_fan, 1.0).2 - kw) * h;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affinity_laws_and_hydraulic_power() {
        let p = default_chw_pump();
        let (q1, dp1, kw1) = pump_point(&p, 90.0, 1.0);
        let (q2, dp2, kw2) = pump_point(&p, 90.0, 0.8);
        assert!((q2 / q1 - 0.8).abs() < 1e-12);
        assert!((dp2 / dp1 - 0.64).abs() < 1e-12);
        assert!((kw2 / kw1 - 0.512).abs() < 1e-12);
        // ρ·g·Q·H / η: 998.2 × 9.80665 × 0.025 m³/s × 28 m / 0.62 = 11.05 kW.
        let by_hand = 998.2 * 9.806_65 * (90.0 / 3600.0) * 28.0 / 0.62 / 1000.0;
        assert!((kw1 - by_hand).abs() < 1e-9, "{kw1} vs {by_hand}");
    }

    #[test]
    fn stull_matches_the_papers_example() {
        // Stull (2011): 20 °C and 50 % RH give a wet bulb of 13.7 °C.
        assert!((stull_wet_bulb(20.0, 50.0) - 13.7).abs() < 0.05);
    }

    #[test]
    fn o2_trim_lowers_the_flue_loss() {
        let b = BoilerSettings::default();
        let (hi, lo) = (
            b.flue_loss_pct(200.0, 30.0, 6.0),
            b.flue_loss_pct(200.0, 30.0, 3.0),
        );
        // 170 K × (0.66/15 + 0.009) = 9.01 %; at 3 % O2 7.76 %.
        assert!((hi - 170.0 * (0.044 + 0.009)).abs() < 1e-9);
        assert!(lo < hi - 1.0, "{lo} vs {hi}");
    }
}
