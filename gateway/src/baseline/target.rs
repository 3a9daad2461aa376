//! Targets of a baseline and a calendar year's progress with the forecast of its end.
//!
//! The forecast keeps the year's performance so far: the rest of the year is expected to use
//! what the baseline model expected in the same calendar months of the baseline period (per
//! millisecond, so a part month counts its part), times the year-to-date SEnPI:
//! `forecast = actual_ytd + SEnPI_ytd × expected_rest`. Production for an intensity target is
//! forecast the same way from the baseline's production.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::i18n::Msg;
use crate::mv::frame::Zone;

/// What a baseline aims at each calendar year.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Target {
    /// At most this energy in the year.
    Absolute { kwh_per_year: f64 },
    /// Specific energy consumption (SEC): at most this energy per unit of production.
    Intensity { kwh_per_unit: f64 },
    /// This improvement every year since the baseline, compounded: year k after the
    /// baseline's year aims at SEnPI ≤ (1 − p/100)^k.
    Percent { per_year: f64 },
}

impl Target {
    /// `absolute:KWH`, `intensity:KWH_PER_UNIT` or `percent:PER_YEAR`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let help = "write absolute:KWH_PER_YEAR, intensity:KWH_PER_UNIT or percent:PER_YEAR (e.g. percent:1.5)";
        let (kind, value) = text
            .split_once(':')
            .ok_or_else(|| format!("`{text}`: {help}"))?;
        let v: f64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v > 0.0)
            .ok_or_else(|| format!("`{text}`: `{value}` is not a number above 0; {help}"))?;
        match kind.trim() {
            "absolute" => Ok(Self::Absolute { kwh_per_year: v }),
            "intensity" => Ok(Self::Intensity { kwh_per_unit: v }),
            "percent" if v < 100.0 => Ok(Self::Percent { per_year: v }),
            "percent" => Err(format!("`{text}`: a yearly improvement is below 100 %")),
            k => Err(format!("`{text}`: `{k}` is not a target kind; {help}")),
        }
    }
}

/// One tracked period: [start, end) in ms, energy, the model's expectation, production.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub start: i64,
    pub end: i64,
    pub actual: f64,
    pub expected: f64,
    pub production: Option<f64>,
    pub baseline: bool,
}

/// A year's progress against the target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub target: Target,
    pub year: i32,
    /// The end of the last tracked period of the year (RFC 3339).
    pub through: Option<String>,
    pub actual_ytd: f64,
    pub expected_ytd: f64,
    pub senpi_ytd: Option<f64>,
    pub production_ytd: Option<f64>,
    /// The model's expectation for the rest of the year (see the module's note).
    pub expected_rest: f64,
    pub forecast_energy: Option<f64>,
    pub forecast_production: Option<f64>,
    /// The target in its own terms: kWh, kWh per unit, or the SEnPI aimed at this year.
    pub target_value: f64,
    pub unit: &'static str,
    /// Year to date and at the year's end, in the target's terms.
    pub achieved: Option<f64>,
    pub forecast: Option<f64>,
    pub on_track: Option<bool>,
    /// In English; `note_message` for any language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note_message: Option<Msg>,
}

fn month_start(zone: Zone, year: i32, month: u32) -> i64 {
    let (y, m) = if month > 12 {
        (year + 1, 1)
    } else {
        (year, month)
    };
    let d = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default();
    zone.instant(d.and_time(Default::default()))
}

/// Expected energy and production per ms for each calendar month (index 0-11) of the
/// baseline rows, the whole baseline's rate for months it lacks.
fn rates(rows: &[Row], zone: Zone) -> [(f64, Option<f64>); 12] {
    let mut sums = [(0.0, 0.0, 0i64, true); 12];
    let mut all = (0.0, 0.0, 0i64, true);
    for r in rows.iter().filter(|r| r.baseline && r.end > r.start) {
        let m = zone.local(r.start).month0() as usize;
        for s in [&mut sums[m], &mut all] {
            s.0 += r.expected;
            s.1 += r.production.unwrap_or(0.0);
            s.2 += r.end - r.start;
            s.3 &= r.production.is_some();
        }
    }
    let rate = |s: (f64, f64, i64, bool)| {
        let ms = s.2 as f64;
        (s.0 / ms, s.3.then_some(s.1 / ms))
    };
    std::array::from_fn(|m| {
        if sums[m].2 > 0 {
            rate(sums[m])
        } else if all.2 > 0 {
            rate(all)
        } else {
            (0.0, None)
        }
    })
}

/// Progress in calendar `year` (plant-local); `baseline_year` is the year the baseline ends in.
pub fn progress(
    target: Target,
    rows: &[Row],
    zone: Zone,
    year: i32,
    baseline_year: i32,
) -> Progress {
    let (y0, y1) = (month_start(zone, year, 1), month_start(zone, year, 13));
    let in_year: Vec<&Row> = rows
        .iter()
        .filter(|r| r.start >= y0 && r.start < y1)
        .collect();
    let actual: f64 = in_year.iter().map(|r| r.actual).sum();
    let expected: f64 = in_year.iter().map(|r| r.expected).sum();
    let production = in_year
        .iter()
        .map(|r| r.production)
        .sum::<Option<f64>>()
        .filter(|_| !in_year.is_empty());
    let last = in_year.iter().map(|r| r.end).max();
    let cursor = last.unwrap_or(y0).clamp(y0, y1);
    let rates = rates(rows, zone);
    let (mut e_rest, mut p_rest) = (0.0, Some(0.0));
    for m in 1..=12u32 {
        let (a, b) = (month_start(zone, year, m), month_start(zone, year, m + 1));
        let span = (b - a.max(cursor)).max(0) as f64;
        if span > 0.0 {
            let (e, p) = rates[(m - 1) as usize];
            e_rest += span * e;
            p_rest = p_rest.zip(p).map(|(acc, p)| acc + span * p);
        }
    }
    let senpi = (expected > 0.0).then(|| actual / expected);
    let forecast_energy = senpi.map(|s| actual + s * e_rest);
    let forecast_production = production.zip(p_rest).map(|(a, b)| a + b);
    let mut note = None;
    let (target_value, unit, achieved, forecast) = match target {
        Target::Absolute { kwh_per_year } => (
            kwh_per_year,
            "kWh",
            Some(actual).filter(|_| !in_year.is_empty()),
            forecast_energy,
        ),
        Target::Intensity { kwh_per_unit } => {
            if production.is_none() {
                note = Some(Msg::new("bl-note-needs-production"));
            }
            let per = |e: f64, p: f64| (p > 0.0).then(|| e / p);
            (
                kwh_per_unit,
                "kWh/unit",
                production.and_then(|p| per(actual, p)),
                forecast_energy
                    .zip(forecast_production)
                    .and_then(|(e, p)| per(e, p)),
            )
        }
        Target::Percent { per_year } => {
            let k = (year - baseline_year).max(0);
            let aim = (1.0 - per_year / 100.0).powi(k);
            // With the rest of the year at the same SEnPI, the year ends at it.
            let f = forecast_energy.map(|f| f / (expected + e_rest));
            (aim, "SEnPI", senpi, f)
        }
    };
    if in_year.is_empty() && note.is_none() {
        note = Some(Msg::new("bl-note-no-period").arg("year", year.to_string()));
    }
    Progress {
        target,
        year,
        through: last.map(|t| zone.format(t)),
        actual_ytd: actual,
        expected_ytd: expected,
        senpi_ytd: senpi,
        production_ytd: production,
        expected_rest: e_rest,
        forecast_energy,
        forecast_production,
        target_value,
        unit,
        achieved,
        forecast,
        on_track: forecast.map(|f| f <= target_value),
        note: note.as_ref().map(Msg::en),
        note_message: note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    /// Daily rows from `first` for `days` days at constant values.
    fn days(
        first: &str,
        n: i64,
        actual: f64,
        expected: f64,
        prod: f64,
        baseline: bool,
    ) -> Vec<Row> {
        let z = Zone::Named(chrono_tz::UTC);
        let d: NaiveDate = first.parse().unwrap();
        let start = z.instant(d.and_time(Default::default()));
        (0..n)
            .map(|i| Row {
                start: start + i * DAY,
                end: start + (i + 1) * DAY,
                actual,
                expected,
                production: Some(prod),
                baseline,
            })
            .collect()
    }

    #[test]
    fn targets_parse() {
        assert_eq!(
            Target::parse("percent:1.5").unwrap(),
            Target::Percent { per_year: 1.5 }
        );
        assert_eq!(
            Target::parse("absolute:1200000").unwrap(),
            Target::Absolute {
                kwh_per_year: 1.2e6
            }
        );
        assert!(Target::parse("percent:100").is_err());
        assert!(Target::parse("intensity:-1").is_err());
        assert!(Target::parse("speed:3")
            .unwrap_err()
            .contains("not a target kind"));
        assert!(Target::parse("1.5").is_err());
    }

    #[test]
    fn year_end_forecast_by_hand() {
        let z = Zone::Named(chrono_tz::UTC);
        // Baseline 2025: 100 kWh expected and 10 units a day. 2026: January to June (181
        // days) at 90 kWh a day against 100 expected, 12 units a day.
        let mut rows = days("2025-01-01", 365, 100.0, 100.0, 10.0, true);
        rows.extend(days("2026-01-01", 181, 90.0, 100.0, 12.0, false));
        let p = progress(
            Target::Absolute {
                kwh_per_year: 33_000.0,
            },
            &rows,
            z,
            2026,
            2025,
        );
        // SEnPI 0.9; the other 184 days expected 18 400 kWh: 16 290 + 0.9 × 18 400 = 32 850.
        assert_eq!(p.actual_ytd, 16_290.0);
        assert!((p.senpi_ytd.unwrap() - 0.9).abs() < 1e-12);
        assert!(
            (p.expected_rest - 18_400.0).abs() < 1e-6,
            "{}",
            p.expected_rest
        );
        assert!((p.forecast.unwrap() - 32_850.0).abs() < 1e-6);
        assert_eq!(p.on_track, Some(true));
        assert_eq!(p.through.as_deref(), Some("2026-07-01T00:00:00+00:00"));
        // Intensity: (32 850) / (181 × 12 + 184 × 10) = 32 850 / 4 012.
        let p = progress(
            Target::Intensity { kwh_per_unit: 8.0 },
            &rows,
            z,
            2026,
            2025,
        );
        assert!((p.achieved.unwrap() - 16_290.0 / 2_172.0).abs() < 1e-12);
        assert!((p.forecast.unwrap() - 32_850.0 / 4_012.0).abs() < 1e-12);
        assert_eq!(p.on_track, Some(false));
        // 1.5 % a year: 2026 aims at 0.985, 2027 at 0.985².
        let p = progress(Target::Percent { per_year: 1.5 }, &rows, z, 2026, 2025);
        assert!((p.target_value - 0.985).abs() < 1e-12);
        assert!((p.forecast.unwrap() - 0.9).abs() < 1e-12);
        assert_eq!(p.on_track, Some(true));
        let p = progress(Target::Percent { per_year: 1.5 }, &rows, z, 2027, 2025);
        assert!((p.target_value - 0.985 * 0.985).abs() < 1e-12);
        assert_eq!(p.achieved, None);
        assert!(p.note.unwrap().contains("no tracked period in 2027"));
    }

    #[test]
    fn seasonal_baselines_forecast_each_month_at_its_own_rate() {
        let z = Zone::Named(chrono_tz::UTC);
        // Baseline: January at 200 kWh a day, the rest of 2025 at 100. Tracked: 2026-01-01 to
        // 2026-01-10 at SEnPI 1. The rest: 21 January days × 200 + 334 days × 100.
        let mut rows = days("2025-01-01", 31, 200.0, 200.0, 1.0, true);
        rows.extend(days("2025-02-01", 334, 100.0, 100.0, 1.0, true));
        rows.extend(days("2026-01-01", 10, 200.0, 200.0, 1.0, false));
        let p = progress(Target::Absolute { kwh_per_year: 1.0 }, &rows, z, 2026, 2025);
        assert!((p.expected_rest - (21.0 * 200.0 + 334.0 * 100.0)).abs() < 1e-6);
        assert!((p.forecast.unwrap() - (2_000.0 + 4_200.0 + 33_400.0)).abs() < 1e-6);
        assert_eq!(p.on_track, Some(false));
    }
}
