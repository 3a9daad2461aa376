//! Contract-capacity optimisation (契約容量評估): from a year of 15-minute demand or of monthly
//! bill maxima, the capacities per contract kind that minimise the basic plus over-contract
//! charges, the cost curve around them, the months that would have exceeded and the saving
//! against the site's contracts.

pub mod months;
pub mod optimise;

#[cfg(test)]
mod tests;

use chrono::{Datelike, Months, NaiveDate, TimeZone};

use crate::enpi::Assets;
use crate::store::{Store, StoreError};
pub use months::MonthDemand;
pub use optimise::{optimise, OptimiseError, Optimum};

/// The twelve whole plant-local months before the month holding `to_ms` (the current month is
/// not billed yet), as UTC ms.
pub fn last_year(tz: chrono_tz::Tz, to_ms: i64) -> (i64, i64) {
    let local = tz
        .timestamp_millis_opt(to_ms)
        .single()
        .map(|t| t.naive_local().date())
        .unwrap_or_default();
    let end = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).unwrap_or_default();
    let start = end - Months::new(12);
    let ms = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .map_or(0, |t| t.timestamp_millis())
    };
    (ms(start), ms(end))
}

/// Each month's highest demand per contract kind over `[from, to)`, from the plant asset's
/// incomers (the demand the EnPI engine bills: each quarter-hour's energy ÷ 0.25 h). `Ok(None)`
/// when the site has no plant asset or no tariff.
pub fn months_from_store(
    store: &Store,
    assets: &Assets,
    (from, to): (i64, i64),
) -> Result<Option<Vec<MonthDemand>>, StoreError> {
    let Some(tariff) = &assets.tariff else {
        return Ok(None);
    };
    let Some(quarters) = crate::demand::plant_quarters(store, assets, (from, to))? else {
        return Ok(None);
    };
    let quarters = quarters.into_iter().map(|q| (q.ts, q.kw));
    Ok(Some(months::from_quarters(
        tariff,
        assets.timezone,
        quarters,
    )))
}
