//! What an M&V run reads from the store: the asset or meters, temperature and variables.

/// What to read from the store.
#[derive(Debug, Clone, Default)]
pub struct StoreQuery {
    /// An asset of the site file: its meters' energy and its production counter.
    pub asset: Option<String>,
    /// Devices whose energy (import register, else ∫ active power) is summed.
    pub energy: Vec<String>,
    /// `device/quantity` of the outdoor temperature; found automatically when the site has a
    /// single `outdoor_temp` series.
    pub temp: Option<String>,
    /// `device/quantity`: counters are summed per period, other quantities averaged.
    pub vars: Vec<String>,
    /// No temperature even if the site has one.
    pub no_temp: bool,
}
