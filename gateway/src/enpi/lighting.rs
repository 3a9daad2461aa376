//! Lighting: kWh per operating hour and per m², and the lighting power density while on.
//!
//! Operating hours: a `run_state` series (hours on), a `running_hours` counter, or the
//! quarter-hours whose average power reaches `on_kw`. Power density W/m² = kWh per operating
//! hour × 1 000 / area, to set against ASHRAE 90.1 / CNS lighting-power allowances.

use kilowatch_site::config::ConfigError;
use serde::Deserialize;

use super::defs::{Definition, Span, V};
use super::facts::{Facts, Why, F};
use super::inputs::Loader;
use super::series::SeriesRef;
use super::utility_inputs::{def, div, energy, Check, Site};
use crate::store::StoreError;

const ON_H: F = F::U0;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LightingSpec {
    pub id: String,
    pub name: Option<String>,
    /// The lighting circuits' power meter(s).
    pub power: Vec<String>,
    /// Lit floor area, m².
    pub area_m2: Option<f64>,
    /// A `run_state` (1 = on) or `running_hours` series…
    pub run: Option<SeriesRef>,
    /// …or: on in the quarter-hours whose average power reaches this.
    pub on_kw: Option<f64>,
}

impl LightingSpec {
    pub fn check(&mut self, c: &Check<'_>) -> Result<(), ConfigError> {
        c.power("power", &self.power, true)?;
        c.opt("run", &self.run, &["run_state", "running_hours"])?;
        c.range("area_m2", self.area_m2, 0.0, 1e8)?;
        c.range("on_kw", self.on_kw, 0.0, 1e6)?;
        match (&self.run, self.on_kw) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            (Some(_), Some(_)) => c.fail("on_kw", "give `run` or `on_kw`, not both"),
            (None, None) => c.fail(
                "run",
                "missing required input: `run` (a run_state or running_hours series) or `on_kw`",
            ),
        }
    }

    pub fn facts(
        &self,
        loader: &mut Loader<'_>,
        _assets: &Site<'_>,
        out: &mut [Facts],
    ) -> Result<(), StoreError> {
        let kwh = energy(loader, &self.power, "")?;
        let on = match (&self.run, self.on_kw) {
            (Some(r), _) if r.quantity == "running_hours" => {
                loader.delta(&r.device, &r.quantity)?
            }
            // A state's integral is the hours it read 1.
            (Some(r), _) => loader.integral(&r.device, &r.quantity)?,
            (None, threshold) => {
                let t = threshold.unwrap_or(f64::INFINITY);
                kwh.iter()
                    .map(|e| e.clone().map(|e| if e / 0.25 >= t { 0.25 } else { 0.0 }))
                    .collect()
            }
        };
        for (i, f) in out.iter_mut().enumerate() {
            f.set(F::KWH, kwh[i].clone());
            f.set(ON_H, on[i].clone());
        }
        Ok(())
    }

    pub fn definitions(&self, _assets: &Site<'_>) -> Vec<Definition> {
        vec![
            def("energy_kwh", "kWh", "electricity of the lighting"),
            def("avg_power_kw", "kW", "average power"),
            def("operating_h", "h", "hours the lights were on"),
            def(
                "kwh_per_operating_h",
                "kWh/h",
                "electricity per operating hour",
            ),
            def("kwh_per_m2", "kWh/m²", "electricity per m² of lit area"),
            def(
                "w_per_m2",
                "W/m²",
                "lighting power density while on: kWh per operating hour × 1 000 / area",
            ),
        ]
    }

    pub fn compute(&self, _assets: &Site<'_>, f: &Facts, span: Span) -> Vec<(&'static str, V)> {
        let g = |x: F| f.get(x);
        const NO_AREA: &str = "lit area not configured (area_m2)";
        let per_h = div(g(F::KWH), g(ON_H), "the lights were not on");
        let area = self.area_m2.ok_or(Why::Text(NO_AREA));
        vec![
            ("energy_kwh", g(F::KWH)),
            ("avg_power_kw", g(F::KWH).map(|e| e / span.hours)),
            ("operating_h", g(ON_H)),
            ("kwh_per_operating_h", per_h.clone()),
            ("kwh_per_m2", div(g(F::KWH), area.clone(), NO_AREA)),
            ("w_per_m2", div(per_h.map(|p| 1000.0 * p), area, NO_AREA)),
        ]
    }
}
