//! Totals in 公秉油當量 (kLOE): the MOEA Energy Administration's heat-content table
//! (能源產品單位熱值表), kept as data in `seeds/heat-content.toml` and loaded here only.
//!
//! kLOE is reached through the table's factor for each product, never through the physical
//! kWh → kcal conversion: the table counts 1 kWh as 860 kcal (3 600 / 4.1868 = 859.85), and a
//! statutory total must match the table.

use std::sync::OnceLock;

use serde::Deserialize;
use thiserror::Error;

use super::{quantity, Conversion, Dimension};

/// The heat-content table compiled into the binaries.
const BUILTIN: &str = include_str!("../../../../seeds/heat-content.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeatContent {
    /// The table's name and publisher.
    pub table: String,
    /// The edition the figures come from.
    pub edition: String,
    /// kcal in one 公秉油當量.
    pub kcal_per_kloe: f64,
    pub products: Vec<Product>,
}

/// One energy product of the table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub name: String,
    /// The table's own name for it.
    pub label: String,
    /// The unit the table states the heat content per.
    pub unit: String,
    pub kcal_per_unit: f64,
    /// For a product the table gives by volume and plants meter by weight (LPG).
    pub litres_per_kg: Option<f64>,
    /// The vocabulary quantity metered in this product.
    pub quantity: Option<String>,
}

#[derive(Debug, Error, PartialEq)]
pub enum HeatContentError {
    #[error("heat-content table {origin}: {message}")]
    Table { origin: String, message: String },
    #[error("no energy product `{0}` in the heat-content table")]
    UnknownProduct(String),
    #[error("`{product}` is stated per {table_unit}; `{unit}` cannot be converted to it")]
    Unit {
        product: String,
        table_unit: String,
        unit: String,
    },
}

impl HeatContent {
    /// The built-in table (seeds/heat-content.toml), parsed once.
    pub fn builtin() -> &'static HeatContent {
        static TABLE: OnceLock<HeatContent> = OnceLock::new();
        TABLE.get_or_init(|| {
            HeatContent::from_toml(BUILTIN, "seeds/heat-content.toml")
                .unwrap_or_else(|e| panic!("built-in heat-content table is broken: {e}"))
        })
    }

    /// Parses and checks a table; `origin` names the file in error messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, HeatContentError> {
        let bad = |message: String| HeatContentError::Table {
            origin: origin.to_owned(),
            message,
        };
        let table: HeatContent = toml::from_str(text).map_err(|e| bad(e.message().to_owned()))?;
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(table.kcal_per_kloe) {
            return Err(bad("kcal_per_kloe must be a positive number".into()));
        }
        for (i, p) in table.products.iter().enumerate() {
            let at = |m: &str| bad(format!("products[{i}] ({}): {m}", p.name));
            if !positive(p.kcal_per_unit) {
                return Err(at("kcal_per_unit must be a positive number"));
            }
            if p.litres_per_kg.is_some_and(|l| !positive(l)) {
                return Err(at("litres_per_kg must be a positive number"));
            }
            if super::unit(&p.unit).is_none() {
                return Err(at(&format!("unknown unit `{}`", p.unit)));
            }
            if let Some(q) = &p.quantity {
                quantity(q).map_err(|e| at(&e.to_string()))?;
            }
            if table.products[..i].iter().any(|o| o.name == p.name) {
                return Err(at("named twice"));
            }
        }
        Ok(table)
    }

    pub fn product(&self, name: &str) -> Result<&Product, HeatContentError> {
        self.products
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| HeatContentError::UnknownProduct(name.to_owned()))
    }

    /// The product a quantity's readings are metered in, if the table maps one.
    pub fn for_quantity(&self, quantity: &str) -> Option<&Product> {
        self.products
            .iter()
            .find(|p| p.quantity.as_deref() == Some(quantity))
    }

    /// kcal in `amount` of `product` given in `unit`.
    pub fn kcal(&self, product: &str, amount: f64, unit: &str) -> Result<f64, HeatContentError> {
        let p = self.product(product)?;
        Ok(p.in_table_unit(amount, unit)? * p.kcal_per_unit)
    }

    /// 公秉油當量 in `amount` of `product` given in `unit`.
    pub fn kloe(&self, product: &str, amount: f64, unit: &str) -> Result<f64, HeatContentError> {
        Ok(self.kcal(product, amount, unit)? / self.kcal_per_kloe)
    }
}

impl Product {
    /// `amount` in `unit` expressed in the table's unit: a plain conversion, or through the
    /// table's litres per kilogram for a product stated by volume and metered by weight.
    fn in_table_unit(&self, amount: f64, unit: &str) -> Result<f64, HeatContentError> {
        let refuse = || HeatContentError::Unit {
            product: self.name.clone(),
            table_unit: self.unit.clone(),
            unit: unit.to_owned(),
        };
        if let Ok(c) = Conversion::new(unit, &self.unit) {
            return Ok(c.apply(amount));
        }
        let litres_per_kg = self.litres_per_kg.ok_or_else(refuse)?;
        let is_mass = super::unit(unit).is_some_and(|u| u.dimension == Dimension::Mass);
        if !is_mass {
            return Err(refuse());
        }
        let kg = Conversion::new(unit, "kg")
            .map_err(|_| refuse())?
            .apply(amount);
        let litres = kg * litres_per_kg;
        Ok(Conversion::new("L", &self.unit)
            .map_err(|_| refuse())?
            .apply(litres))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64) -> bool {
        (got - want).abs() <= 1e-12 * want.abs().max(1.0)
    }

    #[test]
    fn hand_computed_totals_in_kloe() {
        let t = HeatContent::builtin();
        // 1 000 m³ × 8 107 kcal/m³ = 8 107 000 kcal = 0.8107 kLOE at 10^7 kcal per kLOE.
        let v = t.kloe("natural_gas", 1000.0, "m³").unwrap();
        assert!(close(v, 0.8107), "{v}");
        // 1 t coal = 1 000 kg × 5 890 kcal/kg = 5 890 000 kcal = 0.589 kLOE.
        let v = t.kloe("fuel_coal", 1.0, "t").unwrap();
        assert!(close(v, 0.589), "{v}");
        // 1 000 kWh × 860 kcal/kWh = 860 000 kcal = 0.086 kLOE (the table's factor, not the
        // physical 859.85 kcal/kWh).
        let v = t.kloe("electricity", 1000.0, "kWh").unwrap();
        assert!(close(v, 0.086), "{v}");
        assert!(close(t.kloe("electricity", 1.0, "MWh").unwrap(), 0.086));
        // 100 kg LPG = 181.8 L × 5 958 kcal/L = 1 083 164.4 kcal = 0.108 316 44 kLOE.
        let v = t.kloe("lpg", 100.0, "kg").unwrap();
        assert!(close(v, 0.108_316_44), "{v}");
        // The same LPG by volume, and a gas meter in ASCII units.
        assert!(close(t.kloe("lpg", 181.8, "L").unwrap(), 0.108_316_44));
        assert!(close(
            t.kloe("natural_gas", 1.0, "m3").unwrap(),
            0.000_810_7
        ));
    }

    #[test]
    fn quantities_find_their_product() {
        let t = HeatContent::builtin();
        assert_eq!(t.for_quantity("gas_volume").unwrap().name, "natural_gas");
        assert_eq!(t.for_quantity("coal_mass").unwrap().name, "fuel_coal");
        assert_eq!(t.for_quantity("lpg_mass").unwrap().name, "lpg");
        assert_eq!(
            t.for_quantity("active_energy_import").unwrap().name,
            "electricity"
        );
        assert!(
            t.for_quantity("fuel_volume").is_none(),
            "diesel or fuel oil: the site says"
        );
        assert!(t.edition.contains("113"), "{}", t.edition);
    }

    #[test]
    fn wrong_units_and_products_are_refused() {
        let t = HeatContent::builtin();
        assert!(matches!(
            t.kloe("natural_gas", 1.0, "kg"),
            Err(HeatContentError::Unit { .. })
        ));
        assert!(matches!(
            t.kloe("fuel_coal", 1.0, "L"),
            Err(HeatContentError::Unit { .. })
        ));
        assert_eq!(
            t.kloe("peat", 1.0, "t"),
            Err(HeatContentError::UnknownProduct("peat".into()))
        );
    }

    #[test]
    fn bad_tables_name_the_entry() {
        let text = r#"
            table = "t"
            edition = "e"
            kcal_per_kloe = 1e7
            [[products]]
            name = "x"
            label = "x"
            unit = "m³"
            kcal_per_unit = -1.0
        "#;
        let e = HeatContent::from_toml(text, "h.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("h.toml") && e.contains("products[0] (x)"), "{e}");
        let e = HeatContent::from_toml(
            &text.replace("-1.0", "1.0").replace("m³", "furlong"),
            "h.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("furlong"), "{e}");
    }
}
