//! Efficiency rules judged once per closed quarter-hour from the stored EnPI facts (the same
//! `15m` rows `/api/v1/enpi` serves), never per reading:
//!
//! - **chiller_kw_per_tr**: the quarter's kW/TR against the value expected at the same load
//!   and weather: the median kW/TR of the asset's own quarters over the last weeks in the same
//!   10 %-wide part-load band whose mean outdoor temperature was within ±[`TEMP_HALF_BAND`] °C
//!   of the quarter's (at least [`MIN_SAMPLES`] of them). A chiller's kW/TR rises with the
//!   condenser's heat sink (about 1.5 %/°C for a water-cooled one), so a hot afternoon is not a
//!   fouled condenser. Without an outdoor temperature series the expectation is load-only, and
//!   the evidence says so;
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

/// Comparable weather: a past quarter's mean outdoor temperature within this many °C of the
/// judged quarter's.
pub const TEMP_HALF_BAND: f64 = 1.5;

/// One quarter of the chiller's history: its facts and the site's mean outdoor temperature
/// (°C) over it, where known.
#[derive(Debug, Clone)]
pub struct ChillerQuarter {
    pub facts: Facts,
    pub outdoor_c: Option<f64>,
}

/// The weather the expectation compares on: the outdoor temperature series (`device/quantity`)
/// and the judged quarter's mean from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Weather {
    pub series: String,
    pub outdoor_c: f64,
}

/// The chiller's verdict for one quarter.
#[derive(Debug, Clone, PartialEq)]
pub struct ChillerVerdict {
    pub actual: f64,
    pub expected: f64,
    pub load_pct: f64,
    pub band: u32,
    pub samples: usize,
    /// The weather compared on; `None`: the expectation is load-only, for `load_only`.
    pub weather: Option<Weather>,
    pub load_only: &'static str,
}

/// Why an expectation is load-only, by default.
pub const NO_WEATHER_SERIES: &str = "no outdoor temperature series";

impl ChillerVerdict {
    /// Percent above the expected kW/TR (negative: better).
    pub fn over_pct(&self) -> f64 {
        100.0 * (self.actual / self.expected - 1.0)
    }

    /// How the expected value was found, in words.
    pub fn model(&self) -> String {
        let b = self.band * 10;
        let weeks = HISTORY_MS / (7 * 86_400_000);
        match &self.weather {
            Some(w) => format!(
                "median kW/TR of {} quarters in the last {weeks} weeks at {b}-{}% load and {:.1}-{:.1} °C outdoors ({})",
                self.samples,
                b + 10,
                w.outdoor_c - TEMP_HALF_BAND,
                w.outdoor_c + TEMP_HALF_BAND,
                w.series
            ),
            None => format!(
                "load only ({}): median kW/TR of {} quarters in the last {weeks} weeks at {b}-{}% load",
                self.load_only,
                self.samples,
                b + 10
            ),
        }
    }

    pub fn evidence(&self, threshold_pct: f64, window: i64) -> serde_json::Value {
        let b = self.band * 10;
        let w = self.weather.as_ref();
        json!({
            "value": r3(self.actual),
            "expected": r3(self.expected),
            "over_pct": r2(self.over_pct()),
            "threshold": threshold_pct,
            "unit": "kW/TR",
            "load_pct": r2(self.load_pct),
            "band": format!("{b}-{}% load", b + 10),
            "outdoor_c": w.map(|w| r2(w.outdoor_c)),
            "outdoor_band": w.map(|w| format!(
                "{:.1}-{:.1} °C",
                w.outdoor_c - TEMP_HALF_BAND,
                w.outdoor_c + TEMP_HALF_BAND
            )),
            "weather_series": w.map(|w| w.series.clone()),
            "expectation": match w {
                Some(_) => "load and weather".to_owned(),
                None => format!("load only: {}", self.load_only),
            },
            "model": self.model(),
            "samples": self.samples,
            "window_start": at(window),
            "window_end": at(window + super::demand::WINDOW_MS),
        })
    }
}

/// The quarter `now` against the chiller's own `history` of quarters (`capacity_tr` rated),
/// compared at the same load band and, with `weather`, at comparable outdoor temperature.
/// `None` when the chiller was off or has too few comparable quarters yet.
pub fn chiller(
    now: &Facts,
    weather: Option<Weather>,
    history: &[ChillerQuarter],
    capacity_tr: f64,
) -> Option<ChillerVerdict> {
    let (actual, plr) = kw_per_tr(now, capacity_tr)?;
    let band = load_band(plr);
    let comparable = |q: &ChillerQuarter| match (&weather, q.outdoor_c) {
        (None, _) => true,
        (Some(w), Some(t)) => (t - w.outdoor_c).abs() <= TEMP_HALF_BAND,
        (Some(_), None) => false,
    };
    let same: Vec<f64> = history
        .iter()
        .filter(|q| comparable(q))
        .filter_map(|q| kw_per_tr(&q.facts, capacity_tr))
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
        weather,
        load_only: NO_WEATHER_SERIES,
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

    fn past(kwh: f64, trh: f64, outdoor_c: Option<f64>) -> ChillerQuarter {
        ChillerQuarter {
            facts: quarter(kwh, Some(trh)),
            outdoor_c,
        }
    }

    #[test]
    fn chiller_is_judged_against_its_own_quarters_at_the_same_load() {
        // 150 TR chiller, no weather series. History: at 60-70 % load (25 TR·h a quarter ≈
        // 100 TR, 66.7 %) it drew 0.70 kW/TR; at 20-30 % load (10 TR·h ≈ 26.7 %) 0.95 kW/TR
        // (worse at part load).
        let mut history = Vec::new();
        for i in 0..10 {
            let wobble = 0.01 * f64::from(i % 3) - 0.01;
            history.push(past(25.0 * (0.70 + wobble), 25.0, None));
            history.push(past(10.0 * (0.95 + wobble), 10.0, None));
        }
        // Now at 66.7 % load and 0.91 kW/TR: 30 % above the 0.70 expected at that load.
        let v = chiller(&quarter(25.0 * 0.91, Some(25.0)), None, &history, 150.0).unwrap();
        assert_eq!(v.band, 6);
        assert!((v.expected - 0.70).abs() < 1e-9, "{v:?}");
        assert!((v.over_pct() - 30.0).abs() < 1e-6, "{v:?}");
        assert!((v.load_pct - 66.667).abs() < 0.01);
        assert_eq!(v.samples, 10);
        // The same 0.91 kW/TR at 26.7 % load is better than usual there (0.95).
        let v = chiller(&quarter(10.0 * 0.91, Some(10.0)), None, &history, 150.0).unwrap();
        assert!(v.over_pct() < 0.0, "{v:?}");
        let e = v.evidence(15.0, ms("2026-07-01T10:00:00+08:00"));
        assert_eq!(e["band"], "20-30% load");
        assert_eq!(e["unit"], "kW/TR");
        assert_eq!(e["expected"], 0.95);
        // Without weather the evidence says the expectation is load-only.
        assert_eq!(e["expectation"], "load only: no outdoor temperature series");
        assert_eq!(e["outdoor_c"], serde_json::Value::Null);
        assert!(e["model"].as_str().unwrap().starts_with("load only"), "{e}");
        // A band without enough history, and a chiller that is off: no verdict.
        let none = |kwh, trh| chiller(&quarter(kwh, trh), None, &history, 150.0);
        assert!(none(37.0 * 0.7, Some(37.0)).is_none());
        assert!(none(2.0, Some(0.0)).is_none());
        assert!(none(2.0, None).is_none());
    }

    #[test]
    fn chiller_is_compared_at_the_same_weather_too() {
        // At 66.7 % load the chiller drew 0.60 kW/TR on 24-26 °C days and 0.80 on 32-34 °C
        // ones (its condenser's heat sink). A load-only median would be 0.70 for either.
        let mut history = Vec::new();
        for i in 0..10 {
            let t = f64::from(i % 3) - 1.0;
            history.push(past(25.0 * 0.60, 25.0, Some(25.0 + t)));
            history.push(past(25.0 * 0.80, 25.0, Some(33.0 + t)));
            // A quarter whose temperature is unknown does not count against a known one.
            history.push(past(25.0 * 2.0, 25.0, None));
        }
        let weather = |c: f64| {
            Some(Weather {
                series: "weather/outdoor_temp".into(),
                outdoor_c: c,
            })
        };
        // 0.82 kW/TR on a 33 °C afternoon: as usual for the weather (load-only would say 17 %).
        let v = chiller(
            &quarter(25.0 * 0.82, Some(25.0)),
            weather(33.0),
            &history,
            150.0,
        )
        .unwrap();
        assert!((v.expected - 0.80).abs() < 1e-9, "{v:?}");
        assert!(v.over_pct() < 15.0, "{v:?}");
        assert_eq!(v.samples, 10);
        // 0.72 kW/TR on a 25 °C morning: 20 % above the 0.60 usual then (load-only: 3 %).
        let v = chiller(
            &quarter(25.0 * 0.72, Some(25.0)),
            weather(25.0),
            &history,
            150.0,
        )
        .unwrap();
        assert!((v.over_pct() - 20.0).abs() < 1e-6, "{v:?}");
        let e = v.evidence(15.0, ms("2026-07-01T10:00:00+08:00"));
        assert_eq!(e["expectation"], "load and weather");
        assert_eq!(e["outdoor_c"], 25.0);
        assert_eq!(e["outdoor_band"], "23.5-26.5 °C");
        assert_eq!(e["weather_series"], "weather/outdoor_temp");
        assert_eq!(e["samples"], 10);
        assert_eq!(
            e["model"],
            "median kW/TR of 10 quarters in the last 4 weeks at 60-70% load and 23.5-26.5 °C outdoors (weather/outdoor_temp)"
        );
        // Weather never seen at this load (29 °C): no verdict rather than a wrong one.
        let q = quarter(25.0 * 0.72, Some(25.0));
        assert!(chiller(&q, weather(29.0), &history, 150.0).is_none());
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
