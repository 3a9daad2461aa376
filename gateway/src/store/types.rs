//! What the store's reads return: the newest samples, query points, energy points.

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use crate::rollup::Agg;

/// The newest sample of one series.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latest {
    pub site: String,
    pub device: String,
    pub quantity: String,
    pub value: Option<f64>,
    pub unit: String,
    pub quality: String,
    pub ts: DateTime<Utc>,
}

/// One point of a query result.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Point {
    pub ts: DateTime<Utc>,
    #[serde(flatten)]
    pub agg: Agg,
}

/// Where an energy figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnergySource {
    /// Differences of the meter's import register.
    Counter,
    /// ∫ active power dt, for devices without an energy register.
    IntegratedPower,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EnergyPoint {
    pub ts: DateTime<Utc>,
    pub kwh: Option<f64>,
    pub gaps: i64,
    pub resets: i64,
}

pub(super) fn ms_to_utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}
