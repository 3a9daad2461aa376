//! Heat recovery: recovered heat, and the fuel, kLOE, CO2e and cost it avoids.
//!
//! Recovered heat: a `heat_energy`/`thermal_power` BTU meter, or 1.163 × m³ × (t_hot − t_cold)
//! on the recovery loop (ρ·cp 4 186 kJ/(m³·K)). Fuel avoided = recovered heat ÷ the efficiency
//! of the heater it displaces (DOMAIN.md; IPMVP savings against the displaced heater) ÷ the
//! fuel's net heating value (MOEA heat-content table); CO2e avoided = that fuel × its factor
//! (seeds/fuels.toml or `kg_co2e_per_unit`). The loop pump's electricity is reported, not
//! netted.

use kilowatch_site::config::ConfigError;
use serde::Deserialize;

use super::defs::{Definition, Span, V};
use super::facts::{Facts, Why, F};
use super::fuels::Fuel;
use super::inputs::Loader;
use super::series::SeriesRef;
use super::utility_inputs::{currency, def, div, energy, water_heat, Check, Site};
use crate::store::StoreError;

const RECOVERED_KWH: F = F::U0;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeatRecoverySpec {
    pub id: String,
    pub name: Option<String>,
    /// The recovery loop's pump(s), where metered.
    #[serde(default)]
    pub power: Vec<String>,
    /// A BTU meter on the recovery loop (`heat_energy` or `thermal_power`)…
    pub heat: Option<SeriesRef>,
    /// …or hot and cold temperatures and flow.
    pub hot_temp: Option<SeriesRef>,
    pub cold_temp: Option<SeriesRef>,
    pub flow: Option<SeriesRef>,
    /// The heat-content product the displaced heater burns.
    pub displaced_fuel: String,
    /// Its unit for fuel avoided: m³, L, kg or t (default: the heat-content table's).
    pub displaced_fuel_unit: Option<String>,
    /// The displaced heater's efficiency, net basis (0-1].
    pub displaced_efficiency: f64,
    pub kg_co2e_per_unit: Option<f64>,
    /// Price per unit of the displaced fuel.
    pub fuel_price: Option<f64>,
    #[serde(skip)]
    pub resolved: Option<Fuel>,
}

const TEMPS: &[&str] = &["supply_temp", "return_temp", "temperature"];

impl HeatRecoverySpec {
    pub fn check(&mut self, c: &Check<'_>) -> Result<(), ConfigError> {
        c.power("power", &self.power, false)?;
        c.opt("heat", &self.heat, &["heat_energy", "thermal_power"])?;
        c.opt("hot_temp", &self.hot_temp, TEMPS)?;
        c.opt("cold_temp", &self.cold_temp, TEMPS)?;
        c.opt("flow", &self.flow, &["water_flow", "water_volume"])?;
        let loop_inputs = [&self.hot_temp, &self.cold_temp, &self.flow];
        match (&self.heat, loop_inputs.iter().filter(|t| t.is_some()).count()) {
            (Some(_), 0) | (None, 3) => {}
            (Some(_), _) => {
                return c.fail(
                    "heat",
                    "give `heat` or `hot_temp`, `cold_temp` and `flow`, not both",
                )
            }
            (None, _) => {
                return c.fail(
                    "heat",
                    "missing required input: `heat` (a heat_energy or thermal_power series), or `hot_temp`, `cold_temp` and `flow`",
                )
            }
        }
        c.range(
            "displaced_efficiency",
            Some(self.displaced_efficiency),
            0.0,
            1.0,
        )?;
        c.range("kg_co2e_per_unit", self.kg_co2e_per_unit, -1e-12, 1e6)?;
        c.range("fuel_price", self.fuel_price, -1e-12, 1e9)?;
        let heat = kilowatch_site::vocab::HeatContent::builtin();
        let unit = match &self.displaced_fuel_unit {
            Some(u) => u.clone(),
            None => heat
                .product(&self.displaced_fuel)
                .map(|p| p.unit.clone())
                .map_err(|e| (c.err)("displaced_fuel", e.to_string()))?,
        };
        self.resolved = Some(
            Fuel::resolve(&self.displaced_fuel, &unit, self.kg_co2e_per_unit)
                .map_err(|e| (c.err)("displaced_fuel", e))?,
        );
        Ok(())
    }

    pub fn facts(
        &self,
        loader: &mut Loader<'_>,
        _assets: &Site<'_>,
        out: &mut [Facts],
    ) -> Result<(), StoreError> {
        let heat = water_heat(
            loader,
            self.heat.as_ref(),
            self.hot_temp.as_ref(),
            self.cold_temp.as_ref(),
            self.flow.as_ref(),
            "no heat measurement",
        )?;
        let pump = energy(loader, &self.power, "no recovery pump metered (power)")?;
        for (i, f) in out.iter_mut().enumerate() {
            f.set(RECOVERED_KWH, heat[i].clone());
            f.set(F::KWH, pump[i].clone());
        }
        Ok(())
    }

    pub fn definitions(&self, assets: &Site<'_>) -> Vec<Definition> {
        let unit = self.resolved.as_ref().map_or("", |f| f.unit.as_str());
        let cur = currency(assets);
        vec![
            def("recovered_kwh", "kWh", "heat recovered"),
            def("recovered_kw", "kW", "average heat recovered"),
            def(
                "fuel_avoided_kwh",
                "kWh",
                "recovered heat ÷ the displaced heater's efficiency (net basis)",
            ),
            Definition {
                fuel: Some(self.displaced_fuel.to_string()),
                ..def(
                    "fuel_avoided",
                    unit,
                    &format!(
                        "{} the displaced heater would have burned",
                        self.displaced_fuel
                    ),
                )
            },
            def("fuel_avoided_kloe", "kLOE", "fuel avoided in 公秉油當量"),
            def("co2e_avoided_kg", "kg CO2e", "fuel avoided × its factor"),
            def("cost_avoided", cur, "fuel avoided × fuel_price"),
            def("pump_kwh", "kWh", "electricity of the recovery-loop pump"),
            def(
                "recovered_per_pump_kwh",
                "",
                "heat recovered per kWh of pump electricity",
            ),
        ]
    }

    pub fn compute(&self, _assets: &Site<'_>, f: &Facts, span: Span) -> Vec<(&'static str, V)> {
        let g = |x: F| f.get(x);
        let rec = g(RECOVERED_KWH);
        let (per_kwh, kloe, kg) = self.resolved.as_ref().map_or((0.0, 0.0, 0.0), |fu| {
            (fu.kwh_per_unit, fu.kloe_per_unit, fu.kg_co2e_per_unit)
        });
        let fuel_kwh = rec.clone().map(|e| e / self.displaced_efficiency);
        let units = div(fuel_kwh.clone(), Ok(per_kwh), "fuel not resolved");
        vec![
            ("recovered_kwh", rec.clone()),
            ("recovered_kw", rec.clone().map(|e| e / span.hours)),
            ("fuel_avoided_kwh", fuel_kwh),
            ("fuel_avoided", units.clone()),
            ("fuel_avoided_kloe", units.clone().map(|u| u * kloe)),
            ("co2e_avoided_kg", units.clone().map(|u| u * kg)),
            (
                "cost_avoided",
                match self.fuel_price {
                    Some(p) => units.map(|u| u * p),
                    None => Err(Why::Text("no fuel_price configured")),
                },
            ),
            ("pump_kwh", g(F::KWH)),
            (
                "recovered_per_pump_kwh",
                div(rec, g(F::KWH), "the pump drew no power"),
            ),
        ]
    }
}
