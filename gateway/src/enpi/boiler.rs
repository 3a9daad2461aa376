//! Boilers and steam: direct and indirect efficiency, cost and CO2e per tonne of steam.
//!
//! Direct (input-output) efficiency, ASME PTC 4 / EN 12953-11: steam mass × (h_steam −
//! h_feedwater) / (fuel × net heating value). h_steam: dry saturated steam at the measured
//! header pressure (steam.rs, IAPWS-IF97) or a configured enthalpy (superheated steam);
//! h_feedwater = 4.186 × t. Heating values are the MOEA heat-content table's net (LHV) values,
//! so both efficiencies are on the net basis. Indirect efficiency = 100 − Siegert flue-gas loss
//! − `other_losses_pct` (radiation, blowdown, unburnt: 0 unless configured), the loss weighted
//! by each quarter's fuel energy. Cost per tonne: fuel × `fuel_price` + the burner's and feed
//! pump's electricity at the tariff; CO2e per tonne: fuel × its factor (seeds/fuels.toml) +
//! that electricity × the grid factor.

use std::sync::Arc;

use chrono::{Datelike, TimeZone};
use kilowatch_site::config::ConfigError;
use serde::Deserialize;

use super::defs::{Definition, Span, V};
use super::facts::{Facts, F};
use super::fuels::Fuel;
use super::inputs::Loader;
use super::series::SeriesRef;
use super::steam::{saturated_steam_h, water_h, ATM_BAR};
use super::utility_inputs::{
    amount, amount_unit, avg_or, currency, def, div, energy, zip, Check, Site,
};
use crate::store::StoreError;

const STEAM_T: F = F::U0;
const STEAM_KWH: F = F::U1;
const FUEL: F = F::U2;
const FUEL_KWH: F = F::U3;
/// Σ flue-gas loss % × fuel kWh.
const LOSS_KWH: F = F::U4;
const ELEC_COST: F = F::U5;
const ELEC_KG: F = F::U6;

const FUEL_METERS: &[&str] = &[
    "gas_volume",
    "gas_flow",
    "fuel_volume",
    "coal_mass",
    "lpg_mass",
    "mass_flow",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoilerSpec {
    pub id: String,
    pub name: Option<String>,
    /// Burner fan, feed pump: their electricity joins the cost and CO2e per tonne.
    #[serde(default)]
    pub power: Vec<String>,
    /// A product of the heat-content table (`natural_gas`, `diesel`, `fuel_oil`, `lpg`,
    /// `fuel_coal`).
    pub fuel: String,
    /// The fuel meter: a gas_volume, gas_flow, fuel_volume, coal_mass, lpg_mass or mass_flow
    /// series.
    pub fuel_meter: SeriesRef,
    /// kg CO2e per metered unit, instead of the IPCC default of seeds/fuels.toml.
    pub kg_co2e_per_unit: Option<f64>,
    /// Price per metered unit (m³, L, kg, t), in the tariff's currency.
    pub fuel_price: Option<f64>,
    /// `steam_flow` (t/h) or a `steam_mass` totaliser (t).
    pub steam: SeriesRef,
    /// Header pressure (bar g), for the enthalpy of dry saturated steam.
    pub steam_pressure: Option<SeriesRef>,
    /// Or the steam's enthalpy, kJ/kg (superheated steam, a fixed operating point).
    pub steam_enthalpy_kj_kg: Option<f64>,
    pub feedwater_temp: Option<SeriesRef>,
    /// Or a fixed feedwater temperature, °C.
    pub feedwater_temp_c: Option<f64>,
    pub flue_gas_temp: Option<SeriesRef>,
    pub flue_gas_o2: Option<SeriesRef>,
    /// Combustion-air (or boiler-house) temperature for the flue-gas loss.
    pub combustion_air_temp: Option<SeriesRef>,
    /// Radiation, blowdown and other losses, % of the heat input, for the indirect method.
    #[serde(default)]
    pub other_losses_pct: f64,
    #[serde(skip)]
    pub resolved: Option<Fuel>,
}

impl BoilerSpec {
    pub fn check(&mut self, c: &Check<'_>) -> Result<(), ConfigError> {
        c.power("power", &self.power, false)?;
        c.series("fuel_meter", &self.fuel_meter, FUEL_METERS)?;
        c.series("steam", &self.steam, &["steam_flow", "steam_mass"])?;
        c.opt("steam_pressure", &self.steam_pressure, &["steam_pressure"])?;
        c.opt("feedwater_temp", &self.feedwater_temp, &["feedwater_temp"])?;
        c.opt("flue_gas_temp", &self.flue_gas_temp, &["flue_gas_temp"])?;
        c.opt("flue_gas_o2", &self.flue_gas_o2, &["flue_gas_o2"])?;
        c.opt(
            "combustion_air_temp",
            &self.combustion_air_temp,
            &["combustion_air_temp", "outdoor_temp", "temperature"],
        )?;
        c.range("kg_co2e_per_unit", self.kg_co2e_per_unit, -1e-12, 1e6)?;
        c.range("fuel_price", self.fuel_price, -1e-12, 1e9)?;
        c.range(
            "steam_enthalpy_kj_kg",
            self.steam_enthalpy_kj_kg,
            400.0,
            4000.0,
        )?;
        c.range("feedwater_temp_c", self.feedwater_temp_c, -1e-12, 250.0)?;
        if !(0.0..50.0).contains(&self.other_losses_pct) {
            return c.fail("other_losses_pct", "must be at least 0 and below 50 (%)");
        }
        match (&self.steam_pressure, self.steam_enthalpy_kj_kg) {
            (Some(_), Some(_)) => {
                return c.fail(
                    "steam_enthalpy_kj_kg",
                    "give `steam_pressure` or `steam_enthalpy_kj_kg`, not both",
                )
            }
            (None, None) => {
                return c.fail(
                    "steam_pressure",
                    "missing required input: `steam_pressure` (a steam_pressure series) or `steam_enthalpy_kj_kg`",
                )
            }
            _ => {}
        }
        if self.feedwater_temp.is_some() == self.feedwater_temp_c.is_some() {
            return c.fail(
                "feedwater_temp",
                "give one of `feedwater_temp` (a feedwater_temp series) or `feedwater_temp_c`",
            );
        }
        let unit = amount_unit(&self.fuel_meter.quantity);
        let fuel = Fuel::resolve(&self.fuel, &unit, self.kg_co2e_per_unit).map_err(|e| {
            (c.err)(
                "fuel",
                format!("`{}` metered by {}: {e}", self.fuel, self.fuel_meter),
            )
        })?;
        self.resolved = Some(fuel);
        Ok(())
    }

    fn fuel(&self) -> Result<&Fuel, Arc<str>> {
        self.resolved
            .as_ref()
            .ok_or_else(|| Arc::from("fuel not resolved"))
    }

    pub fn facts(
        &self,
        loader: &mut Loader<'_>,
        assets: &Site<'_>,
        out: &mut [Facts],
    ) -> Result<(), StoreError> {
        let grid = loader.grid;
        let fuel = self.fuel().ok().cloned();
        let steam = amount(loader, &self.steam)?;
        let fuel_units = amount(loader, &self.fuel_meter)?;
        let h_steam: Vec<Result<f64, Arc<str>>> = match self.steam_enthalpy_kj_kg {
            Some(h) => vec![Ok(h); grid.n],
            None => avg_or(loader, &self.steam_pressure, "no steam pressure")?
                .into_iter()
                .map(|p| {
                    let p = p?;
                    saturated_steam_h(p + ATM_BAR).ok_or_else(|| {
                        Arc::from(format!(
                            "steam pressure {p:.2} bar(g) outside the steam table (0-39 bar g)"
                        ))
                    })
                })
                .collect(),
        };
        let h_fw: Vec<Result<f64, Arc<str>>> = match self.feedwater_temp_c {
            Some(t) => vec![Ok(water_h(t)); grid.n],
            None => avg_or(loader, &self.feedwater_temp, "no feedwater temperature")?
                .into_iter()
                .map(|t| t.map(water_h))
                .collect(),
        };
        let no_loss = || -> Arc<str> {
            match &fuel {
                Some(f) if f.siegert.is_none() => Arc::from(format!(
                    "no Siegert constants for {} in seeds/fuels.toml",
                    f.product
                )),
                _ => Arc::from(
                    "flue-gas loss needs flue_gas_temp, flue_gas_o2 and combustion_air_temp",
                ),
            }
        };
        let flue = avg_or(loader, &self.flue_gas_temp, "")?;
        let o2 = avg_or(loader, &self.flue_gas_o2, "")?;
        let air = avg_or(loader, &self.combustion_air_temp, "")?;
        let siegert_fuel = fuel.as_ref().filter(|f| {
            f.siegert.is_some()
                && self.flue_gas_temp.is_some()
                && self.flue_gas_o2.is_some()
                && self.combustion_air_temp.is_some()
        });
        let elec = energy(loader, &self.power, "no burner or feed-pump meter (power)")?;
        for (i, f) in out.iter_mut().enumerate() {
            let ts = grid.ts(i);
            f.set(STEAM_T, steam[i].clone());
            let dh = zip(&h_steam[i], &h_fw[i], |s, w| s - w);
            // t × 1 000 kg/t × kJ/kg / 3 600 kJ/kWh.
            f.set(STEAM_KWH, zip(&steam[i], &dh, |m, dh| m * dh / 3.6));
            f.set(FUEL, fuel_units[i].clone());
            let fuel_kwh = match &fuel {
                Some(fu) => fuel_units[i].clone().map(|u| u * fu.kwh_per_unit),
                None => Err(Arc::from("fuel not resolved")),
            };
            f.set(FUEL_KWH, fuel_kwh.clone());
            f.set(
                LOSS_KWH,
                if let Some(fu) = siegert_fuel {
                    match (&flue[i], &o2[i], &air[i], &fuel_kwh) {
                        (Ok(t), Ok(o), Ok(a), Ok(e)) => fu
                            .flue_gas_loss_pct(*t, *a, *o)
                            .map(|q| q * e)
                            .ok_or_else(|| Arc::from("flue-gas O2 at 21 %: no combustion")),
                        (Err(w), ..) | (_, Err(w), ..) | (.., Err(w), _) | (.., Err(w)) => {
                            Err(w.clone())
                        }
                    }
                } else {
                    Err(no_loss())
                },
            );
            f.set(F::KWH, elec[i].clone());
            if self.power.is_empty() {
                f.set(ELEC_COST, Ok(0.0));
                f.set(ELEC_KG, Ok(0.0));
                continue;
            }
            let local = assets
                .timezone
                .timestamp_millis_opt(ts)
                .single()
                .map(|t| t.naive_local())
                .unwrap_or_default();
            f.set(
                ELEC_COST,
                match assets.tariff {
                    Some(t) => {
                        let (p, s) = t.classify(local);
                        let rate = t.rate(p, s);
                        elec[i].clone().map(|e| e * rate)
                    }
                    None => Err(Arc::from("no tariff configured (site.tariff)")),
                },
            );
            f.set(
                ELEC_KG,
                match assets.factors {
                    Some(fs) => {
                        let (k, _) = fs.factor(local.year());
                        elec[i].clone().map(|e| e * k)
                    }
                    None => Err(Arc::from(
                        "no emission factors configured (site.emission_factors)",
                    )),
                },
            );
        }
        Ok(())
    }

    pub fn definitions(&self, assets: &Site<'_>) -> Vec<Definition> {
        let unit = self.resolved.as_ref().map_or("", |f| f.unit.as_str());
        let cur = currency(assets);
        vec![
            def("steam_t", "t", "steam raised"),
            def("avg_steam_tph", "t/h", "average steam flow"),
            def(
                "steam_energy_kwh",
                "kWh",
                "heat in the steam: mass × (h_steam − h_feedwater)",
            ),
            Definition {
                fuel: Some(self.fuel.to_string()),
                ..def("fuel_used", unit, &format!("{} burned", self.fuel))
            },
            def(
                "fuel_energy_kwh",
                "kWh",
                "fuel × net heating value (MOEA heat-content table, LHV)",
            ),
            def("fuel_kloe", "kLOE", "fuel in 公秉油當量 (MOEA heat-content table)"),
            def(
                "direct_efficiency_pct",
                "%",
                "steam energy / fuel energy, net (LHV) basis",
            ),
            def(
                "flue_gas_loss_pct",
                "%",
                "Siegert: (t_flue − t_air) × (A2/(21 − O2) + B), fuel-weighted",
            ),
            def(
                "indirect_efficiency_pct",
                "%",
                "100 − flue-gas loss − other_losses_pct",
            ),
            def("fuel_per_t", &format!("{unit}/t"), "fuel per tonne of steam"),
            def("electricity_kwh", "kWh", "burner fan and feed pump electricity"),
            def("cost", cur, "fuel × fuel_price + electricity at the tariff"),
            def("cost_per_t", &format!("{cur}/t"), "cost per tonne of steam"),
            def(
                "co2e_kg",
                "kg CO2e",
                "fuel × its factor (seeds/fuels.toml or kg_co2e_per_unit) + electricity × grid factor",
            ),
            def("co2e_per_t_kg", "kg CO2e/t", "CO2e per tonne of steam"),
        ]
    }

    pub fn compute(&self, _assets: &Site<'_>, f: &Facts, span: Span) -> Vec<(&'static str, V)> {
        let g = |x: F| f.get(x);
        let h = span.hours;
        let (kloe, kg, price) = self.resolved.as_ref().map_or((0.0, 0.0, None), |fu| {
            (fu.kloe_per_unit, fu.kg_co2e_per_unit, self.fuel_price)
        });
        let loss = div(g(LOSS_KWH), g(FUEL_KWH), "no fuel burned");
        let cost = match price {
            Some(p) => g(FUEL).and_then(|u| Ok(u * p + g(ELEC_COST)?)),
            None => Err(super::facts::Why::Text("no fuel_price configured")),
        };
        let co2 = g(FUEL).and_then(|u| Ok(u * kg + g(ELEC_KG)?));
        const NO_STEAM: &str = "no steam raised";
        vec![
            ("steam_t", g(STEAM_T)),
            ("avg_steam_tph", g(STEAM_T).map(|t| t / h)),
            ("steam_energy_kwh", g(STEAM_KWH)),
            ("fuel_used", g(FUEL)),
            ("fuel_energy_kwh", g(FUEL_KWH)),
            ("fuel_kloe", g(FUEL).map(|u| u * kloe)),
            (
                "direct_efficiency_pct",
                div(
                    g(STEAM_KWH).map(|e| 100.0 * e),
                    g(FUEL_KWH),
                    "no fuel burned",
                ),
            ),
            ("flue_gas_loss_pct", loss.clone()),
            (
                "indirect_efficiency_pct",
                loss.map(|l| 100.0 - l - self.other_losses_pct),
            ),
            ("fuel_per_t", div(g(FUEL), g(STEAM_T), NO_STEAM)),
            ("electricity_kwh", g(F::KWH)),
            ("cost", cost.clone()),
            ("cost_per_t", div(cost, g(STEAM_T), NO_STEAM)),
            ("co2e_kg", co2.clone()),
            ("co2e_per_t_kg", div(co2, g(STEAM_T), NO_STEAM)),
        ]
    }
}
