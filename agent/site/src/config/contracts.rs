//! Contract capacities with the utility (`[site.contracts]`, or `site.contract_kw` for a
//! regular contract alone): the one definition the demand alarm and the bill read.
//!
//! Taipower's high-voltage time-of-use customers contract a regular (經常契約) capacity and
//! may add semi-peak (半尖峰), Saturday semi-peak (週六半尖峰) and off-peak (離峰) capacity. Each
//! period may draw what the periods before it allow plus its own: peak → regular; half-peak →
//! regular + half_peak; Saturday half-peak → that + saturday_half_peak; off-peak → all four.

use serde::{Deserialize, Serialize};

use super::error::{Bound, ConfigError, Problem};

/// Contract capacities, kW.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Contracts {
    /// 經常契約: the capacity allowed in every period.
    pub regular: f64,
    /// 半尖峰: added in the half-peak periods and after.
    #[serde(default)]
    pub half_peak: f64,
    /// 週六半尖峰: added on Saturday half-peak and off-peak.
    #[serde(default)]
    pub saturday_half_peak: f64,
    /// 離峰: added off-peak.
    #[serde(default)]
    pub off_peak: f64,
}

impl Contracts {
    /// A regular contract alone (`site.contract_kw`, or one capacity in every period).
    pub fn regular_only(kw: f64) -> Self {
        Self {
            regular: kw,
            half_peak: 0.0,
            saturday_half_peak: 0.0,
            off_peak: 0.0,
        }
    }

    /// The demand allowed in the tariff period named `period` (seeds/tariffs/*.toml names):
    /// cumulative from the regular contract. A period this does not know (peak, or a tariff's
    /// own name) is allowed the regular contract only: the safe side for an alarm.
    pub fn allowed_kw(&self, period: &str) -> f64 {
        let half = self.regular + self.half_peak;
        match period {
            "half_peak" => half,
            "saturday_half_peak" => half + self.saturday_half_peak,
            "off_peak" => half + self.saturday_half_peak + self.off_peak,
            _ => self.regular,
        }
    }

    /// How `allowed_kw(period)` is made up, for evidence: `regular 1000 + half_peak 200`.
    pub fn basis(&self, period: &str) -> String {
        let parts: &[(&str, f64)] = match period {
            "half_peak" => &[("regular", self.regular), ("half_peak", self.half_peak)],
            "saturday_half_peak" => &[
                ("regular", self.regular),
                ("half_peak", self.half_peak),
                ("saturday_half_peak", self.saturday_half_peak),
            ],
            "off_peak" => &[
                ("regular", self.regular),
                ("half_peak", self.half_peak),
                ("saturday_half_peak", self.saturday_half_peak),
                ("off_peak", self.off_peak),
            ],
            _ => &[("regular", self.regular)],
        };
        parts
            .iter()
            .map(|(name, kw)| format!("{name} {kw}"))
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// Whether capacity beyond the regular one is contracted (then the period matters).
    pub fn by_period(&self) -> bool {
        self.half_peak > 0.0 || self.saturday_half_peak > 0.0 || self.off_peak > 0.0
    }
}

/// The site's contracts from `contract_kw` or `[site.contracts]`, checked: one of them, finite,
/// regular above 0 and the rest 0 or more.
pub(super) fn resolve(
    contract_kw: Option<f64>,
    table: Option<&Contracts>,
    file: &str,
) -> Result<Option<Contracts>, ConfigError> {
    let c = match (contract_kw, table) {
        (Some(_), Some(_)) => return Err(ConfigError::new(
            file,
            "site.contracts",
            "give either site.contract_kw (a regular contract alone) or [site.contracts], not both",
        )),
        (Some(kw), None) => {
            if !(kw.is_finite() && kw > 0.0) {
                return Err(ConfigError::at(
                    file,
                    "site.contract_kw",
                    Problem::OutOfRange {
                        value: format!("{kw} kW"),
                        bound: Bound::Above("0 kW".into()),
                    },
                ));
            }
            return Ok(Some(Contracts::regular_only(kw)));
        }
        (None, Some(c)) => *c,
        (None, None) => return Ok(None),
    };
    if !(c.regular.is_finite() && c.regular > 0.0) {
        return Err(ConfigError::at(
            file,
            "site.contracts.regular",
            Problem::OutOfRange {
                value: format!("{} kW", c.regular),
                bound: Bound::Above("0 kW".into()),
            },
        ));
    }
    for (key, kw) in [
        ("half_peak", c.half_peak),
        ("saturday_half_peak", c.saturday_half_peak),
        ("off_peak", c.off_peak),
    ] {
        if !(kw.is_finite() && kw >= 0.0) {
            return Err(ConfigError::at(
                file,
                format!("site.contracts.{key}"),
                Problem::OutOfRange {
                    value: format!("{kw} kW"),
                    bound: Bound::AtLeast("0 kW".into()),
                },
            ));
        }
    }
    Ok(Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SiteConfig;
    use crate::profile::ProfileLibrary;

    fn parse(site: &str) -> Result<SiteConfig, ConfigError> {
        let text = format!("[site]\nid = \"p\"\n{site}");
        SiteConfig::parse(&text, "plant.toml", &ProfileLibrary::builtin())
    }

    #[test]
    fn the_site_file_table_and_its_errors() {
        let c = parse("[site.contracts]\nregular = 1000\noff_peak = 200.5\n").unwrap();
        let want = Contracts {
            regular: 1000.0,
            half_peak: 0.0,
            saturday_half_peak: 0.0,
            off_peak: 200.5,
        };
        assert_eq!(c.contracts(), Some(want));
        let c = parse("contract_kw = 450\n").unwrap();
        assert_eq!(c.contracts(), Some(Contracts::regular_only(450.0)));
        assert_eq!(parse("").unwrap().contracts(), None);

        let e = parse("contract_kw = 450\n[site.contracts]\nregular = 450\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("site.contracts"), "{e}");
        let e = parse("[site.contracts]\nregular = 1000\nhalf_peak = -5\n").unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.key.as_deref()),
            ("plant.toml", Some("site.contracts.half_peak"))
        );
        assert!(e.line.is_some(), "{e}");
        let e = parse("[site.contracts]\nregular = nan\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("site.contracts.regular"), "{e}");
        // The regular contract is required, and names are checked.
        let e = parse("[site.contracts]\noff_peak = 100\n").unwrap_err();
        assert!(e.to_string().contains("regular"), "{e}");
        let e = parse("[site.contracts]\nregular = 1\npeak = 100\n").unwrap_err();
        assert!(e.to_string().contains("site.contracts"), "{e}");
    }

    const FULL: Contracts = Contracts {
        regular: 1000.0,
        half_peak: 100.0,
        saturday_half_peak: 50.0,
        off_peak: 200.0,
    };

    #[test]
    fn each_period_allows_its_own_and_the_earlier_capacities() {
        assert_eq!(FULL.allowed_kw("peak"), 1000.0);
        assert_eq!(FULL.allowed_kw("half_peak"), 1100.0);
        assert_eq!(FULL.allowed_kw("saturday_half_peak"), 1150.0);
        assert_eq!(FULL.allowed_kw("off_peak"), 1350.0);
        // A period of some other tariff: the regular contract, the safe side.
        assert_eq!(FULL.allowed_kw("shoulder"), 1000.0);
        assert_eq!(
            FULL.basis("off_peak"),
            "regular 1000 + half_peak 100 + saturday_half_peak 50 + off_peak 200"
        );
        assert_eq!(FULL.basis("peak"), "regular 1000");
        assert!(FULL.by_period());
        assert!(!Contracts::regular_only(5.0).by_period());
    }

    #[test]
    fn contract_kw_is_shorthand_for_a_regular_contract() {
        let c = resolve(Some(450.0), None, "s.toml").unwrap().unwrap();
        assert_eq!(c, Contracts::regular_only(450.0));
        assert_eq!(c.allowed_kw("off_peak"), 450.0);
        assert_eq!(resolve(None, None, "s.toml").unwrap(), None);
    }

    #[test]
    fn both_forms_or_bad_numbers_are_config_errors() {
        let e = resolve(Some(450.0), Some(&FULL), "s.toml").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("site.contracts"));
        let bad = |c: Contracts, key: &str| {
            let e = resolve(None, Some(&c), "s.toml").unwrap_err();
            assert_eq!(e.file, "s.toml");
            assert_eq!(e.key.as_deref(), Some(key), "{e}");
        };
        bad(
            Contracts {
                off_peak: -1.0,
                ..FULL
            },
            "site.contracts.off_peak",
        );
        bad(
            Contracts {
                half_peak: f64::NAN,
                ..FULL
            },
            "site.contracts.half_peak",
        );
        bad(
            Contracts {
                regular: 0.0,
                ..FULL
            },
            "site.contracts.regular",
        );
        let e = resolve(Some(f64::NAN), None, "s.toml").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("site.contract_kw"));
    }
}
