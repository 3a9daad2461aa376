//! Pumps: specific energy (kWh/m³), wire-to-water efficiency and a VFD savings estimate.
//!
//! Hydraulic energy of a quarter: E_h [kWh] = V [m³] × Δp [kPa] / 3 600 (P_h = Q·Δp =
//! ρ·g·Q·H), Δp from a differential-pressure series, a head series (Δp = ρ·g·H) or discharge
//! minus suction pressure; wire-to-water efficiency = E_h / electricity (DOE pumping system
//! assessment, Hydraulic Institute). Velocity head and the height between the gauges are left
//! out. The VFD estimate: the same flow on a drive, the pump following the system curve
//! H = H_s + (H_r − H_s)·(Q/Q_r)², with its wire-to-water efficiency as at the rated point:
//! P = P_r · q · (s + (1 − s)·q²), q = Q/Q_r, s = H_s/H_r (s = 0: the cube law).

use std::sync::Arc;

use kilowatch_site::config::ConfigError;
use serde::Deserialize;

use super::defs::{Definition, Span, V};
use super::facts::{Facts, F};
use super::inputs::{Col, Loader};
use super::series::SeriesRef;
use super::utility_inputs::{amount, def, div, energy, zip, Check, Site, G};
use crate::store::StoreError;

const WATER_M3: F = F::U0;
const HYDRAULIC_KWH: F = F::U1;
const VFD_KWH: F = F::U2;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PumpSpec {
    pub id: String,
    pub name: Option<String>,
    /// The pump motor's (or drive's) power meter(s).
    pub power: Vec<String>,
    /// `water_flow` (m³/h) or a `water_volume` totaliser.
    pub flow: SeriesRef,
    /// `differential_pressure` (kPa) or `pump_head` (m) across the pump.
    pub head: Option<SeriesRef>,
    /// Without `head`: `suction_pressure` and `discharge_pressure` (bar g).
    pub suction_pressure: Option<SeriesRef>,
    pub discharge_pressure: Option<SeriesRef>,
    /// Liquid density, kg/m³ (water at 20 °C: 998.2).
    #[serde(default = "water_density")]
    pub density_kg_m3: f64,
    /// The affinity-law estimate of a throttled (constant-speed) pump put on a drive.
    pub vfd_estimate: Option<VfdEstimate>,
}

fn water_density() -> f64 {
    998.2
}

/// The rated (design) point on the system curve and the static share of its head.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VfdEstimate {
    pub rated_flow_m3h: f64,
    /// Electrical input at the rated flow, full speed.
    pub rated_kw: f64,
    /// Static head as % of the rated head (0: friction only, the cube law).
    #[serde(default)]
    pub static_head_pct: f64,
}

impl VfdEstimate {
    /// Estimated electrical kW on a drive at `flow_m3h`.
    pub fn kw(&self, flow_m3h: f64) -> f64 {
        let q = flow_m3h.max(0.0) / self.rated_flow_m3h;
        let s = self.static_head_pct / 100.0;
        self.rated_kw * q * (s + (1.0 - s) * q * q)
    }
}

impl PumpSpec {
    pub fn check(&mut self, c: &Check<'_>) -> Result<(), ConfigError> {
        c.power("power", &self.power, true)?;
        c.series("flow", &self.flow, &["water_flow", "water_volume"])?;
        c.opt("head", &self.head, &["differential_pressure", "pump_head"])?;
        c.opt(
            "suction_pressure",
            &self.suction_pressure,
            &["suction_pressure"],
        )?;
        c.opt(
            "discharge_pressure",
            &self.discharge_pressure,
            &["discharge_pressure"],
        )?;
        match (&self.head, &self.suction_pressure, &self.discharge_pressure) {
            (Some(_), None, None) | (None, Some(_), Some(_)) => {}
            (Some(_), ..) => {
                return c.fail(
                    "head",
                    "give `head` or `suction_pressure` and `discharge_pressure`, not both",
                )
            }
            _ => {
                return c.fail(
                    "head",
                    "missing required input: `head` (a differential_pressure or pump_head series), or both `suction_pressure` and `discharge_pressure`",
                )
            }
        }
        c.range("density_kg_m3", Some(self.density_kg_m3), 500.0, 2000.0)?;
        if let Some(v) = &self.vfd_estimate {
            c.range(
                "vfd_estimate.rated_flow_m3h",
                Some(v.rated_flow_m3h),
                0.0,
                1e6,
            )?;
            c.range("vfd_estimate.rated_kw", Some(v.rated_kw), 0.0, 1e5)?;
            if !(0.0..100.0).contains(&v.static_head_pct) {
                return c.fail(
                    "vfd_estimate.static_head_pct",
                    "must be at least 0 and below 100 (% of the rated head)",
                );
            }
        }
        Ok(())
    }

    /// Each quarter's average differential pressure, kPa.
    fn dp(&self, loader: &mut Loader<'_>) -> Result<Col, StoreError> {
        let rho_g = self.density_kg_m3 * G / 1000.0;
        Ok(
            match (&self.head, &self.suction_pressure, &self.discharge_pressure) {
                (Some(h), ..) if h.quantity == "pump_head" => loader
                    .avg(h)?
                    .into_iter()
                    .map(|v| v.map(|m| rho_g * m))
                    .collect(),
                (Some(h), ..) => loader.avg(h)?,
                (None, Some(s), Some(d)) => {
                    let (s, d) = (loader.avg(s)?, loader.avg(d)?);
                    d.iter()
                        .zip(&s)
                        .map(|(d, s)| zip(d, s, |d, s| (d - s) * 100.0))
                        .collect()
                }
                _ => vec![Err(Arc::from("no head configured")); loader.grid.n],
            },
        )
    }

    pub fn facts(
        &self,
        loader: &mut Loader<'_>,
        _assets: &Site<'_>,
        out: &mut [Facts],
    ) -> Result<(), StoreError> {
        let kwh = energy(loader, &self.power, "")?;
        let volume = amount(loader, &self.flow)?;
        let dp = self.dp(loader)?;
        let no_vfd: Arc<str> = Arc::from("no vfd_estimate configured");
        for (i, f) in out.iter_mut().enumerate() {
            f.set(F::KWH, kwh[i].clone());
            f.set(WATER_M3, volume[i].clone());
            // A negative Δp (pump stopped, gauges drifting) delivers no hydraulic energy.
            f.set(
                HYDRAULIC_KWH,
                zip(&volume[i], &dp[i], |v, p| (v * p / 3600.0).max(0.0)),
            );
            f.set(
                VFD_KWH,
                match &self.vfd_estimate {
                    Some(e) => volume[i].clone().map(|v| e.kw(v / 0.25) * 0.25),
                    None => Err(no_vfd.clone()),
                },
            );
        }
        Ok(())
    }

    pub fn definitions(&self, _assets: &Site<'_>) -> Vec<Definition> {
        vec![
            def("energy_kwh", "kWh", "electricity of the pump"),
            def("avg_power_kw", "kW", "average electrical power"),
            def("water_m3", "m³", "water pumped"),
            def("avg_flow_m3h", "m³/h", "average flow"),
            def("kwh_per_m3", "kWh/m³", "electricity per m³ pumped"),
            def(
                "avg_head_m",
                "m",
                "flow-weighted pump head: hydraulic energy / (ρ·g·volume)",
            ),
            def(
                "hydraulic_kwh",
                "kWh",
                "hydraulic energy delivered: volume × Δp (ρ·g·Q·H, integrated)",
            ),
            def(
                "wire_to_water_pct",
                "%",
                "hydraulic energy / electricity (motor, drive and pump together)",
            ),
            def(
                "vfd_estimate_kwh",
                "kWh",
                "electricity on a drive at the same flows (affinity laws on the system curve)",
            ),
            def(
                "vfd_savings_kwh",
                "kWh",
                "measured minus the drive estimate (negative: no saving to expect)",
            ),
            def(
                "vfd_savings_pct",
                "%",
                "the drive estimate's saving, % of measured",
            ),
        ]
    }

    pub fn compute(&self, _assets: &Site<'_>, f: &Facts, span: Span) -> Vec<(&'static str, V)> {
        let g = |x: F| f.get(x);
        let h = span.hours;
        let rho_g = self.density_kg_m3 * G;
        let savings = g(F::KWH).and_then(|e| Ok(e - g(VFD_KWH)?));
        vec![
            ("energy_kwh", g(F::KWH)),
            ("avg_power_kw", g(F::KWH).map(|e| e / h)),
            ("water_m3", g(WATER_M3)),
            ("avg_flow_m3h", g(WATER_M3).map(|v| v / h)),
            ("kwh_per_m3", div(g(F::KWH), g(WATER_M3), "no water pumped")),
            (
                "avg_head_m",
                div(
                    g(HYDRAULIC_KWH).map(|e| e * 3.6e6),
                    g(WATER_M3).map(|v| v * rho_g),
                    "no water pumped",
                ),
            ),
            ("hydraulic_kwh", g(HYDRAULIC_KWH)),
            (
                "wire_to_water_pct",
                div(
                    g(HYDRAULIC_KWH).map(|e| 100.0 * e),
                    g(F::KWH),
                    "the pump drew no power",
                ),
            ),
            ("vfd_estimate_kwh", g(VFD_KWH)),
            ("vfd_savings_kwh", savings.clone()),
            (
                "vfd_savings_pct",
                div(
                    savings.map(|s| 100.0 * s),
                    g(F::KWH),
                    "the pump drew no power",
                ),
            ),
        ]
    }
}
