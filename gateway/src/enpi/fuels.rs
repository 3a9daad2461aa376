//! Fuels burned or displaced by utility assets: net heating value (the MOEA heat-content table,
//! `seeds/heat-content.toml`), kg CO2e and the Siegert constants (`seeds/fuels.toml`), per unit
//! of the series that meters the fuel.

use std::sync::OnceLock;

use kilowatch_site::vocab::HeatContent;
use serde::Deserialize;

/// The combustion data compiled into the binaries.
pub const BUILTIN: &str = include_str!("../../../seeds/fuels.toml");

/// kJ per international-table kilocalorie.
const KJ_PER_KCAL: f64 = 4.1868;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    gwp_set: String,
    gwp_ch4: f64,
    gwp_n2o: f64,
    fuels: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    co2_kg_per_tj: f64,
    ch4_kg_per_tj: f64,
    n2o_kg_per_tj: f64,
    siegert_a2: Option<f64>,
    siegert_b: Option<f64>,
}

fn table() -> Result<&'static Table, String> {
    static TABLE: OnceLock<Result<Table, String>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            toml::from_str(BUILTIN).map_err(|e| format!("seeds/fuels.toml: {}", e.message()))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// One fuel as one meter measures it: everything per unit of that meter's canonical unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Fuel {
    pub product: String,
    /// The meter's unit (m³, L, t, kg).
    pub unit: String,
    /// Net heating value, kWh per unit.
    pub kwh_per_unit: f64,
    pub kloe_per_unit: f64,
    pub kg_co2e_per_unit: f64,
    /// Siegert A2 and B, where published for this fuel.
    pub siegert: Option<(f64, f64)>,
    /// The GWP set the CO2e uses.
    pub gwp_set: String,
}

impl Fuel {
    /// `product` of the heat-content table metered in `unit`; `kg_co2e_per_unit` overrides
    /// the IPCC default (a site's own factor).
    pub fn resolve(
        product: &str,
        unit: &str,
        kg_co2e_per_unit: Option<f64>,
    ) -> Result<Self, String> {
        let heat = HeatContent::builtin();
        let kcal = heat.kcal(product, 1.0, unit).map_err(|e| e.to_string())?;
        let kloe = heat.kloe(product, 1.0, unit).map_err(|e| e.to_string())?;
        let t = table()?;
        let entry = t.fuels.iter().find(|f| f.name == product);
        let tj = kcal * KJ_PER_KCAL * 1e-9;
        let kg = match (kg_co2e_per_unit, entry) {
            (Some(k), _) => k,
            (None, Some(e)) => {
                tj * (e.co2_kg_per_tj + t.gwp_ch4 * e.ch4_kg_per_tj + t.gwp_n2o * e.n2o_kg_per_tj)
            }
            (None, None) => {
                return Err(format!(
                    "no emission factors for `{product}` in seeds/fuels.toml: set kg_co2e_per_unit"
                ))
            }
        };
        Ok(Self {
            product: product.to_owned(),
            unit: unit.to_owned(),
            kwh_per_unit: kcal * KJ_PER_KCAL / 3600.0,
            kloe_per_unit: kloe,
            kg_co2e_per_unit: kg,
            siegert: entry.and_then(|e| Some((e.siegert_a2?, e.siegert_b?))),
            gwp_set: t.gwp_set.clone(),
        })
    }

    /// Siegert flue-gas loss, % of the net heat input: (t_flue − t_air) × (A2/(21 − O2) + B).
    pub fn flue_gas_loss_pct(&self, flue_c: f64, air_c: f64, o2_pct: f64) -> Option<f64> {
        let (a2, b) = self.siegert?;
        // O2 at or above 21 % is air, not flue gas: no combustion to rate.
        (o2_pct < 20.9).then(|| (flue_c - air_c) * (a2 / (21.0 - o2_pct) + b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_gas_by_hand() {
        let f = Fuel::resolve("natural_gas", "m³", None).unwrap();
        // 8 107 kcal/m³ × 4.1868 kJ/kcal = 33 942.39 kJ = 9.428 44 kWh.
        assert!(
            (f.kwh_per_unit - 9.428_441).abs() < 1e-5,
            "{}",
            f.kwh_per_unit
        );
        // 3.394 239e-5 TJ × (56 100 + 28 × 1 + 265 × 0.1) = 1.906 03 kg CO2e.
        assert!(
            (f.kg_co2e_per_unit - 1.906_04).abs() < 1e-4,
            "{}",
            f.kg_co2e_per_unit
        );
        // 200 °C flue, 20 °C air, 3 % O2: 180 × (0.66/18 + 0.009) = 8.22 %.
        let q = f.flue_gas_loss_pct(200.0, 20.0, 3.0).unwrap();
        assert!((q - 8.22).abs() < 1e-9, "{q}");
        let coal = Fuel::resolve("fuel_coal", "t", None).unwrap();
        assert!(coal.siegert.is_none());
        // 1 t = 1 000 kg × 5 890 kcal/kg.
        assert!((coal.kwh_per_unit - 5_890_000.0 * 4.1868 / 3600.0).abs() < 1e-6);
        assert!(Fuel::resolve("natural_gas", "kg", None).is_err());
        assert!(Fuel::resolve("electricity", "kWh", None).is_err());
        assert_eq!(
            Fuel::resolve("electricity", "kWh", Some(0.5))
                .unwrap()
                .kg_co2e_per_unit,
            0.5
        );
    }
}
