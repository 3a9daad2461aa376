//! Fans: specific fan power and efficiency.
//!
//! SFP = P_elec / Q [kW/(m³/s)], numerically W/(l/s) as EN 16798-3 classes it; air energy of a
//! quarter E_air [kWh] = V [m³] × Δp_total [kPa] / 3 600 (air power = Q·Δp); fan (system)
//! efficiency = E_air / electricity (DOE fan system assessment, AMCA 203).

use kilowatch_site::config::ConfigError;
use serde::Deserialize;

use super::defs::{Definition, Span, V};
use super::facts::{Facts, F};
use super::inputs::Loader;
use super::series::SeriesRef;
use super::utility_inputs::{amount, avg_or, def, div, energy, zip, Check, Site};
use crate::store::StoreError;

const AIR_M3: F = F::U0;
const AIR_KWH: F = F::U1;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FanSpec {
    pub id: String,
    pub name: Option<String>,
    pub power: Vec<String>,
    /// `air_flow` (m³/min) or an `air_volume` totaliser.
    pub flow: SeriesRef,
    /// Fan total pressure rise, a `differential_pressure` series (kPa).
    pub pressure: Option<SeriesRef>,
}

impl FanSpec {
    pub fn check(&mut self, c: &Check<'_>) -> Result<(), ConfigError> {
        c.power("power", &self.power, true)?;
        c.series("flow", &self.flow, &["air_flow", "air_volume"])?;
        c.opt("pressure", &self.pressure, &["differential_pressure"])
    }

    pub fn facts(
        &self,
        loader: &mut Loader<'_>,
        _assets: &Site<'_>,
        out: &mut [Facts],
    ) -> Result<(), StoreError> {
        let kwh = energy(loader, &self.power, "")?;
        let volume = amount(loader, &self.flow)?;
        let dp = avg_or(
            loader,
            &self.pressure,
            "no fan pressure configured (pressure)",
        )?;
        for (i, f) in out.iter_mut().enumerate() {
            f.set(F::KWH, kwh[i].clone());
            f.set(AIR_M3, volume[i].clone());
            f.set(
                AIR_KWH,
                zip(&volume[i], &dp[i], |v, p| (v * p / 3600.0).max(0.0)),
            );
        }
        Ok(())
    }

    pub fn definitions(&self, _assets: &Site<'_>) -> Vec<Definition> {
        vec![
            def("energy_kwh", "kWh", "electricity of the fan"),
            def("avg_power_kw", "kW", "average electrical power"),
            def("air_volume_m3", "m³", "air moved"),
            def("avg_flow_m3s", "m³/s", "average air flow"),
            def(
                "sfp_kw_per_m3s",
                "kW/(m³/s)",
                "specific fan power: electrical kW per m³/s (= W per l/s)",
            ),
            def(
                "avg_pressure_kpa",
                "kPa",
                "flow-weighted fan pressure: air energy × 3 600 / volume",
            ),
            def("air_kwh", "kWh", "air energy: volume × Δp, integrated"),
            def("fan_efficiency_pct", "%", "air energy / electricity"),
        ]
    }

    pub fn compute(&self, _assets: &Site<'_>, f: &Facts, span: Span) -> Vec<(&'static str, V)> {
        let g = |x: F| f.get(x);
        let h = span.hours;
        vec![
            ("energy_kwh", g(F::KWH)),
            ("avg_power_kw", g(F::KWH).map(|e| e / h)),
            ("air_volume_m3", g(AIR_M3)),
            ("avg_flow_m3s", g(AIR_M3).map(|v| v / (3600.0 * h))),
            (
                "sfp_kw_per_m3s",
                div(g(F::KWH).map(|e| 3600.0 * e), g(AIR_M3), "no air moved"),
            ),
            (
                "avg_pressure_kpa",
                div(g(AIR_KWH).map(|e| 3600.0 * e), g(AIR_M3), "no air moved"),
            ),
            ("air_kwh", g(AIR_KWH)),
            (
                "fan_efficiency_pct",
                div(
                    g(AIR_KWH).map(|e| 100.0 * e),
                    g(F::KWH),
                    "the fan drew no power",
                ),
            ),
        ]
    }
}
