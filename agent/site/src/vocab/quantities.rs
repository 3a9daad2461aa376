//! The vocabulary: every canonical quantity, its unit and how it behaves over time. Adding a
//! quantity is one line here; nothing else needs to change for the agent and the store to
//! carry it (`kilowatch-agent quantities` lists this table).

use super::Kind::{self, Counter, Instantaneous, State};
use super::Quantity;

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

#[rustfmt::skip]
pub static QUANTITIES: &[Quantity] = &[
    // Electricity.
    q("voltage_l1", "V", Instantaneous, "line-to-neutral voltage, phase 1"),
    q("voltage_l2", "V", Instantaneous, "line-to-neutral voltage, phase 2"),
    q("voltage_l3", "V", Instantaneous, "line-to-neutral voltage, phase 3"),
    q("voltage_l1_l2", "V", Instantaneous, "line-to-line voltage L1-L2"),
    q("voltage_l2_l3", "V", Instantaneous, "line-to-line voltage L2-L3"),
    q("voltage_l3_l1", "V", Instantaneous, "line-to-line voltage L3-L1"),
    q("current_l1", "A", Instantaneous, "phase 1 current"),
    q("current_l2", "A", Instantaneous, "phase 2 current"),
    q("current_l3", "A", Instantaneous, "phase 3 current"),
    q("current_n", "A", Instantaneous, "neutral current"),
    q("active_power", "kW", Instantaneous, "total active power"),
    q("active_power_l1", "kW", Instantaneous, "active power, phase 1"),
    q("active_power_l2", "kW", Instantaneous, "active power, phase 2"),
    q("active_power_l3", "kW", Instantaneous, "active power, phase 3"),
    q("reactive_power", "kvar", Instantaneous, "total reactive power"),
    q("apparent_power", "kVA", Instantaneous, "total apparent power"),
    q("power_factor", "", Instantaneous, "total power factor (kW/kVA)"),
    q("frequency", "Hz", Instantaneous, "supply frequency"),
    q("active_power_demand", "kW", Instantaneous, "meter's demand-interval average power"),
    q("active_energy_import", "kWh", Counter, "imported active energy register"),
    q("active_energy_export", "kWh", Counter, "exported active energy register"),
    q("reactive_energy_import", "kvarh", Counter, "imported reactive energy register"),
    q("reactive_energy_export", "kvarh", Counter, "exported reactive energy register"),
    q("apparent_energy", "kVAh", Counter, "apparent energy register"),
    // Drives and motors.
    q("output_frequency", "Hz", Instantaneous, "drive output frequency"),
    q("motor_speed", "rpm", Instantaneous, "motor shaft speed"),
    q("motor_current", "A", Instantaneous, "drive output (motor) current"),
    q("running_hours", "h", Counter, "run-time counter (motor, drive or compressor)"),
    q("run_state", "", State, "running (1) or stopped (0)"),
    q("fault_state", "", State, "tripped or faulted (1), healthy (0)"),
    q("load_state", "", State, "compressor loaded (1) or unloaded (0)"),
    q("load_hours", "h", Counter, "compressor loaded-hours counter"),
    // Compressed air.
    q("pressure", "bar", Instantaneous, "gauge pressure, bar(g)"),
    q("air_flow", "m³/min", Instantaneous, "compressed-air flow, free air delivered"),
    q("air_volume", "m³", Counter, "compressed-air totaliser"),
    // Water, pumps and fans.
    q("water_flow", "m³/h", Instantaneous, "water flow"),
    q("water_volume", "m³", Counter, "water totaliser"),
    q("suction_pressure", "bar", Instantaneous, "pump suction (inlet) gauge pressure"),
    q("discharge_pressure", "bar", Instantaneous, "pump discharge (outlet) gauge pressure"),
    q("differential_pressure", "kPa", Instantaneous, "differential pressure (pump, fan, filter, loop)"),
    q("pump_head", "m", Instantaneous, "pump total head, metres of liquid column"),
    // Chilled water, condenser water, cooling towers.
    q("chw_supply_temp", "°C", Instantaneous, "chilled-water supply temperature"),
    q("chw_return_temp", "°C", Instantaneous, "chilled-water return temperature"),
    q("cw_supply_temp", "°C", Instantaneous, "condenser-water supply temperature (tower outlet, entering condenser)"),
    q("cw_return_temp", "°C", Instantaneous, "condenser-water return temperature (leaving condenser, tower inlet)"),
    q("outdoor_temp", "°C", Instantaneous, "outdoor dry-bulb temperature"),
    q("outdoor_humidity", "%", Instantaneous, "outdoor relative humidity"),
    q("wet_bulb_temp", "°C", Instantaneous, "outdoor wet-bulb temperature (cooling-tower approach)"),
    q("temperature", "°C", Instantaneous, "temperature"),
    // Heat (BTU meters, heat recovery).
    q("supply_temp", "°C", Instantaneous, "heat-meter supply (flow) temperature"),
    q("return_temp", "°C", Instantaneous, "heat-meter return temperature"),
    q("thermal_power", "kW", Instantaneous, "thermal power (heating or cooling)"),
    q("heat_energy", "kWh", Counter, "thermal-energy register (heat or cooling energy)"),
    q("cooling_energy", "kWh", Counter, "cooling-energy register of a combined heat/cooling meter"),
    // Boilers and steam.
    q("steam_flow", "t/h", Instantaneous, "steam mass flow"),
    q("steam_mass", "t", Counter, "steam totaliser"),
    q("steam_pressure", "bar", Instantaneous, "steam header gauge pressure"),
    q("mass_flow", "kg/h", Instantaneous, "mass flow (liquid, solid fuel, product)"),
    q("feedwater_temp", "°C", Instantaneous, "boiler feedwater temperature"),
    q("flue_gas_temp", "°C", Instantaneous, "flue-gas temperature at the stack"),
    q("flue_gas_o2", "%", Instantaneous, "flue-gas oxygen, % by volume (dry)"),
    q("combustion_air_temp", "°C", Instantaneous, "combustion-air temperature at the burner inlet"),
    // Fuels (scope 1 CO2e; totals in kLOE through the heat-content table).
    q("gas_flow", "m³/h", Instantaneous, "fuel gas flow"),
    q("gas_volume", "m³", Counter, "fuel gas meter (natural gas, LPG vapour), for scope 1 CO2e"),
    q("fuel_volume", "L", Counter, "liquid fuel meter (diesel, fuel oil), for scope 1 CO2e"),
    q("coal_mass", "t", Counter, "coal fired (weigh feeder or belt scale totaliser)"),
    q("lpg_mass", "kg", Counter, "liquefied petroleum gas used, by weight"),
    // Production.
    q("production_count", "count", Counter, "production counter"),
];
