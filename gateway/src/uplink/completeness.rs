//! Data completeness for the hub: per device and plant-local day (today and yesterday), the
//! share of the day's minutes so far that hold at least one stored reading.

use chrono::{NaiveDate, TimeZone as _};
use chrono_tz::Tz;

use crate::store::{Store, StoreError};

/// Start and end (ms) of the plant-local day `date`.
fn day_bounds(tz: Tz, date: NaiveDate) -> Option<(i64, i64)> {
    let start = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
            .earliest()
            .map(|t| t.timestamp_millis())
    };
    Some((start(date)?, start(date.succ_opt()?)?))
}

/// Completeness records `(key, at, body)` of `devices` (and any other device with data) for
/// the plant-local days of `now` and the day before.
pub fn records(
    store: &Store,
    tz: Tz,
    devices: &[String],
    now_ms: i64,
) -> Result<Vec<(String, Option<i64>, String)>, StoreError> {
    let Some(today) = chrono::DateTime::from_timestamp_millis(now_ms) else {
        return Ok(Vec::new());
    };
    let today = today.with_timezone(&tz).date_naive();
    let mut out = Vec::new();
    for date in [today.pred_opt(), Some(today)].into_iter().flatten() {
        let Some((from, to)) = day_bounds(tz, date) else {
            continue;
        };
        let expected = (to.min(now_ms) - from).max(0) / 60_000;
        let mut seen = store.device_minutes(from, to)?;
        for d in devices {
            if !seen.iter().any(|(s, _)| s == d) {
                seen.push((d.clone(), 0));
            }
        }
        for (device, minutes) in seen {
            let ratio = if expected > 0 {
                (minutes as f64 / expected as f64).min(1.0)
            } else {
                0.0
            };
            let body = serde_json::json!({
                "device": device,
                "date": date.to_string(),
                "minutes": minutes,
                "expected": expected,
                "ratio": ratio,
            });
            out.push((format!("{device}/{date}"), Some(from), body.to_string()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_follow_the_plant_clock() {
        let tz: Tz = "Asia/Taipei".parse().unwrap();
        let (from, to) = day_bounds(tz, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap();
        // Midnight in Taipei is 16:00 UTC the day before.
        assert_eq!(from, 1_767_196_800_000);
        assert_eq!(to - from, 86_400_000);
    }
}
