//! The portfolio's figures from the records the sites sent: each plant's month (energy, SEC,
//! cost, CO2e from its plant assets' monthly EnPI facts), its savings with their uncertainty,
//! and the indicators of like assets with reference bands.
//!
//! Indicators are worked out from the facts (the mergeable sums the site stores), exactly as
//! the site does: compressor specific power = 60 · kWh / m³ delivered, leakage % = loaded
//! share of running time in no-production periods, chilled-water plant kW/TR = (chiller +
//! auxiliaries kWh) / TR·h, SEC = kWh / production.
//!
//! Combined uncertainty: a plant's savings of several plans, and the portfolio's of several
//! plants, are sums of independent estimates (separate baseline models fitted on separate
//! data), so their standard errors add in quadrature: u = √(Σ uᵢ²) (ASHRAE Guideline 14's
//! aggregation of independent errors). The figures are the 68 % (one standard error) ones.

use serde::Serialize;

use crate::enpi::facts::{StoredFacts, NAMES};

/// A fact by name from a stored fact vector (`None` where missing or not applicable).
pub fn fact(f: &StoredFacts, name: &str) -> Option<f64> {
    let i = NAMES.iter().position(|n| *n == name)?;
    f.v.get(i).copied().flatten().filter(|x| x.is_finite())
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// A plant's month, summed over its plant-type assets (those with a demand fact).
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Month {
    /// First day of the month, ms since the epoch (the site's bucket).
    pub bucket: i64,
    pub energy_kwh: Option<f64>,
    pub production: Option<f64>,
    pub sec: Option<f64>,
    pub energy_cost: Option<f64>,
    pub co2e_kg: Option<f64>,
}

fn add(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x + y),
        (x, y) => x.or(y),
    }
}

/// Whether facts are a plant (main incomer) asset's: only those have a demand.
pub fn is_plant(f: &StoredFacts) -> bool {
    fact(f, "demand_kw").is_some()
}

/// The month of a site from its plant assets' facts of that month.
pub fn month<'a>(bucket: i64, facts: impl IntoIterator<Item = &'a StoredFacts>) -> Month {
    let mut m = Month {
        bucket,
        ..Default::default()
    };
    for f in facts.into_iter().filter(|f| is_plant(f)) {
        m.energy_kwh = add(m.energy_kwh, fact(f, "kwh"));
        m.production = add(m.production, fact(f, "production"));
        m.energy_cost = add(m.energy_cost, fact(f, "energy_cost"));
        let co2 = add(fact(f, "scope1_kg"), fact(f, "scope2_kg"));
        m.co2e_kg = add(m.co2e_kg, co2);
    }
    m.sec = ratio(m.energy_kwh, m.production);
    m
}

/// Root-sum-square of standard errors (independent estimates).
pub fn rss(u: impl IntoIterator<Item = f64>) -> f64 {
    u.into_iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// A band of an indicator: where a value stands against published references.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Bands {
    /// At or below: good.
    pub good_max: f64,
    /// At or below (above good): typical; above: poor. `None`: two bands only.
    pub typical_max: Option<f64>,
    /// Where the figures come from.
    pub source: &'static str,
}

impl Bands {
    pub fn band(&self, v: f64) -> &'static str {
        if v <= self.good_max {
            "good"
        } else if self.typical_max.is_none_or(|t| v > t) {
            "poor"
        } else {
            "typical"
        }
    }
}

/// Indicators compared across plants, in page order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    SpecificPower,
    LeakagePct,
    PlantKwPerTr,
    Sec,
}

impl Indicator {
    pub const ALL: [Indicator; 4] = [
        Indicator::SpecificPower,
        Indicator::LeakagePct,
        Indicator::PlantKwPerTr,
        Indicator::Sec,
    ];

    pub fn unit(self) -> &'static str {
        match self {
            Indicator::SpecificPower => "kW/(m³/min)",
            Indicator::LeakagePct => "%",
            Indicator::PlantKwPerTr => "kW/TR",
            Indicator::Sec => "kWh/unit",
        }
    }

    /// Reference bands (DOMAIN.md): CAGI data sheets put full-load specific power at 5-7;
    /// leak tests: good systems < 10 %, poor 20-30 %; well-tuned chilled-water plants
    /// 0.55-0.75 kW/TR. SEC has no universal reference (products differ): none.
    pub fn bands(self) -> Option<Bands> {
        match self {
            Indicator::SpecificPower => Some(Bands {
                good_max: 5.0,
                typical_max: Some(7.0),
                source: "CAGI data sheets: 5-7 kW/(m³/min) typical at full load",
            }),
            Indicator::LeakagePct => Some(Bands {
                good_max: 10.0,
                typical_max: Some(20.0),
                source: "leak test: good < 10 %, poor 20-30 %",
            }),
            Indicator::PlantKwPerTr => Some(Bands {
                good_max: 0.75,
                typical_max: None,
                source: "well-tuned chilled-water plants: 0.55-0.75 kW/TR",
            }),
            Indicator::Sec => None,
        }
    }

    /// The indicator of one asset's facts, when the asset is of its kind and has the data.
    pub fn of(self, f: &StoredFacts) -> Option<f64> {
        let g = |n| fact(f, n);
        match self {
            Indicator::SpecificPower => ratio(g("kwh").map(|e| 60.0 * e), g("air_m3")),
            Indicator::LeakagePct => ratio(g("idle_loaded_h").map(|x| 100.0 * x), g("idle_run_h"))
                .filter(|_| g("air_m3").is_some()),
            Indicator::PlantKwPerTr => ratio(add(g("kwh"), g("aux_kwh")), g("trh")),
            Indicator::Sec => ratio(g("kwh"), g("production")).filter(|_| is_plant(f)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(pairs: &[(&str, f64)]) -> StoredFacts {
        let mut f = StoredFacts {
            q: 96,
            v: vec![None; NAMES.len()],
            w: Vec::new(),
        };
        for (n, v) in pairs {
            let i = NAMES.iter().position(|x| x == n).unwrap();
            f.v[i] = Some(*v);
        }
        f
    }

    #[test]
    fn indicators_follow_the_sites_formulas_and_bands() {
        let air = facts(&[
            ("kwh", 600.0),
            ("air_m3", 6000.0),
            ("idle_loaded_h", 3.0),
            ("idle_run_h", 12.0),
        ]);
        assert_eq!(Indicator::SpecificPower.of(&air), Some(6.0));
        assert_eq!(Indicator::LeakagePct.of(&air), Some(25.0));
        assert_eq!(Indicator::PlantKwPerTr.of(&air), None);
        assert_eq!(Indicator::Sec.of(&air), None);
        let b = Indicator::SpecificPower.bands().unwrap();
        assert_eq!(
            (b.band(4.9), b.band(6.0), b.band(7.5)),
            ("good", "typical", "poor")
        );
        assert_eq!(Indicator::LeakagePct.bands().unwrap().band(25.0), "poor");
        let chw = facts(&[("kwh", 700.0), ("aux_kwh", 100.0), ("trh", 1000.0)]);
        assert_eq!(Indicator::PlantKwPerTr.of(&chw), Some(0.8));
        assert_eq!(Indicator::PlantKwPerTr.bands().unwrap().band(0.8), "poor");
        assert_eq!(Indicator::PlantKwPerTr.bands().unwrap().band(0.7), "good");
    }

    #[test]
    fn a_plants_month_sums_its_plant_assets_only() {
        let a = facts(&[
            ("kwh", 1000.0),
            ("demand_kw", 50.0),
            ("production", 200.0),
            ("energy_cost", 3000.0),
            ("scope2_kg", 500.0),
        ]);
        let b = facts(&[
            ("kwh", 500.0),
            ("demand_kw", 30.0),
            ("production", 50.0),
            ("scope1_kg", 20.0),
        ]);
        let compressor = facts(&[("kwh", 999.0), ("air_m3", 1.0)]);
        let m = month(7, [&a, &b, &compressor]);
        assert_eq!(m.energy_kwh, Some(1500.0));
        assert_eq!(m.sec, Some(6.0));
        assert_eq!(m.energy_cost, Some(3000.0));
        assert_eq!(m.co2e_kg, Some(520.0));
        assert_eq!(Indicator::Sec.of(&a), Some(5.0));
        assert_eq!(month(0, [&compressor]), Month::default());
    }

    #[test]
    fn the_pages_keys_made_from_names_exist_in_both_languages() {
        use crate::i18n::{t, Language};
        let mut keys = Vec::new();
        for ind in Indicator::ALL {
            let name = serde_json::to_value(ind).unwrap();
            let name = name.as_str().unwrap().replace('_', "-");
            keys.push(format!("hub-ind-{name}"));
            if ind.bands().is_some() {
                keys.push(format!("hub-bands-{name}"));
            }
        }
        for b in ["good", "typical", "poor", "none"] {
            keys.push(format!("hub-band-{b}"));
        }
        for r in ["admin", "coach", "plant"] {
            keys.push(format!("hub-role-{r}"));
        }
        for k in keys {
            for lang in [Language::English, Language::TraditionalChinese] {
                assert_ne!(t(lang, &k), k, "{k} missing in {lang:?}");
            }
        }
    }

    #[test]
    fn independent_uncertainties_add_in_quadrature() {
        assert_eq!(rss([3.0, 4.0]), 5.0);
        assert_eq!(rss([]), 0.0);
        assert!((rss([1.0; 100]) - 10.0).abs() < 1e-12);
    }
}
