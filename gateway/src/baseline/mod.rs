//! Energy baselines (EnB, ISO 50001 / ISO 50006): a baseline model fitted by the M&V engine
//! over a chosen period, saved under a name for an asset or the site, then tracked month by
//! month (actual against expected, SEnPI, CUSUM, year-over-year improvement) and against a
//! target (absolute, intensity or percent per year) with a forecast of the year's end.
//!
//! SEnPI here is the ISO 50006 ratio actual / expected (below 1 is better); the improvement
//! is 1 − SEnPI, given in percent.

pub mod fit;
pub mod target;
pub mod track;

use serde::{Deserialize, Serialize};

pub use fit::{fit, SaveRequest};
pub use target::Target;
pub use track::{track, Tracking};

/// A saved baseline: what it was fitted on, the model and its statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    /// The asset of the site file, or none for named meters (`energy`).
    pub asset: Option<String>,
    /// Devices whose energy is summed (besides the asset's meters).
    #[serde(default)]
    pub energy: Vec<String>,
    /// `device/quantity` drivers besides the asset's production counter.
    #[serde(default)]
    pub vars: Vec<String>,
    /// `device/quantity` of the outdoor temperature, when named.
    pub temp: Option<String>,
    #[serde(default)]
    pub no_temp: bool,
    /// The baseline period [from, to), RFC 3339 in the plant's zone, and in ms.
    pub from: String,
    pub to: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub model: ModelInfo,
    pub fit: FitStats,
    pub target: Option<Target>,
    pub saved_by: String,
    /// RFC 3339, UTC.
    pub saved_at: String,
    /// What was read (asset, meters, temperature and variables), as the M&V report says it.
    pub source: String,
}

/// The fitted model: form, coefficients and drivers (ISO 50006's relevant variables).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The M&V engine's form code, e.g. `3p-cooling` or `linear+daytype`.
    pub form: String,
    /// hour, day, week or month.
    pub granularity: String,
    pub energy_unit: String,
    /// Intercept first, in the model's order.
    pub coefficients: Vec<Coefficient>,
    pub balance_points: Vec<f64>,
    /// The drivers: `temperature` when the model had one, then the variables' names.
    pub variables: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coefficient {
    pub name: String,
    pub value: Option<f64>,
}

/// Goodness of fit (ASHRAE Guideline 14): ratios in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitStats {
    pub r2: f64,
    pub adj_r2: f64,
    pub cv_rmse_percent: Option<f64>,
    pub nmbe_percent: Option<f64>,
    /// Periods fitted and parameters (balance points included).
    pub n: usize,
    pub parameters: usize,
    /// Every validity check of the M&V engine passed.
    pub valid: bool,
    /// The checks that failed, as `name: value (limit)`.
    #[serde(default)]
    pub failed_checks: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The request or the data cannot give a baseline (a 400 in the API).
    #[error("{0}")]
    Input(String),
    /// An input error the catalogue can say in the reader's language.
    #[error("{}", .0.en())]
    Invalid(crate::i18n::Msg),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

impl From<crate::mv::MvError> for BaselineError {
    fn from(e: crate::mv::MvError) -> Self {
        Self::Input(e.to_string())
    }
}

/// A baseline name: 1-64 letters, digits, `-`, `_` or `.` (it appears in URLs).
pub fn check_name(name: &str) -> Result<(), BaselineError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(BaselineError::Invalid(
            crate::i18n::Msg::new("bl-err-name").arg("name", name),
        ))
    }
}

impl Record {
    /// The row the store keeps.
    pub fn to_row(&self, saved_at_ms: i64) -> crate::store::BaselineRow {
        crate::store::BaselineRow {
            name: self.name.clone(),
            asset: self.asset.clone(),
            saved_at: saved_at_ms,
            saved_by: self.saved_by.clone(),
            json: serde_json::to_string(self).unwrap_or_default(),
        }
    }

    pub fn from_row(row: &crate::store::BaselineRow) -> Result<Self, BaselineError> {
        serde_json::from_str(&row.json).map_err(|e| {
            BaselineError::Input(format!(
                "stored baseline `{}` cannot be read ({e}): delete it and save it again",
                row.name
            ))
        })
    }
}

#[cfg(test)]
mod tests;
