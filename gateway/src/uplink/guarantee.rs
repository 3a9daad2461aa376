//! Each M&V plan's savings against its guarantee, per contract year, for the hub. The
//! guarantee is in the site file, not in the stored results, so the `savings` records alone
//! cannot say whether a plant's contractor is meeting it; these records carry the verdict the
//! site's own `/api/v1/mv/plans` gives (status, guaranteed and avoided kWh, confidence).

use crate::mv::guarantee::plan_status;
use crate::mv::plan::Plan;
use crate::store::{Store, StoreError};

/// `(key, at, body)` per plan and contract year that has a result (pending years are left
/// out): key `<plan>/<year>`, at the year's first instant.
pub fn records(
    store: &Store,
    plans: &[Plan],
) -> Result<Vec<(String, Option<i64>, String)>, StoreError> {
    let mut out = Vec::new();
    for plan in plans {
        let status = plan_status(store, plan)?;
        for y in status.years.iter().filter(|y| y.status != "pending") {
            let (from, _) = plan.year_dates(y.year);
            let body = serde_json::json!({
                "plan": plan.id,
                "name": plan.name,
                "guarantee": plan.guarantee,
                "year": y.year,
                "from": y.from,
                "to": y.to,
                "through": y.through,
                "complete": y.complete,
                "status": y.status,
                "avoided_kwh": y.avoided_kwh,
                "guarantee_kwh": y.guarantee_kwh,
                "shortfall_kwh": y.shortfall_kwh,
                "confidence": y.confidence,
                "standard_error_kwh": y.standard_error_kwh,
                "verified": y.verified,
            });
            out.push((
                format!("{}/{}", plan.id, y.year),
                Some(plan.instant(from)),
                body.to_string(),
            ));
        }
    }
    Ok(out)
}
