//! Cooling towers: range, approach, effectiveness and fan kW per rejected TR.
//!
//! Range = t_hot (in) − t_cold (out); approach = t_cold − t_wet-bulb; effectiveness =
//! range / (range + approach) (CTI ATC-105 terms; BEE/UNEP cooling-tower assessment). Both
//! are averaged over the quarters the tower has flow. Heat rejected = 1.163 × m³ × range
//! (kWh, ρ·cp of water 4 186 kJ/(m³·K)); 1 TR = 3.517 kW. The wet bulb is a series or, from
//! dry bulb and relative humidity, Stull's (2011) fit at sea-level pressure (within about
//! −1/+0.65 °C for RH 5-99 %, −20 to 50 °C), applied to the quarter averages.

use std::sync::Arc;

use kilowatch_site::config::ConfigError;
use serde::Deserialize;

use super::defs::KW_PER_TR;
use super::defs::{Definition, Span, V};
use super::facts::{Facts, F};
use super::inputs::{Col, Loader};
use super::series::SeriesRef;
use super::utility_inputs::{amount, def, div, energy, zip, Check, Site, KWH_PER_M3_K};
use crate::store::StoreError;

const RUN_H: F = F::U0;
const RANGE_H: F = F::U1;
const APPROACH_H: F = F::U2;
const REJECTED_KWH: F = F::U3;
const WET_BULB_H: F = F::U4;

const TEMPS: &[&str] = &[
    "cw_return_temp",
    "cw_supply_temp",
    "temperature",
    "supply_temp",
    "return_temp",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TowerSpec {
    pub id: String,
    pub name: Option<String>,
    /// The tower fans' power meter(s).
    pub power: Vec<String>,
    /// Water entering the tower (leaving the condensers): `cw_return_temp`.
    pub hot_water: SeriesRef,
    /// Water leaving the tower basin: `cw_supply_temp`.
    pub cold_water: SeriesRef,
    /// Condenser-water flow through the tower.
    pub flow: SeriesRef,
    pub wet_bulb: Option<SeriesRef>,
    /// Without `wet_bulb`: dry bulb and relative humidity.
    pub dry_bulb: Option<SeriesRef>,
    pub humidity: Option<SeriesRef>,
}

/// Wet-bulb temperature (°C) from dry bulb `t` (°C) and relative humidity `rh` (%), Stull
/// (2011), J. Appl. Meteor. Climatol. 50, 2267-2269.
pub fn stull_wet_bulb(t: f64, rh: f64) -> f64 {
    t * (0.151_977 * (rh + 8.313_659).sqrt()).atan() + (t + rh).atan() - (rh - 1.676_331).atan()
        + 0.003_918_38 * rh.powf(1.5) * (0.023_101 * rh).atan()
        - 4.686_035
}

impl TowerSpec {
    pub fn check(&mut self, c: &Check<'_>) -> Result<(), ConfigError> {
        c.power("power", &self.power, true)?;
        c.series("hot_water", &self.hot_water, TEMPS)?;
        c.series("cold_water", &self.cold_water, TEMPS)?;
        c.series("flow", &self.flow, &["water_flow", "water_volume"])?;
        c.opt("wet_bulb", &self.wet_bulb, &["wet_bulb_temp"])?;
        c.opt("dry_bulb", &self.dry_bulb, &["outdoor_temp", "temperature"])?;
        c.opt("humidity", &self.humidity, &["outdoor_humidity"])?;
        match (&self.wet_bulb, &self.dry_bulb, &self.humidity) {
            (Some(_), None, None) | (None, Some(_), Some(_)) | (None, None, None) => Ok(()),
            (Some(_), ..) => c.fail(
                "wet_bulb",
                "give `wet_bulb` or `dry_bulb` and `humidity`, not both",
            ),
            (None, None, Some(_)) => c.fail(
                "dry_bulb",
                "missing required input: the wet bulb from humidity needs `dry_bulb` too",
            ),
            (None, Some(_), None) => c.fail(
                "humidity",
                "missing required input: the wet bulb from dry bulb needs `humidity` too",
            ),
        }
    }

    fn wet_bulb(&self, loader: &mut Loader<'_>) -> Result<Col, StoreError> {
        Ok(match (&self.wet_bulb, &self.dry_bulb, &self.humidity) {
            (Some(w), ..) => loader.avg(w)?,
            (None, Some(t), Some(rh)) => {
                let (t, rh) = (loader.avg(t)?, loader.avg(rh)?);
                t.iter()
                    .zip(&rh)
                    .map(|(t, rh)| zip(t, rh, stull_wet_bulb))
                    .collect()
            }
            _ => vec![
                Err(Arc::from(
                    "approach needs the wet bulb: configure wet_bulb, or dry_bulb and humidity"
                ));
                loader.grid.n
            ],
        })
    }

    pub fn facts(
        &self,
        loader: &mut Loader<'_>,
        _assets: &Site<'_>,
        out: &mut [Facts],
    ) -> Result<(), StoreError> {
        let kwh = energy(loader, &self.power, "")?;
        let hot = loader.avg(&self.hot_water)?;
        let cold = loader.avg(&self.cold_water)?;
        let volume = amount(loader, &self.flow)?;
        let wb = self.wet_bulb(loader)?;
        for (i, f) in out.iter_mut().enumerate() {
            f.set(F::KWH, kwh[i].clone());
            // Hours the tower has water flowing: range and approach mean nothing without.
            let run = volume[i].clone().map(|v| if v > 0.0 { 0.25 } else { 0.0 });
            let range = zip(&hot[i], &cold[i], |h, c| h - c);
            f.set(RUN_H, run.clone());
            f.set(RANGE_H, zip(&run, &range, |h, r| h * r));
            let approach = zip(&cold[i], &wb[i], |c, w| c - w);
            f.set(APPROACH_H, zip(&run, &approach, |h, a| h * a));
            f.set(WET_BULB_H, zip(&run, &wb[i], |h, w| h * w));
            f.set(
                REJECTED_KWH,
                zip(&volume[i], &range, |v, r| (KWH_PER_M3_K * v * r).max(0.0)),
            );
        }
        Ok(())
    }

    pub fn definitions(&self, _assets: &Site<'_>) -> Vec<Definition> {
        vec![
            def("energy_kwh", "kWh", "electricity of the tower fans"),
            def("operating_h", "h", "hours with water flowing"),
            def(
                "range_c",
                "°C",
                "hot (in) minus cold (out) water, while operating",
            ),
            def(
                "approach_c",
                "°C",
                "cold water minus wet bulb, while operating",
            ),
            def("wet_bulb_c", "°C", "wet-bulb temperature, while operating"),
            def("effectiveness_pct", "%", "range / (range + approach)"),
            def("heat_rejected_kwh", "kWh", "1.163 × m³ × range, integrated"),
            def(
                "heat_rejected_trh",
                "TR·h",
                "heat rejected in ton-hours (3.517 kW)",
            ),
            def(
                "fan_kw_per_tr",
                "kW/TR",
                "fan electricity per ton of heat rejected",
            ),
        ]
    }

    pub fn compute(&self, _assets: &Site<'_>, f: &Facts, _span: Span) -> Vec<(&'static str, V)> {
        let g = |x: F| f.get(x);
        const OFF: &str = "the tower had no flow";
        let range = div(g(RANGE_H), g(RUN_H), OFF);
        let approach = div(g(APPROACH_H), g(RUN_H), OFF);
        let trh = g(REJECTED_KWH).map(|e| e / KW_PER_TR);
        vec![
            ("energy_kwh", g(F::KWH)),
            ("operating_h", g(RUN_H)),
            ("range_c", range.clone()),
            ("approach_c", approach.clone()),
            ("wet_bulb_c", div(g(WET_BULB_H), g(RUN_H), OFF)),
            (
                "effectiveness_pct",
                div(
                    range.clone().map(|r| 100.0 * r),
                    range.and_then(|r| Ok(r + approach?)),
                    "range plus approach is zero",
                ),
            ),
            ("heat_rejected_kwh", g(REJECTED_KWH)),
            ("heat_rejected_trh", trh.clone()),
            ("fan_kw_per_tr", div(g(F::KWH), trh, "no heat rejected")),
        ]
    }
}
