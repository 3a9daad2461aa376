//! Efficiency rules judged once per closed quarter-hour from the stored EnPI facts (the same
//! `15m` rows `/api/v1/enpi` serves), never per reading:
//!
//! - **chiller_kw_per_tr**: the quarter's kW/TR against the value expected at the same load:
//!   the median kW/TR of the asset's own quarters in the same 10 %-wide part-load band over
//!   the last weeks (at least [`MIN_SAMPLES`] of them);
//! - **leakage**: the compressor room's leakage % (loaded share during no-production periods,
//!   the EnPI indicator `leakage_pct`) above a band;
//! - **base_load**: the plant's mean kW in a night (22:00-06:00) or non-working-day quarter
//!   against its usual level: the median of the same quarter-hour of the same kind of day
//!   over the last 4 weeks.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc, Weekday};
use serde_json::json;

use crate::enpi::facts::{Facts, F};

/// A baseline needs at least this many quarters.
pub const MIN_SAMPLES: usize = 8;
/// The usual base load needs at least this many quarters of the same period.
pub const MIN_PERIODS: usize = 3;
/// How far back the baselines look.
pub const HISTORY_MS: i64 = 28 * 86_400_000;

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn at(ms: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.to_rfc3339())
}

fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// kW/TR and part-load ratio of one quarter's facts, when the chiller carried a load.
fn kw_per_tr(f: &Facts, capacity_tr: f64) -> Option<(f64, f64)> {
    let (kwh, trh) = (f.get(F::KWH).ok()?, f.get(F::TRH).ok()?);
    let hours = f64::from(f.quarters) * 0.25;
    if trh <= 0.01 * capacity_tr * hours || hours <= 0.0 {
        return None; // off, or nearly: no efficiency to judge
    }
    Some((kwh / trh, trh / hours / capacity_tr))
}

/// A 10 %-wide part-load band: 0 is 0-10 %, 9 is 90 % and above.
pub fn load_band(plr: f64) -> u32 {
    ((plr * 10.0).floor().max(0.0) as u32).min(9)
}

/// The chiller's verdict for one quarter.
#[derive(Debug, Clone, PartialEq)]
pub struct ChillerVerdict {
    pub actual: f64,
    pub expected: f64,
    pub load_pct: f64,
    pub band: u32,
    pub samples: usize,
}

impl ChillerVerdict {
    /// Percent above the expected kW/TR (negative: better).
    pub fn over_pct(&self) -> f64 {
        100.0 * (self.actual / self.expected - 1.0)
    }

    pub fn evidence(&self, threshold_pct: f64, window: i64) -> serde_json::Value {
        let b = self.band * 10;
        json!({
            "value": r3(self.actual),
            "expected": r3(self.expected),
            "over_pct": r2(self.over_pct()),
            "threshold": threshold_pct,
            "unit": "kW/TR",
            "load_pct": r2(self.load_pct),
            "band": format!("{b}-{}% load", b + 10),
            "samples": self.samples,
            "window_start": at(window),
            "window_end": at(window + super::demand::WINDOW_MS),
        })
    }
}

/// The quarter `now` against the chiller's own `history` of quarters (`capacity_tr` rated).
/// `None` when the chiller was off or the band has too little history.
pub fn chiller(now: &Facts, history: &[Facts], capacity_tr: f64) -> Option<ChillerVerdict> {
    let (actual, plr) = kw_per_tr(now, capacity_tr)?;
    let band = load_band(plr);
    let same: Vec<f64> = history
        .iter()
        .filter_map(|f| kw_per_tr(f, capacity_tr))
        .filter(|(_, p)| load_band(*p) == band)
        .map(|(k, _)| k)
        .collect();
    if same.len() < MIN_SAMPLES {
        return None;
    }
    let samples = same.len();
    Some(ChillerVerdict {
        actual,
        expected: median(same)?,
        load_pct: 100.0 * plr,
        band,
        samples,
    })
}

/// A night or non-working-day quarter: (kind of day, quarter of the day); `None` for a
/// working day's daytime quarter.
pub fn base_period(start: i64, tz: chrono_tz::Tz, holidays: &[NaiveDate]) -> Option<(u8, u32)> {
    let local = DateTime::<Utc>::from_timestamp_millis(start)?.with_timezone(&tz);
    let quarter = local.hour() * 4 + local.minute() / 15;
    let day = if holidays.contains(&local.date_naive()) || local.weekday() == Weekday::Sun {
        2
    } else if local.weekday() == Weekday::Sat {
        1
    } else {
        0
    };
    let night = local.hour() >= 22 || local.hour() < 6;
    (day > 0 || night).then_some((day, quarter))
}

/// The plant's verdict for one base-load quarter.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseVerdict {
    pub actual_kw: f64,
    pub usual_kw: f64,
    pub samples: usize,
}

impl BaseVerdict {
    pub fn over_pct(&self) -> f64 {
        100.0 * (self.actual_kw / self.usual_kw - 1.0)
    }

    pub fn evidence(&self, threshold_pct: f64, window: i64) -> serde_json::Value {
        json!({
            "value": r2(self.actual_kw),
            "usual_kw": r2(self.usual_kw),
            "over_pct": r2(self.over_pct()),
            "threshold": threshold_pct,
            "unit": "kW",
            "samples": self.samples,
            "window_start": at(window),
            "window_end": at(window + super::demand::WINDOW_MS),
        })
    }
}

/// The quarter starting at `start` (facts `now`) against `history` (bucket, facts) of the
/// last weeks: `None` outside nights and non-working days, or without enough history.
pub fn base_load(
    start: i64,
    now: &Facts,
    history: &[(i64, Facts)],
    tz: chrono_tz::Tz,
    holidays: &[NaiveDate],
) -> Option<BaseVerdict> {
    let period = base_period(start, tz, holidays)?;
    let kw = |f: &Facts| {
        let hours = f64::from(f.quarters) * 0.25;
        (hours > 0.0).then(|| f.get(F::KWH).ok().map(|k| k / hours))?
    };
    let actual_kw = kw(now)?;
    let same: Vec<f64> = history
        .iter()
        .filter(|(b, _)| *b < start && base_period(*b, tz, holidays) == Some(period))
        .filter_map(|(_, f)| kw(f))
        .collect();
    if same.len() < MIN_PERIODS {
        return None;
    }
    let samples = same.len();
    let usual_kw = median(same)?;
    (usual_kw > 0.0).then_some(BaseVerdict {
        actual_kw,
        usual_kw,
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: chrono_tz::Tz = chrono_tz::Asia::Taipei;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn quarter(kwh: f64, trh: Option<f64>) -> Facts {
        let mut f = Facts::quarter();
        f.set(F::KWH, Ok(kwh));
        if let Some(t) = trh {
            f.set(F::TRH, Ok(t));
        }
        f
    }

    #[test]
    fn chiller_is_judged_against_its_own_quarters_at_the_same_load() {
        // 150 TR chiller. History: at 60-70 % load (25 TR·h a quarter ≈ 100 TR, 66.7 %) it
        // drew 0.70 kW/TR; at 20-30 % load (10 TR·h ≈ 26.7 %) 0.95 kW/TR (worse at part load).
        let mut history = Vec::new();
        for i in 0..10 {
            let wobble = 0.01 * f64::from(i % 3) - 0.01;
            history.push(quarter(25.0 * (0.70 + wobble), Some(25.0)));
            history.push(quarter(10.0 * (0.95 + wobble), Some(10.0)));
        }
        // Now at 66.7 % load and 0.91 kW/TR: 30 % above the 0.70 expected at that load.
        let v = chiller(&quarter(25.0 * 0.91, Some(25.0)), &history, 150.0).unwrap();
        assert_eq!(v.band, 6);
        assert!((v.expected - 0.70).abs() < 1e-9, "{v:?}");
        assert!((v.over_pct() - 30.0).abs() < 1e-6, "{v:?}");
        assert!((v.load_pct - 66.667).abs() < 0.01);
        assert_eq!(v.samples, 10);
        // The same 0.91 kW/TR at 26.7 % load is better than usual there (0.95).
        let v = chiller(&quarter(10.0 * 0.91, Some(10.0)), &history, 150.0).unwrap();
        assert!(v.over_pct() < 0.0, "{v:?}");
        let e = v.evidence(15.0, ms("2026-07-01T10:00:00+08:00"));
        assert_eq!(e["band"], "20-30% load");
        assert_eq!(e["unit"], "kW/TR");
        assert_eq!(e["expected"], 0.95);
        // A band without enough history, and a chiller that is off: no verdict.
        assert!(chiller(&quarter(37.0 * 0.7, Some(37.0)), &history, 150.0).is_none());
        assert!(chiller(&quarter(2.0, Some(0.0)), &history, 150.0).is_none());
        assert!(chiller(&quarter(2.0, None), &history, 150.0).is_none());
    }

    #[test]
    fn base_load_periods_are_nights_and_non_working_days() {
        let holidays = ["2026-10-09".parse().unwrap()];
        // Monday 2026-11-23: 03:00 night, 10:00 working, 23:15 night.
        assert_eq!(
            base_period(ms("2026-11-23T03:00:00+08:00"), TZ, &holidays),
            Some((0, 12))
        );
        assert_eq!(
            base_period(ms("2026-11-23T10:00:00+08:00"), TZ, &holidays),
            None
        );
        assert_eq!(
            base_period(ms("2026-11-23T23:15:00+08:00"), TZ, &holidays),
            Some((0, 93))
        );
        // Saturday and Sunday all day; a holiday (a Friday) is a Sunday.
        assert_eq!(
            base_period(ms("2026-11-28T10:00:00+08:00"), TZ, &holidays),
            Some((1, 40))
        );
        assert_eq!(
            base_period(ms("2026-11-29T10:00:00+08:00"), TZ, &holidays),
            Some((2, 40))
        );
        assert_eq!(
            base_period(ms("2026-10-09T10:00:00+08:00"), TZ, &holidays),
            Some((2, 40))
        );
    }

    #[test]
    fn base_load_against_the_median_of_the_same_period_in_past_weeks() {
        let now = ms("2026-11-24T03:00:00+08:00"); // Tuesday night
        let day = 86_400_000;
        // The same quarter on the 20 weekdays before: 100 kW (25 kWh), one odd night 300 kW;
        // other quarters (daytime, other nights) that must not count.
        let mut history = Vec::new();
        for d in 1..=28 {
            let b = now - d * day;
            let kwh = if d == 3 { 75.0 } else { 25.0 };
            history.push((b, quarter(kwh, None)));
            history.push((b + 7 * 3_600_000, quarter(100.0, None))); // 10:00
            history.push((b + 900_000, quarter(50.0, None))); // 03:15
        }
        let v = base_load(now, &quarter(32.5, None), &history, TZ, &[]).unwrap();
        assert!((v.actual_kw - 130.0).abs() < 1e-9);
        assert!((v.usual_kw - 100.0).abs() < 1e-9, "{v:?}");
        assert!((v.over_pct() - 30.0).abs() < 1e-9);
        // 20 weekday nights; Saturdays and Sundays are other periods.
        assert_eq!(v.samples, 20);
        let e = v.evidence(20.0, now);
        assert_eq!(e["usual_kw"], 100.0);
        assert_eq!(e["value"], 130.0);
        // A working day's daytime quarter is not base load; too little history, no verdict.
        assert!(base_load(now + 7 * 3_600_000, &quarter(30.0, None), &history, TZ, &[]).is_none());
        assert!(base_load(now, &quarter(30.0, None), &history[..6], TZ, &[]).is_none());
    }
}
