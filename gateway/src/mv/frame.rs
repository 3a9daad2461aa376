//! Source stage of M&V: observations at any interval (CSV rows or store quarter-hours) summed and
//! averaged into periods of the chosen granularity in the data's time zone. A period is used
//! only when its energy is complete; partial periods are dropped and counted, never scaled up.

use std::collections::BTreeMap;

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Timelike,
};
use serde::Serialize;

/// An instant with an offset: RFC 3339, or ISO 8601 with `-0600`. Returns the offset too.
pub use crate::when::offset_instant as parse_instant;

/// The time zone dates and periods are read in: a named zone or a fixed UTC offset (CSV rows
/// that carry `-0600`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    Named(chrono_tz::Tz),
    Fixed(FixedOffset),
}

impl Zone {
    pub fn local(&self, ms: i64) -> NaiveDateTime {
        let utc = DateTime::from_timestamp_millis(ms).unwrap_or_default();
        match self {
            Zone::Named(tz) => utc.with_timezone(tz).naive_local(),
            Zone::Fixed(o) => utc.with_timezone(o).naive_local(),
        }
    }

    /// The first instant with this local time (the earlier one in a DST fold, the end of a gap).
    pub fn instant(&self, local: NaiveDateTime) -> i64 {
        match self {
            Zone::Named(tz) => tz
                .from_local_datetime(&local)
                .earliest()
                .map(|d| d.timestamp_millis())
                .unwrap_or_else(|| {
                    self.instant(local + Duration::hours(1)) - Duration::hours(1).num_milliseconds()
                }),
            Zone::Fixed(o) => o
                .from_local_datetime(&local)
                .single()
                .map(|d| d.timestamp_millis())
                .unwrap_or_default(),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Zone::Named(tz) => tz.name().to_owned(),
            Zone::Fixed(o) => o.to_string(),
        }
    }

    /// RFC 3339 text of an instant in this zone.
    pub fn format(&self, ms: i64) -> String {
        let utc = DateTime::from_timestamp_millis(ms).unwrap_or_default();
        match self {
            Zone::Named(tz) => utc.with_timezone(tz).to_rfc3339(),
            Zone::Fixed(o) => utc.with_timezone(o).to_rfc3339(),
        }
    }

    pub fn date(&self, ms: i64) -> NaiveDate {
        self.local(ms).date()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Hour,
    Day,
    Week,
    Month,
}

impl Granularity {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "hour" | "1h" => Ok(Self::Hour),
            "day" | "1d" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            _ => Err(format!(
                "`{text}` is not a granularity (hour, day, week or month)"
            )),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// Start of the local period holding `local` (weeks start on Monday).
    /// The nominal length of one period, ms (a month counted as 28 days).
    pub fn nominal_ms(self) -> i64 {
        match self {
            Self::Hour => 3_600_000,
            Self::Day => 86_400_000,
            Self::Week => 7 * 86_400_000,
            Self::Month => 28 * 86_400_000,
        }
    }

    fn floor(self, local: NaiveDateTime) -> NaiveDateTime {
        let d = local.date();
        match self {
            Self::Hour => d.and_hms_opt(local.hour(), 0, 0).unwrap_or(local),
            Self::Day => d.and_time(Default::default()),
            Self::Week => (d - Duration::days(i64::from(d.weekday().num_days_from_monday())))
                .and_time(Default::default()),
            Self::Month => d.with_day(1).unwrap_or(d).and_time(Default::default()),
        }
    }

    fn next(self, start: NaiveDateTime) -> NaiveDateTime {
        match self {
            Self::Hour => start + Duration::hours(1),
            Self::Day => start + Duration::days(1),
            Self::Week => start + Duration::days(7),
            Self::Month => {
                let d = start.date();
                let (y, m) = if d.month() == 12 {
                    (d.year() + 1, 1)
                } else {
                    (d.year(), d.month() + 1)
                };
                NaiveDate::from_ymd_opt(y, m, 1)
                    .unwrap_or(d)
                    .and_time(Default::default())
            }
        }
    }
}

/// How an extra variable is aggregated into a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VarAgg {
    /// Production counts, volumes: summed; a complete period is needed and the slope must be
    /// positive (more production, more energy).
    Sum,
    /// Levels (humidity, occupancy share): averaged; any slope sign.
    Mean,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VarSpec {
    pub name: String,
    pub agg: VarAgg,
}

impl VarSpec {
    /// `NAME`, `NAME:sum` or `NAME:mean`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (name, agg) = match text.rsplit_once(':') {
            Some((n, "sum")) => (n, VarAgg::Sum),
            Some((n, "mean")) => (n, VarAgg::Mean),
            _ => (text, VarAgg::Sum),
        };
        if name.is_empty() {
            return Err(format!("`{text}`: a variable needs a name"));
        }
        Ok(Self {
            name: name.to_owned(),
            agg,
        })
    }
}

/// One observation: values over the interval starting at `ts` (UTC ms).
#[derive(Debug, Clone, PartialEq)]
pub struct Obs {
    pub ts: i64,
    pub energy: Option<f64>,
    pub temp: Option<f64>,
    pub vars: Vec<Option<f64>>,
}

/// Observations at one interval, in time order.
#[derive(Debug, Clone)]
pub struct Raw {
    pub zone: Zone,
    /// Interval between observations, ms.
    pub interval: i64,
    pub obs: Vec<Obs>,
    pub has_temp: bool,
    pub vars: Vec<VarSpec>,
}

/// The most common spacing of consecutive timestamps: the data's interval.
pub fn interval_of(ts: &[i64]) -> Option<i64> {
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for w in ts.windows(2) {
        if w[1] > w[0] {
            *counts.entry(w[1] - w[0]).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(d, c)| (*c, std::cmp::Reverse(*d)))
        .map(|(d, _)| d)
}

/// One period of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub start: i64,
    pub end: i64,
    /// Local start, for time-of-week terms and month grouping.
    pub local: NaiveDateTime,
    pub energy: f64,
    pub temp: Option<f64>,
    /// `None` when the variable's data in the period is incomplete.
    pub vars: Vec<Option<f64>>,
}

/// Coverage of one calendar month: periods expected and periods with complete energy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthCoverage {
    pub month: String,
    pub expected: usize,
    pub complete: usize,
    pub percent: f64,
}

#[derive(Debug, Clone)]
pub struct Frame {
    pub granularity: Granularity,
    pub zone: Zone,
    pub periods: Vec<Period>,
    pub coverage: Vec<MonthCoverage>,
    /// Periods in the range that were dropped for incomplete energy.
    pub dropped: usize,
    pub expected: usize,
}

/// Aggregates the observations in [from, to) into whole local periods.
pub fn aggregate(raw: &Raw, g: Granularity, from: i64, to: i64) -> Result<Frame, String> {
    let interval = raw.interval.max(1);
    let mut periods = Vec::new();
    let mut coverage: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut dropped = 0;
    let mut expected_total = 0;
    let mut local = g.floor(raw.zone.local(from));
    // A period starting before `from` is not whole: begin at the first one inside.
    if raw.zone.instant(local) < from {
        local = g.next(local);
    }
    let mut i = raw.obs.partition_point(|o| o.ts < raw.zone.instant(local));
    loop {
        let next = g.next(local);
        let (start, end) = (raw.zone.instant(local), raw.zone.instant(next));
        if end > to {
            break;
        }
        // Nominal length: a 23-hour DST day still holds one daily row.
        let nominal = g.nominal_ms();
        if nominal < interval {
            return Err(format!(
                "the data's interval ({} min) is longer than one {}: choose a coarser granularity",
                interval / 60_000,
                g.code()
            ));
        }
        let expected = (((end - start) as f64 / interval as f64).round() as usize).max(1);
        let (mut energy, mut n_energy) = (0.0, 0usize);
        let (mut temp, mut n_temp) = (0.0, 0usize);
        let mut vars = vec![(0.0, 0usize); raw.vars.len()];
        while i < raw.obs.len() && raw.obs[i].ts < end {
            let o = &raw.obs[i];
            if let Some(e) = o.energy {
                energy += e;
                n_energy += 1;
            }
            if let Some(t) = o.temp {
                temp += t;
                n_temp += 1;
            }
            for (acc, v) in vars.iter_mut().zip(&o.vars) {
                if let Some(v) = v {
                    acc.0 += v;
                    acc.1 += 1;
                }
            }
            i += 1;
        }
        let month = format!("{:04}-{:02}", local.year(), local.month());
        let cov = coverage.entry(month).or_default();
        cov.0 += 1;
        expected_total += 1;
        if n_energy >= expected {
            cov.1 += 1;
            // Temperature and mean variables: at least half the period (the CalTRACK rule for
            // daily mean temperature); sums must be complete like energy.
            let temp = (n_temp * 2 >= expected && n_temp > 0).then(|| temp / n_temp as f64);
            let vars = vars
                .iter()
                .zip(&raw.vars)
                .map(|((s, n), spec)| match spec.agg {
                    VarAgg::Sum => (*n >= expected).then_some(*s),
                    VarAgg::Mean => (*n * 2 >= expected && *n > 0).then(|| s / *n as f64),
                })
                .collect();
            periods.push(Period {
                start,
                end,
                local,
                energy,
                temp,
                vars,
            });
        } else {
            dropped += 1;
        }
        local = next;
    }
    Ok(Frame {
        granularity: g,
        zone: raw.zone,
        periods,
        coverage: coverage
            .into_iter()
            .map(|(month, (expected, complete))| MonthCoverage {
                month,
                expected,
                complete,
                percent: 100.0 * complete as f64 / expected.max(1) as f64,
            })
            .collect(),
        dropped,
        expected: expected_total,
    })
}

/// A range given as `FROM..TO`: dates (both days included, local) or RFC 3339 instants.
pub fn parse_range(text: &str, zone: Zone) -> Result<(i64, i64), String> {
    crate::when::date_range(
        text,
        |d| zone.instant(d.and_time(Default::default())),
        |ms| zone.date(ms),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(zone: Zone, start: i64, n: usize, interval: i64) -> Raw {
        Raw {
            zone,
            interval,
            obs: (0..n)
                .map(|i| Obs {
                    ts: start + i as i64 * interval,
                    energy: Some(1.0),
                    temp: Some(i as f64),
                    vars: vec![Some(2.0)],
                })
                .collect(),
            has_temp: true,
            vars: vec![VarSpec::parse("units").unwrap()],
        }
    }

    #[test]
    fn days_are_local_and_partial_days_are_dropped_not_scaled() {
        let tz = Zone::Named(chrono_tz::Asia::Taipei);
        let (from, to) = parse_range("2026-03-01..2026-03-03", tz).unwrap();
        assert_eq!(to - from, 3 * 86_400_000);
        let mut r = raw(tz, from, 3 * 96, 900_000);
        r.obs.remove(100); // one quarter-hour missing on day 2
        let f = aggregate(&r, Granularity::Day, from, to).unwrap();
        assert_eq!(f.periods.len(), 2);
        assert_eq!(f.dropped, 1);
        assert_eq!(f.periods[0].energy, 96.0);
        assert_eq!(f.periods[0].vars[0], Some(192.0));
        assert_eq!(f.periods[1].local.date().to_string(), "2026-03-03");
        assert_eq!(f.coverage[0].expected, 3);
        assert_eq!(f.coverage[0].complete, 2);
    }

    #[test]
    fn offsets_without_colon_and_fixed_zones() {
        let (ms, off) = parse_instant("2016-01-05T00:00:00-0600").unwrap();
        assert_eq!(off.local_minus_utc(), -6 * 3600);
        let z = Zone::Fixed(off);
        let (from, _) = parse_range("2016-01-05..2016-01-05", z).unwrap();
        assert_eq!(from, ms);
        assert_eq!(interval_of(&[0, 10, 20, 35, 45]), Some(10));
        assert!(Granularity::parse("fortnight").is_err());
        assert!(parse_range("2026-01-02..2026-01-01", z).is_err());
        let r = raw(z, from, 10, 86_400_000);
        assert!(aggregate(&r, Granularity::Hour, from, from + 86_400_000 * 10).is_err());
        let f = aggregate(&r, Granularity::Month, from, from + 86_400_000 * 10).unwrap();
        assert!(f.periods.is_empty(), "January is not whole");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn bound() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,24}",
            "[+-]?[0-9]{1,7}-[0-9]{1,2}-[0-9]{1,2}",
            Just("0001-01-01".to_owned()),
            Just("9999-12-31".to_owned()),
            Just("9999-12-31T23:59:59-12:00".to_owned()),
            Just("0000-01-01T00:00:00+14:00".to_owned()),
        ]
    }

    proptest! {
        /// Any range in any zone: an answer or a reason, and a month-by-month walk over an
        /// accepted range never fails to move on.
        #[test]
        fn ranges_never_panic(
            a in bound(),
            b in bound(),
            zone in prop::sample::select(vec![
                Zone::Named(chrono_tz::UTC),
                Zone::Named(chrono_tz::America::Chicago),
                Zone::Fixed(FixedOffset::east_opt(14 * 3600).unwrap()),
                Zone::Fixed(FixedOffset::west_opt(12 * 3600).unwrap()),
            ]),
            g in prop::sample::select(vec!["hour", "day", "week", "month", "fortnight"]),
        ) {
            let _ = parse_instant(&a);
            if let (Ok((from, to)), Ok(g)) = (parse_range(&format!("{a}..{b}"), zone), Granularity::parse(g)) {
                prop_assert!(from < to);
                let mut local = g.floor(zone.local(from));
                for _ in 0..3 {
                    let next = g.next(local);
                    prop_assert!(next > local);
                    local = next;
                }
            }
        }
    }
}
