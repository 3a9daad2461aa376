//! Demand-response events (`[[demand_response]]`): a dated window in plant-local time and the
//! kW reduction committed for it, verified by the gateway against the customer baseline load.
//! The same checks serve the site file and the gateway's API, so both name the bad field.

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

use super::error::ConfigError;
use crate::payload::is_identifier;

/// How the baseline is adjusted on the event day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Adjustment {
    /// The programme's rule as it stands (Taipower's has no day-of adjustment).
    #[default]
    None,
    /// kilowatch's addition: the mean of actual − baseline over the two hours ending one hour
    /// before the event, capped at ±20 % of each quarter-hour's baseline.
    Additive,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DrEvent {
    /// Identifier (letters, digits, `-`, `_`), unique on the site.
    pub id: String,
    /// The plant-local day of the event.
    pub date: NaiveDate,
    /// Plant-local start and end, `HH:MM` on a quarter-hour; `end` may be `24:00`.
    pub start: String,
    pub end: String,
    /// The reduction promised, kW.
    pub committed_kw: f64,
    #[serde(default)]
    pub adjustment: Adjustment,
}

/// A field of an event and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: &'static str,
    pub what: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.field, self.what)
    }
}

/// Minutes after midnight of `HH:MM` on a quarter-hour (`24:00` is 1440), or why not.
pub fn quarter_minute(s: &str) -> Result<u32, String> {
    let minutes = if s == "24:00" {
        1440
    } else {
        let t = NaiveTime::parse_from_str(s, "%H:%M")
            .map_err(|_| format!("`{s}`: expected HH:MM, e.g. 13:00"))?;
        use chrono::Timelike;
        t.hour() * 60 + t.minute()
    };
    if minutes % 15 != 0 {
        return Err(format!(
            "`{s}`: must fall on a quarter-hour (:00, :15, :30, :45)"
        ));
    }
    Ok(minutes)
}

impl DrEvent {
    /// The window in minutes after plant-local midnight, `[start, end)`.
    pub fn window(&self) -> Result<(u32, u32), FieldError> {
        let at = |field, s: &str| quarter_minute(s).map_err(|what| FieldError { field, what });
        let start = at("start", &self.start)?;
        let end = at("end", &self.end)?;
        if start >= 1440 {
            return Err(FieldError {
                field: "start",
                what: "must be before 24:00".into(),
            });
        }
        if end <= start {
            return Err(FieldError {
                field: "end",
                what: format!("`{}` must be after start `{}`", self.end, self.start),
            });
        }
        Ok((start, end))
    }

    /// Every check of one event on its own.
    pub fn check(&self) -> Result<(), FieldError> {
        if !is_identifier(&self.id) {
            return Err(FieldError {
                field: "id",
                what: format!("`{}` must be 1-64 letters, digits, `-` or `_`", self.id),
            });
        }
        self.window()?;
        if !(self.committed_kw.is_finite() && self.committed_kw > 0.0) {
            return Err(FieldError {
                field: "committed_kw",
                what: format!("{} kW: must be a number above 0", self.committed_kw),
            });
        }
        Ok(())
    }
}

/// The site file's events: each valid, ids unique.
pub(super) fn check(events: &[DrEvent], file: &str) -> Result<(), ConfigError> {
    for (i, e) in events.iter().enumerate() {
        e.check().map_err(|f| {
            ConfigError::new(file, format!("demand_response[{i}].{}", f.field), f.what)
        })?;
        if events[..i].iter().any(|o| o.id == e.id) {
            return Err(ConfigError::new(
                file,
                format!("demand_response[{i}].id"),
                format!("`{}` is used by two events", e.id),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(start: &str, end: &str, kw: f64) -> DrEvent {
        DrEvent {
            id: "e1".into(),
            date: NaiveDate::from_ymd_opt(2026, 7, 1).unwrap(),
            start: start.into(),
            end: end.into(),
            committed_kw: kw,
            adjustment: Adjustment::None,
        }
    }

    #[test]
    fn windows_are_quarter_hours_in_order() {
        assert_eq!(event("13:00", "15:00", 1.0).window(), Ok((780, 900)));
        assert_eq!(event("22:00", "24:00", 1.0).window(), Ok((1320, 1440)));
        assert_eq!(
            event("13:10", "15:00", 1.0).check().unwrap_err().field,
            "start"
        );
        assert_eq!(
            event("13:00", "12:00", 1.0).check().unwrap_err().field,
            "end"
        );
        assert_eq!(event("13:00", "1pm", 1.0).check().unwrap_err().field, "end");
        assert_eq!(
            event("13:00", "14:00", 0.0).check().unwrap_err().field,
            "committed_kw"
        );
        assert_eq!(
            event("13:00", "14:00", f64::NAN).check().unwrap_err().field,
            "committed_kw"
        );
    }

    #[test]
    fn duplicate_ids_name_the_second() {
        let e = event("13:00", "14:00", 5.0);
        let err = check(&[e.clone(), e], "site.toml").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("demand_response[1].id"));
    }
}
