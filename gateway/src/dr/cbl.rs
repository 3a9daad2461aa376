//! The customer baseline load (CBL) and the verification of one event, on a map of quarter-hour
//! demand. Pure: the store is read in `super`.
//!
//! Rule: Taipower's 需量競價措施 (demand bidding), 五、基準用電容量與實際抑低容量, as published
//! on Taipower's site (branch.taipower.com.tw, "台電公司推出「需量競價措施」"):
//! - 基準用電容量 (the baseline): the mean, over the 5 days before the event (event days,
//!   off-peak days and Saturdays left out), of each day's highest 15-minute demand in the
//!   same time window as the event;
//! - 實際抑低容量 (the delivered reduction): the baseline minus the highest 15-minute demand
//!   during the event; below the minimum reduction contract capacity (50 kW) it counts as 0.
//!
//! We pass over a day with any quarter-hour of the window missing (its highest demand would not
//! be known), looking back at most [`LOOKBACK_DAYS`]. The quarter-hours are shown against the
//! baseline for the chart; the verdict is the rule's.
//!
//! The optional additive day-of adjustment is kilowatch's addition, not Taipower's rule.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Weekday};
use kilowatch_site::config::{Adjustment, DrEvent};
use serde::Serialize;

use crate::enpi::tariff::Tariff;

/// Days averaged into the baseline.
pub const BASELINE_DAYS: usize = 5;
/// How far back eligible days are looked for.
pub const LOOKBACK_DAYS: i64 = 45;
/// The minimum reduction contract capacity (最低抑低契約容量, economic type): a delivered
/// reduction below it counts as 0.
pub const MINIMUM_REDUCTION_KW: f64 = 50.0;
/// The additive adjustment's cap, a fraction of the baseline.
pub const ADJUSTMENT_CAP: f64 = 0.2;
/// The adjustment window: the two hours ending one hour before the event, in minutes.
const ADJUST_FROM: i64 = -180;
const ADJUST_TO: i64 = -60;

/// Which days are not similar to an event day.
pub struct Calendar<'a> {
    pub tz: chrono_tz::Tz,
    /// Holidays (off-peak days) come from the tariff; without one, only weekends count.
    pub tariff: Option<&'a Tariff>,
    /// The other events' days.
    pub event_days: &'a HashSet<NaiveDate>,
}

impl Calendar<'_> {
    /// Why `d` is not eligible, or `None` when it is.
    pub fn excluded(&self, d: NaiveDate) -> Option<&'static str> {
        if self.event_days.contains(&d) {
            return Some("dr_event");
        }
        let day_type = match self.tariff {
            Some(t) => t.day_type(d),
            None => match d.weekday() {
                Weekday::Sat => 1,
                Weekday::Sun => 2,
                _ => 0,
            },
        };
        match day_type {
            0 => None,
            1 => Some("saturday"),
            _ => Some("sunday_holiday"),
        }
    }

    /// The UTC ms of plant-local `minutes` after the midnight starting `d` (negative: the day
    /// before). `None` in a local time that does not exist.
    pub fn at(&self, d: NaiveDate, minutes: i64) -> Option<i64> {
        let local = d.and_hms_opt(0, 0, 0)? + Duration::minutes(minutes);
        self.tz
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.timestamp_millis())
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Skipped {
    pub date: NaiveDate,
    /// `saturday`, `sunday_holiday`, `dr_event` or `missing_data`.
    pub reason: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QuarterResult {
    /// Plant-local start, `HH:MM`.
    pub start: String,
    /// UTC ms.
    pub ts: i64,
    pub cbl_kw: Option<f64>,
    pub actual_kw: Option<f64>,
    pub reduction_kw: Option<f64>,
    /// Whether the reduction reached the commitment.
    pub met: Option<bool>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Verification {
    #[serde(flatten)]
    pub event: DrEvent,
    /// `site` (the site file) or `api` (added through the API or the CLI).
    pub source: String,
    pub rule: &'static str,
    /// The days averaged, most recent first.
    pub baseline_days: Vec<NaiveDate>,
    /// The days passed over on the way, and why.
    pub skipped_days: Vec<Skipped>,
    /// The additive adjustment before the cap, kW (only with `adjustment = "additive"`).
    pub adjustment_kw: Option<f64>,
    /// 基準用電容量: the mean of the baseline days' highest demand in the window (adjusted
    /// when asked), kW.
    pub baseline_kw: Option<f64>,
    /// The highest 15-minute demand during the event, kW.
    pub event_max_kw: Option<f64>,
    /// 實際抑低容量: baseline − event maximum, 0 below `minimum_kw`; what the verdict judges.
    pub reduction_kw: Option<f64>,
    pub minimum_kw: f64,
    pub quarters: Vec<QuarterResult>,
    /// Energy below the baseline over the event (Σ quarter-hour reductions × ¼ h).
    pub delivered_kwh: Option<f64>,
    pub average_reduction_kw: Option<f64>,
    /// The share of quarter-hours at least the commitment below the baseline.
    pub fraction_met: Option<f64>,
    /// `pass`, `fail` or `insufficient_data`.
    pub verdict: &'static str,
    /// Why the verdict is `insufficient_data`.
    pub reason: Option<String>,
    /// Quarter-hours of the event day (window and adjustment window) with no demand, `HH:MM`.
    pub missing_quarters: Vec<String>,
}

pub const RULE: &str = "taipower-demand-bidding: baseline = mean over the 5 days before the event \
(event days, off-peak days and Saturdays left out) of each day's highest 15-minute demand in the \
event's window; reduction = baseline - the event's highest demand, 0 below 50 kW";

fn hhmm(minutes: i64) -> String {
    let m = minutes.rem_euclid(1440);
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// Verifies `event` against quarter-hour demand (UTC ms of the quarter's start → kW).
pub fn verify(
    event: &DrEvent,
    source: &str,
    cal: &Calendar,
    demand: &HashMap<i64, f64>,
) -> Verification {
    let (start, end) = match event.window() {
        Ok((s, e)) => (i64::from(s), i64::from(e)),
        // Checked when the event was entered; an empty window is verified as nothing.
        Err(_) => (0, 0),
    };
    let window: Vec<i64> = (start..end).step_by(15).collect();
    let adjust: Vec<i64> = match event.adjustment {
        Adjustment::None => Vec::new(),
        Adjustment::Additive => (start + ADJUST_FROM..start + ADJUST_TO)
            .step_by(15)
            .collect(),
    };
    let kw = |d: NaiveDate, m: i64| cal.at(d, m).and_then(|ts| demand.get(&ts).copied());

    let mut days = Vec::new();
    let mut skipped = Vec::new();
    for back in 1..=LOOKBACK_DAYS {
        if days.len() == BASELINE_DAYS {
            break;
        }
        let d = event.date - Duration::days(back);
        if let Some(reason) = cal.excluded(d) {
            skipped.push(Skipped { date: d, reason });
        } else if window.iter().chain(&adjust).all(|&m| kw(d, m).is_some()) {
            days.push(d);
        } else {
            skipped.push(Skipped {
                date: d,
                reason: "missing_data",
            });
        }
    }
    let enough = days.len() == BASELINE_DAYS;
    let mean = |xs: Vec<f64>| (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
    // The rule's baseline: each baseline day's highest demand in the window, averaged.
    let highest = |d: NaiveDate| {
        window
            .iter()
            .filter_map(|&m| kw(d, m))
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))))
    };
    let raw_baseline = if enough {
        mean(days.iter().filter_map(|&d| highest(d)).collect())
    } else {
        None
    };
    let missing: Vec<String> = adjust
        .iter()
        .chain(&window)
        .filter(|&&m| kw(event.date, m).is_none())
        .map(|&m| hhmm(m))
        .collect();

    // kilowatch's additive adjustment: how far the event day ran above (+) or below the
    // baseline days in the same quarter-hours before the event, capped at ±20 % of the
    // baseline.
    let same_quarter = |m: i64| mean(days.iter().filter_map(|&d| kw(d, m)).collect());
    let adjustment_kw = (!adjust.is_empty() && enough && missing.is_empty())
        .then(|| {
            mean(
                adjust
                    .iter()
                    .filter_map(|&m| Some(kw(event.date, m)? - same_quarter(m)?))
                    .collect(),
            )
        })
        .flatten();
    let baseline = raw_baseline.map(|b| match adjustment_kw {
        // max/min, not clamp: clamp panics on a NaN bound.
        Some(a) => {
            b + a
                .max(-ADJUSTMENT_CAP * b.abs())
                .min(ADJUSTMENT_CAP * b.abs())
        }
        None => b,
    });
    let quarters: Vec<QuarterResult> = window
        .iter()
        .map(|&m| {
            let actual = kw(event.date, m);
            let reduction = baseline.zip(actual).map(|(b, a)| b - a);
            QuarterResult {
                start: hhmm(m),
                ts: cal.at(event.date, m).unwrap_or_default(),
                cbl_kw: baseline,
                actual_kw: actual,
                reduction_kw: reduction,
                met: reduction.map(|r| r >= event.committed_kw),
            }
        })
        .collect();

    let reason = if !enough {
        Some(format!(
            "only {} of the {BASELINE_DAYS} eligible days with complete demand in the \
             {LOOKBACK_DAYS} days before the event",
            days.len()
        ))
    } else if !missing.is_empty() {
        Some(format!(
            "no demand on the event day at {}",
            missing.join(", ")
        ))
    } else if quarters.is_empty() {
        Some("the event window is empty".into())
    } else {
        None
    };
    let event_max = if reason.is_none() {
        highest(event.date)
    } else {
        None
    };
    let (reduction, delivered, average, fraction, verdict) = match (&reason, baseline, event_max) {
        (None, Some(b), Some(top)) => {
            let r: Vec<f64> = quarters.iter().filter_map(|q| q.reduction_kw).collect();
            let n = r.len() as f64;
            let met = quarters.iter().filter(|q| q.met == Some(true)).count() as f64;
            let delivered = b - top;
            let counted = if delivered < MINIMUM_REDUCTION_KW {
                0.0
            } else {
                delivered
            };
            let verdict = if counted >= event.committed_kw {
                "pass"
            } else {
                "fail"
            };
            (
                Some(counted),
                Some(r.iter().sum::<f64>() * 0.25),
                Some(r.iter().sum::<f64>() / n),
                Some(met / n),
                verdict,
            )
        }
        _ => (None, None, None, None, "insufficient_data"),
    };
    Verification {
        event: event.clone(),
        source: source.to_owned(),
        rule: RULE,
        baseline_days: days,
        skipped_days: skipped,
        adjustment_kw,
        baseline_kw: baseline,
        event_max_kw: event_max,
        reduction_kw: reduction,
        minimum_kw: MINIMUM_REDUCTION_KW,
        quarters,
        delivered_kwh: delivered,
        average_reduction_kw: average,
        fraction_met: fraction,
        verdict,
        reason,
        missing_quarters: missing,
    }
}
