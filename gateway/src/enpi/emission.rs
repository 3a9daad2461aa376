//! Grid emission factors by year (seeds/emission-factors.toml), as dated data.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FactorFile {
    name: String,
    unit: String,
    #[serde(default)]
    source: Option<String>,
    factors: BTreeMap<String, f64>,
}

/// kg CO2e per kWh by calendar year.
#[derive(Debug, Clone)]
pub struct EmissionFactors {
    pub name: String,
    pub source: Option<String>,
    by_year: BTreeMap<i32, f64>,
}

impl EmissionFactors {
    pub fn parse(text: &str) -> Result<Self, String> {
        let de = toml::Deserializer::parse(text).map_err(|e| e.message().trim().to_owned())?;
        let f: FactorFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            format!("{key}: {}", e.into_inner().message().trim())
        })?;
        if f.unit != "kg CO2e/kWh" {
            return Err(format!(
                "unit: `{}`: factors must be given in \"kg CO2e/kWh\"",
                f.unit
            ));
        }
        let mut by_year = BTreeMap::new();
        for (year, v) in f.factors {
            let y: i32 = year
                .parse()
                .map_err(|_| format!("factors.{year}: keys are years, e.g. 2023 = 0.494"))?;
            if !(0.0..=5.0).contains(&v) {
                return Err(format!(
                    "factors.{year}: {v} kg CO2e/kWh is not a plausible grid factor (0-5)"
                ));
            }
            by_year.insert(y, v);
        }
        if by_year.is_empty() {
            return Err("factors: no year given".into());
        }
        Ok(Self {
            name: f.name,
            source: f.source,
            by_year,
        })
    }

    /// The factor for `year` and the year it was published for: the latest year not after
    /// `year` (a new year's factor is published months later), or the earliest one given.
    pub fn factor(&self, year: i32) -> (f64, i32) {
        let (y, f) = self
            .by_year
            .range(..=year)
            .next_back()
            .or_else(|| self.by_year.iter().next())
            .expect("at least one year");
        (*f, *y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_factors_by_year_with_fallback() {
        let f =
            EmissionFactors::parse(include_str!("../../../seeds/emission-factors.toml")).unwrap();
        assert_eq!(f.factor(2021), (0.509, 2021));
        assert_eq!(f.factor(2026), (0.494, 2023), "latest published year");
        assert_eq!(f.factor(2010), (0.554, 2017), "earliest given");
        assert!(
            EmissionFactors::parse("name='x'\nunit='t/MWh'\n[factors]\n2020=0.5")
                .unwrap_err()
                .starts_with("unit")
        );
    }
}
