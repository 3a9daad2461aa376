//! Normalized savings (IPMVP): a model of the reporting period with the baseline model's form,
//! both models predicted over a typical weather year, savings = baseline-model annual −
//! reporting-model annual. The typical year is built from monthly normals (a seed file).

use chrono::{Datelike, Duration, NaiveDate};

use super::analysis::Request;
use super::frame::{aggregate, Granularity, Raw, VarSpec};
use super::model::{fit_form, Drivers, Spec, TempUnit};
use super::report::{NormalizedSavings, Report};

/// Taipei station normals, built in so the demo runs from any directory.
pub const BUILTIN: &str = include_str!("../../../seeds/weather/taipei-normals.csv");

/// The calendar the typical year is laid on (not a leap year; weekdays matter only to
/// time-of-week models).
const CALENDAR_YEAR: i32 = 2025;

#[derive(Debug, Clone, PartialEq)]
pub struct NormalYear {
    pub name: String,
    /// Per month: mean temperature and diurnal amplitude, °C.
    months: [(f64, f64); 12],
}

impl NormalYear {
    /// `month,mean_c,mean_max_c,mean_min_c`, twelve rows; `# name: …` names it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut name = None;
        let mut rows: Vec<(usize, [f64; 4])> = Vec::new();
        let mut header = false;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(c) = line.strip_prefix('#') {
                if let Some(n) = c.trim().strip_prefix("name:") {
                    name = Some(n.trim().to_owned());
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            if !header {
                if line.replace(' ', "") != "month,mean_c,mean_max_c,mean_min_c" {
                    return Err(format!(
                        "line {}: the header must be `month,mean_c,mean_max_c,mean_min_c`",
                        i + 1
                    ));
                }
                header = true;
                continue;
            }
            let cells: Vec<f64> = line
                .split(',')
                .map(|c| c.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| format!("line {}: `{line}`: four numbers expected", i + 1))?;
            let [m, mean, max, min] = cells[..] else {
                return Err(format!("line {}: `{line}`: four numbers expected", i + 1));
            };
            if !(-60.0..=60.0).contains(&mean) || max < min || !(min..=max).contains(&mean) {
                return Err(format!(
                    "line {}: implausible temperatures (need min ≤ mean ≤ max, °C)",
                    i + 1
                ));
            }
            rows.push((i + 1, [m, mean, max, min]));
        }
        let mut months = [(f64::NAN, 0.0); 12];
        for (line, [m, mean, max, min]) in rows {
            if m.fract() != 0.0 || !(1.0..=12.0).contains(&m) || !months[m as usize - 1].0.is_nan()
            {
                return Err(format!("line {line}: month {m} is not a new month 1-12"));
            }
            months[m as usize - 1] = (mean, (max - min) / 2.0);
        }
        if months.iter().any(|m| m.0.is_nan()) {
            return Err("all twelve months are needed".into());
        }
        Ok(Self {
            name: name.unwrap_or_else(|| "normal weather year".into()),
            months,
        })
    }

    pub fn builtin() -> Self {
        Self::parse(BUILTIN).expect("the built-in normals parse")
    }

    /// Mean temperature and diurnal amplitude of each day of the calendar year: monthly values
    /// placed mid-month, linearly interpolated in between (wrapping round the year).
    fn daily(&self) -> Vec<(f64, f64)> {
        let start = NaiveDate::from_ymd_opt(CALENDAR_YEAR, 1, 1).unwrap_or_default();
        let mid: Vec<f64> = (1..=12u32)
            .map(|m| {
                let first = NaiveDate::from_ymd_opt(CALENDAR_YEAR, m, 1).unwrap_or_default();
                let days = if m == 12 {
                    31
                } else {
                    (NaiveDate::from_ymd_opt(CALENDAR_YEAR, m + 1, 1).unwrap_or_default() - first)
                        .num_days()
                };
                (first - start).num_days() as f64 + days as f64 / 2.0
            })
            .collect();
        (0..365)
            .map(|d| {
                let x = d as f64 + 0.5;
                // The anchors either side, wrapping December into January.
                let j = mid.iter().position(|m| *m > x).unwrap_or(12);
                let (i0, i1) = ((j + 11) % 12, j % 12);
                let (x0, x1) = match j {
                    0 => (mid[11] - 365.0, mid[0]),
                    12 => (mid[11], mid[0] + 365.0),
                    _ => (mid[j - 1], mid[j]),
                };
                let f = (x - x0) / (x1 - x0);
                let lerp = |a: f64, b: f64| a + f * (b - a);
                let (a, b) = (self.months[i0], self.months[i1]);
                (lerp(a.0, b.0), lerp(a.1, b.1))
            })
            .collect()
    }

    /// The typical year at granularity `g`, with `vars` held constant; and the factor that
    /// scales the sum of its periods to one year (52 weeks are 364 days).
    fn drivers(&self, g: Granularity, unit: TempUnit, vars: &[(VarSpec, f64)]) -> (Drivers, f64) {
        let start = NaiveDate::from_ymd_opt(CALENDAR_YEAR, 1, 1)
            .unwrap_or_default()
            .and_time(Default::default());
        let days = self.daily();
        let points: Vec<(chrono::NaiveDateTime, f64)> = match g {
            Granularity::Hour => (0..365 * 24)
                .map(|h| {
                    let (mean, amp) = days[h / 24];
                    let phase = std::f64::consts::TAU * ((h % 24) as f64 - 9.0) / 24.0;
                    (start + Duration::hours(h as i64), mean + amp * phase.sin())
                })
                .collect(),
            Granularity::Day => (0..365)
                .map(|d| (start + Duration::days(d as i64), days[d].0))
                .collect(),
            Granularity::Week => (0..52)
                .map(|w| {
                    let t = days[w * 7..w * 7 + 7].iter().map(|d| d.0).sum::<f64>() / 7.0;
                    (start + Duration::days(7 * w as i64), t)
                })
                .collect(),
            Granularity::Month => (0..12)
                .map(|m| {
                    let first = start.date().with_month(m as u32 + 1).unwrap_or_default();
                    (first.and_time(Default::default()), self.months[m].0)
                })
                .collect(),
        };
        let scale = if g == Granularity::Week {
            365.0 / 364.0
        } else {
            1.0
        };
        let (local, temp): (Vec<_>, Vec<f64>) = points.into_iter().unzip();
        let temp = temp
            .into_iter()
            .map(|c| match unit {
                TempUnit::C => c,
                TempUnit::F => c * 9.0 / 5.0 + 32.0,
            })
            .collect();
        let n = local.len();
        let d = Drivers {
            granularity: g,
            unit,
            local,
            temp: Some(temp),
            vars: vars.iter().map(|(s, v)| (s.clone(), vec![*v; n])).collect(),
            // A typical year has no dated holidays: its days are weekdays and weekends.
            holidays: Vec::new(),
        };
        (d, scale)
    }
}

/// The periods of [from, to) with every driver: drivers and energy.
fn usable(raw: &Raw, req: &Request, (from, to): (i64, i64)) -> Result<(Drivers, Vec<f64>), String> {
    let f = aggregate(raw, req.granularity, from, to)?;
    let keep: Vec<_> = f
        .periods
        .iter()
        .filter(|p| p.temp.is_some() && p.vars.iter().all(Option::is_some))
        .collect();
    let d = Drivers {
        granularity: req.granularity,
        unit: req.temp_unit,
        local: keep.iter().map(|p| p.local).collect(),
        temp: Some(keep.iter().map(|p| p.temp.unwrap_or_default()).collect()),
        vars: raw
            .vars
            .iter()
            .enumerate()
            .map(|(j, s)| {
                (
                    s.clone(),
                    keep.iter().map(|p| p.vars[j].unwrap_or_default()).collect(),
                )
            })
            .collect(),
        holidays: req.holidays.clone(),
    };
    Ok((d, keep.iter().map(|p| p.energy).collect()))
}

/// Normalized savings for the report's model form, or a note on why there are none.
pub fn normalize(
    raw: &Raw,
    req: &Request,
    report: &Report,
    year: Option<&NormalYear>,
) -> NormalizedSavings {
    let mut out = NormalizedSavings {
        weather_year: year.map_or_else(|| "none".into(), |y| y.name.clone()),
        baseline_annual: None,
        reporting_annual: None,
        savings: None,
        percent: None,
        note: String::new(),
    };
    let form = match Spec::parse(&report.model.form) {
        Ok(f) if f.form.uses_temp() && raw.has_temp => f,
        _ => {
            out.note = format!(
                "the {} model does not use temperature: normalizing to a typical weather year changes nothing",
                report.model.form
            );
            return out;
        }
    };
    let Some(year) = year else {
        out.note = format!(
            "no normal weather year for this site (time zone {}): give one with --normal-weather FILE",
            report.time_zone
        );
        return out;
    };
    let fitted =
        usable(raw, req, req.baseline).and_then(|b| Ok((b, usable(raw, req, req.reporting)?)));
    let ((bd, be), (rd, re)) = match fitted {
        Ok(x) => x,
        Err(e) => {
            out.note = e;
            return out;
        }
    };
    let base = fit_form(form, &bd, &be);
    let rep = fit_form(form, &rd, &re);
    let (base, rep) = match (base, rep) {
        (Ok(b), Ok(r)) => (b, r),
        (Err(e), _) => {
            out.note = format!("the baseline model cannot be refitted: {e}");
            return out;
        }
        (_, Err(e)) => {
            out.note = format!(
                "a reporting-period model of the same form ({}) cannot be fitted on {} {}s: {e}",
                form.code(),
                re.len(),
                req.granularity.code()
            );
            return out;
        }
    };
    // Non-weather drivers held at their mean per period over both periods, the same for both
    // models: only the weather is normalized.
    let vars: Vec<(VarSpec, f64)> = bd
        .vars
        .iter()
        .zip(&rd.vars)
        .map(|((s, b), (_, r))| {
            let n = (b.len() + r.len()).max(1) as f64;
            (
                s.clone(),
                (b.iter().sum::<f64>() + r.iter().sum::<f64>()) / n,
            )
        })
        .collect();
    let (normal, scale) = year.drivers(req.granularity, req.temp_unit, &vars);
    let b: f64 = base.predict(&normal).iter().sum::<f64>() * scale;
    let r: f64 = rep.predict(&normal).iter().sum::<f64>() * scale;
    out.baseline_annual = Some(b);
    out.reporting_annual = Some(r);
    out.savings = Some(b - r);
    out.percent = (b != 0.0).then(|| 100.0 * (b - r) / b);
    let held = if vars.is_empty() {
        String::new()
    } else {
        format!(
            "; {} held at the mean per {} over both periods, the same for both models",
            vars.iter()
                .map(|(s, v)| format!("{} {v:.1}", s.name))
                .collect::<Vec<_>>()
                .join(", "),
            req.granularity.code()
        )
    };
    let range = |t: &[f64]| {
        t.iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            })
    };
    let seen = range(
        &[bd.temp.as_deref(), rd.temp.as_deref()]
            .map(Option::unwrap_or_default)
            .concat(),
    );
    let typical = range(normal.temp.as_deref().unwrap_or(&[]));
    let outside = if typical.0 < seen.0 || typical.1 > seen.1 {
        format!(
            "; the typical year's temperatures ({:.1}–{:.1}) reach outside those the models were fitted on ({:.1}–{:.1}): there the models extrapolate",
            typical.0, typical.1, seen.0, seen.1
        )
    } else {
        String::new()
    };
    out.note = format!(
        "baseline and reporting-period {} models (the reporting one fitted on {} {}s) predicted over {} laid on the {CALENDAR_YEAR} calendar{held}{outside}",
        form.code(),
        re.len(),
        req.granularity.code(),
        year.name
    );
    out
}

#[cfg(test)]
#[path = "normal_tests.rs"]
mod tests;
