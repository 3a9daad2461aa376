//! Chilled-water plant: kW/TR of the whole plant, chillers, chilled- and condenser-water pumps
//! and towers.
//!
//! Plant kW/TR = (chillers + CHW pumps + CW pumps + tower fans) kWh / cooling TR·h (ASHRAE
//! "all-variable-speed chiller plant" efficiency; well-tuned plants 0.55-0.75). Cooling: a
//! `heat_energy` or `thermal_power` BTU meter, or 1.163 × m³ × ΔT (ρ·cp 4 186 kJ/(m³·K)),
//! 1 TR = 3.517 kW. A group not configured is left out of the total and reported missing.

use kilowatch_site::config::ConfigError;
use serde::Deserialize;

use super::defs::KW_PER_TR;
use super::defs::{Definition, Span, V};
use super::facts::{Facts, F};
use super::inputs::Loader;
use super::series::SeriesRef;
use super::utility_inputs::{def, div, energy, water_heat, zip, Check, Site};
use crate::store::StoreError;

const CHILLERS_KWH: F = F::U0;
const CHW_PUMPS_KWH: F = F::U1;
const CW_PUMPS_KWH: F = F::U2;
const TOWERS_KWH: F = F::U3;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChwPlantSpec {
    pub id: String,
    pub name: Option<String>,
    pub chillers: Vec<String>,
    #[serde(default)]
    pub chw_pumps: Vec<String>,
    #[serde(default)]
    pub cw_pumps: Vec<String>,
    #[serde(default)]
    pub towers: Vec<String>,
    /// A BTU meter on the chilled-water header (`heat_energy` or `thermal_power`)…
    pub cooling: Option<SeriesRef>,
    /// …or supply and return temperatures and flow.
    pub supply_temp: Option<SeriesRef>,
    pub return_temp: Option<SeriesRef>,
    pub flow: Option<SeriesRef>,
}

const GROUPS: [(&str, F, &str); 4] = [
    ("chillers", CHILLERS_KWH, "chillers"),
    ("chw_pumps", CHW_PUMPS_KWH, "chilled-water pumps"),
    ("cw_pumps", CW_PUMPS_KWH, "condenser-water pumps"),
    ("towers", TOWERS_KWH, "cooling-tower fans"),
];

impl ChwPlantSpec {
    fn group(&self, k: usize) -> &[String] {
        match k {
            0 => &self.chillers,
            1 => &self.chw_pumps,
            2 => &self.cw_pumps,
            _ => &self.towers,
        }
    }

    pub fn all_devices(&self) -> Vec<String> {
        (0..4).flat_map(|k| self.group(k).to_vec()).collect()
    }

    pub fn check(&mut self, c: &Check<'_>) -> Result<(), ConfigError> {
        for (k, (key, ..)) in GROUPS.iter().enumerate() {
            c.power(key, self.group(k), k == 0)?;
        }
        c.opt("cooling", &self.cooling, &["heat_energy", "thermal_power"])?;
        c.opt(
            "supply_temp",
            &self.supply_temp,
            &["chw_supply_temp", "supply_temp"],
        )?;
        c.opt(
            "return_temp",
            &self.return_temp,
            &["chw_return_temp", "return_temp"],
        )?;
        c.opt("flow", &self.flow, &["water_flow", "water_volume"])?;
        let temps = [&self.supply_temp, &self.return_temp, &self.flow];
        match (&self.cooling, temps.iter().filter(|t| t.is_some()).count()) {
            (Some(_), 0) | (None, 3) => Ok(()),
            (Some(_), _) => c.fail(
                "cooling",
                "give `cooling` or `supply_temp`, `return_temp` and `flow`, not both",
            ),
            (None, _) => c.fail(
                "cooling",
                "missing required input: `cooling` (a heat_energy or thermal_power series), or `supply_temp`, `return_temp` and `flow`",
            ),
        }
    }

    pub fn facts(
        &self,
        loader: &mut Loader<'_>,
        _assets: &Site<'_>,
        out: &mut [Facts],
    ) -> Result<(), StoreError> {
        let n = loader.grid.n;
        let kwh_th = water_heat(
            loader,
            self.cooling.as_ref(),
            self.return_temp.as_ref(),
            self.supply_temp.as_ref(),
            self.flow.as_ref(),
            "no cooling measurement",
        )?;
        let mut total = vec![Ok(0.0); n];
        for (k, (key, slot, what)) in GROUPS.iter().enumerate() {
            let devices = self.group(k);
            let e = energy(loader, devices, &format!("no {what} configured ({key})"))?;
            for (i, f) in out.iter_mut().enumerate() {
                f.set(*slot, e[i].clone());
                if !devices.is_empty() {
                    total[i] = zip(&total[i], &e[i], |a, b| a + b);
                }
            }
        }
        for (i, f) in out.iter_mut().enumerate() {
            f.set(F::KWH, total[i].clone());
            f.set(F::TRH, kwh_th[i].clone().map(|e| e / KW_PER_TR));
        }
        Ok(())
    }

    pub fn definitions(&self, _assets: &Site<'_>) -> Vec<Definition> {
        vec![
            def(
                "energy_kwh",
                "kWh",
                "electricity of every configured part of the plant",
            ),
            def("chillers_kwh", "kWh", "electricity of the chillers"),
            def(
                "chw_pumps_kwh",
                "kWh",
                "electricity of the chilled-water pumps",
            ),
            def(
                "cw_pumps_kwh",
                "kWh",
                "electricity of the condenser-water pumps",
            ),
            def("towers_kwh", "kWh", "electricity of the cooling-tower fans"),
            def("cooling_trh", "TR·h", "cooling delivered"),
            def("cooling_tr", "TR", "average cooling load"),
            def(
                "plant_kw_per_tr",
                "kW/TR",
                "(chillers + pumps + towers) kWh / TR·h (well-tuned: 0.55-0.75)",
            ),
            def("chillers_kw_per_tr", "kW/TR", "chillers per ton"),
            def(
                "chw_pumps_kw_per_tr",
                "kW/TR",
                "chilled-water pumps per ton",
            ),
            def(
                "cw_pumps_kw_per_tr",
                "kW/TR",
                "condenser-water pumps per ton",
            ),
            def("towers_kw_per_tr", "kW/TR", "tower fans per ton"),
            def("plant_cop", "", "cooling kW / plant electrical kW"),
        ]
    }

    pub fn compute(&self, _assets: &Site<'_>, f: &Facts, span: Span) -> Vec<(&'static str, V)> {
        let g = |x: F| f.get(x);
        let trh = g(F::TRH);
        const NONE: &str = "no cooling delivered";
        let per_tr = |x: F| div(g(x), trh.clone(), NONE);
        let cop: V = div(
            trh.clone().map(|t| t * KW_PER_TR),
            g(F::KWH),
            "the plant drew no power",
        );
        vec![
            ("energy_kwh", g(F::KWH)),
            ("chillers_kwh", g(CHILLERS_KWH)),
            ("chw_pumps_kwh", g(CHW_PUMPS_KWH)),
            ("cw_pumps_kwh", g(CW_PUMPS_KWH)),
            ("towers_kwh", g(TOWERS_KWH)),
            ("cooling_trh", trh.clone()),
            ("cooling_tr", trh.clone().map(|t| t / span.hours)),
            ("plant_kw_per_tr", per_tr(F::KWH)),
            ("chillers_kw_per_tr", per_tr(CHILLERS_KWH)),
            ("chw_pumps_kw_per_tr", per_tr(CHW_PUMPS_KWH)),
            ("cw_pumps_kw_per_tr", per_tr(CW_PUMPS_KWH)),
            ("towers_kw_per_tr", per_tr(TOWERS_KWH)),
            ("plant_cop", cop),
        ]
    }
}
