//! What indicators are made of, shared by every asset type: definitions, the interval a row
//! covers, values with their reasons.

use chrono::NaiveDate;
use serde::Serialize;

use super::facts::Why;

/// kW per ton of refrigeration.
pub const KW_PER_TR: f64 = 3.517;

/// What an indicator is.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Definition {
    pub name: String,
    pub unit: String,
    pub description: String,
    /// The fuel the description names, to say it in another language.
    #[serde(skip)]
    pub fuel: Option<String>,
}

impl Definition {
    /// The description in `lang`, from the catalogue's `enpi-desc-<kind>-<name>`; the English
    /// text where the catalogue has no such message.
    pub fn describe(&self, lang: crate::i18n::Language, kind: &str) -> String {
        let key = format!(
            "enpi-desc-{}-{}",
            kind.replace('_', "-"),
            self.name.replace('_', "-")
        );
        if lang == crate::i18n::Language::English || !crate::i18n::has(&key) {
            return self.description.clone();
        }
        crate::i18n::tr(lang, &key, &[("fuel", self.fuel.as_deref().unwrap_or(""))])
    }
}

/// The interval an indicator row covers.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// Hours covered (quarters × 0.25).
    pub hours: f64,
    /// First plant-local day of the billing month, for monthly rows.
    pub month: Option<NaiveDate>,
}

pub type V = Result<f64, Why>;
