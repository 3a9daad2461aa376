//! Times, dates, ranges and steps as people write them, parsed one way for the HTTP API, the
//! command line and CSV files.
//!
//! - instants: RFC 3339, or plant-local `YYYY-MM-DD HH:MM[:SS]` / `YYYY-MM-DD` (midnight) in
//!   the site's time zone ([`instant`]); the API takes RFC 3339 only ([`rfc3339`]);
//! - ranges `FROM..TO` of dates (both days included) or instants ([`date_range`]);
//! - steps: any duration (`500ms`, `15m`, `1h`, `90d`: [`duration`]) or one of the named
//!   intervals a command offers (`1m`, `15m`, `1h`, `1d`, `1mo`: [`step`]).
//!
//! Every year is 1 to 9999, as RFC 3339 has them: a day either side stays well inside chrono's
//! range.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

pub use kilowatch_site::config::parse_duration as duration;

/// How far back a range without a start reaches from its end.
pub const DEFAULT_SPAN: chrono::TimeDelta = chrono::TimeDelta::hours(24);

const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

fn year_error(t: &str) -> String {
    format!("`{t}`: use a year from 1 to 9999")
}

/// An instant in RFC 3339 (the API's only form).
pub fn rfc3339(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{text}` is not an RFC 3339 time ({e})"))
}

/// An instant: RFC 3339, or plant-local date-time (`2026-03-01 08:00[:00]`, `2026-03-01T08:00:00`,
/// `2026/03/01 08:00`) or date (local midnight) in `tz`.
pub fn instant(text: &str, tz: chrono_tz::Tz) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    let utc = any_instant(t, tz)?;
    if !YEARS.contains(&utc.year()) {
        return Err(year_error(t));
    }
    Ok(utc)
}

fn any_instant(t: &str, tz: chrono_tz::Tz) -> Result<DateTime<Utc>, String> {
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    let local = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y/%m/%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .or_else(|| date(t).map(|d| d.and_time(chrono::NaiveTime::MIN)))
    .ok_or_else(|| {
        format!("`{t}` is not a time (use 2026-03-01T08:00:00+08:00 or 2026-03-01 08:00)")
    })?;
    tz.from_local_datetime(&local)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
        .ok_or_else(|| format!("`{t}` does not exist in {tz} (a DST gap)"))
}

/// A calendar date `YYYY-MM-DD`.
pub fn date(t: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()
}

/// An instant with an offset: RFC 3339, or ISO 8601 with `-0600`. Returns the offset too.
pub fn offset_instant(t: &str) -> Option<(i64, FixedOffset)> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .or_else(|| {
            [
                "%Y-%m-%dT%H:%M:%S%z",
                "%Y-%m-%d %H:%M:%S%z",
                "%Y-%m-%dT%H:%M%z",
            ]
            .iter()
            .find_map(|f| DateTime::parse_from_str(t, f).ok())
        })
        .map(|d| (d.timestamp_millis(), *d.offset()))
}

/// `from` and `to` with the defaults the API and the commands share: up to now, and
/// [`DEFAULT_SPAN`] back from the end.
pub fn range_or_default(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let to = to.unwrap_or(now);
    (from.unwrap_or(to - DEFAULT_SPAN), to)
}

/// A range `FROM..TO` in milliseconds, end exclusive: dates (both days included, local midnight
/// by `midnight`) or instants with an offset; `date_of` gives an instant's local date.
pub fn date_range(
    text: &str,
    midnight: impl Fn(NaiveDate) -> i64,
    date_of: impl Fn(i64) -> NaiveDate,
) -> Result<(i64, i64), String> {
    let (a, b) = text.split_once("..").ok_or_else(|| {
        format!("`{text}` is not a range: write FROM..TO, e.g. 2026-01-01..2026-06-30")
    })?;
    let bound = |text: &str, end: bool| -> Result<i64, String> {
        let t = text.trim();
        let in_range = |d: NaiveDate| {
            YEARS
                .contains(&d.year())
                .then_some(d)
                .ok_or_else(|| year_error(t))
        };
        if let Some(d) = date(t) {
            let d = in_range(d)?;
            // The day after 9999-12-31 still exists for chrono.
            let d = if end { d.succ_opt().unwrap_or(d) } else { d };
            return Ok(midnight(d));
        }
        let (ms, _) = offset_instant(t)
            .ok_or_else(|| format!("`{t}` is not a date (2026-01-31) or an RFC 3339 time"))?;
        in_range(date_of(ms))?;
        Ok(ms)
    };
    let from = bound(a, false)?;
    let to = bound(b, true)?;
    if to <= from {
        return Err(format!("`{text}`: the end is not after the start"));
    }
    Ok((from, to))
}

/// A named interval a command offers: its code and, for fixed ones, its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Minute,
    Quarter,
    Hour,
    Day,
    /// A calendar (billing) month.
    Month,
}

impl Step {
    pub fn code(self) -> &'static str {
        match self {
            Step::Minute => "1m",
            Step::Quarter => "15m",
            Step::Hour => "1h",
            Step::Day => "1d",
            Step::Month => "1mo",
        }
    }

    /// Seconds of a fixed step; a month has none.
    pub fn seconds(self) -> Option<i64> {
        match self {
            Step::Minute => Some(60),
            Step::Quarter => Some(900),
            Step::Hour => Some(3600),
            Step::Day => Some(86_400),
            Step::Month => None,
        }
    }

    fn from_code(text: &str) -> Option<Self> {
        Some(match text {
            "1m" => Step::Minute,
            "15m" => Step::Quarter,
            "1h" => Step::Hour,
            "1d" => Step::Day,
            "1mo" | "1M" => Step::Month,
            _ => return None,
        })
    }
}

/// One of the `offered` steps by its exact code; the error lists them.
pub fn step(text: &str, offered: &[Step]) -> Result<Step, String> {
    Step::from_code(text)
        .filter(|s| offered.contains(s))
        .ok_or_else(|| {
            let codes: Vec<&str> = offered.iter().map(|s| s.code()).collect();
            let list = match codes.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                _ => codes.join(""),
            };
            format!("`{text}`: use {list}")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAIPEI: chrono_tz::Tz = chrono_tz::Asia::Taipei;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn instants_are_rfc3339_or_plant_local() {
        assert_eq!(
            instant("2026-03-01T08:00:00+08:00", TAIPEI),
            Ok(utc("2026-03-01T00:00:00Z"))
        );
        assert_eq!(
            instant(" 2026-03-01 08:00 ", TAIPEI),
            Ok(utc("2026-03-01T00:00:00Z"))
        );
        assert_eq!(
            instant("2026/03/01 08:00", TAIPEI),
            Ok(utc("2026-03-01T00:00:00Z"))
        );
        assert_eq!(
            instant("2026-03-01", TAIPEI),
            Ok(utc("2026-02-28T16:00:00Z"))
        );
        assert!(instant("yesterday", TAIPEI)
            .unwrap_err()
            .contains("is not a time"));
        // Local midnight of 0001-01-01 in Taipei is still year 0 in UTC.
        assert_eq!(
            instant("0001-01-01", TAIPEI),
            Err("`0001-01-01`: use a year from 1 to 9999".into())
        );
        let gap = instant("2026-03-08 02:30", chrono_tz::America::New_York).unwrap_err();
        assert!(gap.contains("DST gap"), "{gap}");
    }

    #[test]
    fn the_api_takes_rfc3339_only() {
        assert_eq!(
            rfc3339("2026-03-01T00:00:00Z"),
            Ok(utc("2026-03-01T00:00:00Z"))
        );
        assert!(rfc3339("2026-03-01 08:00")
            .unwrap_err()
            .starts_with("`2026-03-01 08:00` is not an RFC 3339 time ("));
    }

    #[test]
    fn ranges_include_both_days_and_need_an_order() {
        let day = |d: NaiveDate| {
            d.and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp_millis()
        };
        let date_of = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap().date_naive();
        let (from, to) = date_range("2026-03-01..2026-03-03", day, date_of).unwrap();
        assert_eq!(to - from, 3 * 86_400_000);
        let (from, to) =
            date_range("2026-03-01T06:00:00Z..2026-03-01T12:00:00Z", day, date_of).unwrap();
        assert_eq!(to - from, 6 * 3_600_000);
        assert!(date_range("2026-03-01", day, date_of)
            .unwrap_err()
            .contains("is not a range"));
        assert!(date_range("2026-03-02..2026-03-01", day, date_of)
            .unwrap_err()
            .contains("the end is not after the start"));
        assert!(date_range("0000-01-01..2026-03-01", day, date_of)
            .unwrap_err()
            .contains("use a year from 1 to 9999"));
    }

    #[test]
    fn steps_are_the_offered_codes_only() {
        let export = [Step::Minute, Step::Quarter, Step::Hour, Step::Day];
        assert_eq!(step("15m", &export), Ok(Step::Quarter));
        assert_eq!(
            step("1mo", &export),
            Err("`1mo`: use 1m, 15m, 1h or 1d".into())
        );
        let enpi = [Step::Quarter, Step::Hour, Step::Day, Step::Month];
        assert_eq!(step("1M", &enpi), Ok(Step::Month));
        assert_eq!(
            step("60m", &enpi),
            Err("`60m`: use 15m, 1h, 1d or 1mo".into())
        );
        assert_eq!(Step::Day.seconds(), Some(86_400));
        assert_eq!(Step::Month.seconds(), None);
    }

    #[test]
    fn defaults_reach_a_day_back_from_now() {
        let now = utc("2026-03-02T00:00:00Z");
        assert_eq!(
            range_or_default(None, None, now),
            (utc("2026-03-01T00:00:00Z"), now)
        );
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text, and date-shaped text with any digits, gives a time or a reason; a time
        /// has a day either side inside chrono's range.
        #[test]
        fn timestamps_never_panic(
            text in "\\PC{0,40}",
            y in "[+-]?[0-9]{1,7}",
            rest in "(-[0-9]{1,2}-[0-9]{1,2}( [0-9]{1,2}:[0-9]{2})?)?(T[0-9:]{1,8}(Z|[+-][0-9]{2}:[0-9]{2}))?",
            zone in prop::sample::select(vec![chrono_tz::UTC, chrono_tz::Asia::Taipei, chrono_tz::Pacific::Kiritimati, chrono_tz::Etc::GMTPlus12]),
        ) {
            let _ = instant(&text, zone);
            if let Ok(t) = instant(&format!("{y}{rest}"), zone) {
                prop_assert!(t.checked_sub_signed(chrono::Duration::hours(24)).is_some());
                prop_assert!(t.checked_add_signed(chrono::Duration::hours(24)).is_some());
            }
        }

        /// Local times round-trip through the plant's zone (Taipei has had no DST since 1980).
        #[test]
        fn local_times_round_trip(secs in 315_532_800i64..253_402_214_400) {
            let tz = chrono_tz::Asia::Taipei;
            let t = DateTime::from_timestamp(secs - secs % 60, 0).unwrap();
            let local = t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
            if (1..=9999).contains(&t.with_timezone(&tz).year()) {
                prop_assert_eq!(instant(&local, tz), Ok(t));
            }
        }
    }
}
