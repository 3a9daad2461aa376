//! The evidence behind a verdict: the model's validity checks (DOE and ASHRAE Guideline 14,
//! fitted to the model's kind), data sufficiency, and whether the reporting conditions lie
//! inside the baseline's.

use super::frame::{Frame, Granularity};
use super::model::{Drivers, Model};
use super::report::{finite, Check};
use crate::i18n::{Arg, Msg};

/// Guideline 14 CV(RMSE) limit, percent: hourly models are held to the hourly calibration limit.
pub fn cv_limit(g: Granularity) -> f64 {
    if g == Granularity::Hour {
        30.0
    } else {
        20.0
    }
}

/// Coverage a baseline (CalTRACK) and a reporting period need, percent.
pub const MIN_COVERAGE: f64 = 90.0;

/// Share of reporting periods that may lie outside the baseline's range before the adjusted
/// baseline counts as an extrapolation.
pub const MAX_OUTSIDE_SHARE: f64 = 0.10;

/// DOE (SEP / EnPI tool) and ASHRAE Guideline 14 criteria for the chosen model. Calendar
/// indicators and time-of-week terms are judged with the model (its F test), not one by one.
pub fn checks(m: &Model, g: Granularity) -> Vec<Check> {
    let mut out = Vec::new();
    let o = &m.ols;
    if o.coef.len() > 1 {
        let fp = o.f.map(|f| f.1);
        out.push(Check {
            name: "model p-value (DOE)",
            value: fp.and_then(finite),
            limit: "< 0.1".into(),
            passed: fp.is_some_and(|p| p < 0.1),
        });
        let judged = m.judged_p_values();
        if !judged.is_empty() {
            let worst = judged.iter().cloned().fold(0.0, f64::max);
            out.push(Check {
                name: "largest variable p-value (DOE)",
                value: finite(worst),
                limit: "< 0.2".into(),
                passed: worst < 0.2,
            });
            let best = judged.iter().cloned().fold(1.0, f64::min);
            out.push(Check {
                name: "smallest variable p-value (DOE)",
                value: finite(best),
                limit: "< 0.1".into(),
                passed: best < 0.1,
            });
        }
        out.push(Check {
            name: "R² (DOE)",
            value: finite(o.r2),
            limit: "≥ 0.5".into(),
            passed: o.r2 >= 0.5,
        });
    }
    let limit = cv_limit(g);
    out.push(Check {
        name: "CV(RMSE) (ASHRAE Guideline 14)",
        value: finite(100.0 * o.cv_rmse),
        limit: format!("≤ {limit} %"),
        passed: 100.0 * o.cv_rmse <= limit,
    });
    out.push(Check {
        name: "NMBE (ASHRAE Guideline 14)",
        value: finite(100.0 * o.nmbe),
        limit: "within ±0.005 %".into(),
        passed: (100.0 * o.nmbe).abs() <= 0.005,
    });
    out
}

/// "model not valid: CV(RMSE) 34.0 % (needs ≤ 20 %)" for each failed check.
pub fn model_reasons(checks: &[Check]) -> Vec<Msg> {
    checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| {
            let name = c.name.split(" (").next().unwrap_or(c.name);
            let value: Arg = match c.value {
                Some(v) if c.limit.contains('%') => format!("{v:.1} %").into(),
                Some(v) => format!("{v:.3}").into(),
                None => Msg::new("mv-undefined").into(),
            };
            Msg::new("mv-why-model")
                .arg("check", name)
                .arg("value", value)
                .arg("limit", c.limit.as_str())
        })
        .collect()
}

/// "baseline" or "reporting period", as a message.
pub fn period_word(reporting: bool) -> Msg {
    Msg::new(if reporting {
        "mv-word-reporting"
    } else {
        "mv-word-baseline"
    })
}

/// "days", "hours"… as a message: what a count of periods counts.
pub fn steps_word(g: Granularity) -> Msg {
    Msg::new(match g {
        Granularity::Hour => "mv-steps-hour",
        Granularity::Day => "mv-steps-day",
        Granularity::Week => "mv-steps-week",
        Granularity::Month => "mv-steps-month",
    })
}

/// Coverage of one period: the periods the model can use against those expected, with the
/// reasons (warnings) and the blocking finding when coverage is short.
pub fn sufficiency(
    frame: &Frame,
    used: usize,
    excluded: usize,
    reporting: bool,
    warnings: &mut Vec<Msg>,
) -> Option<Msg> {
    let expected = frame.expected.saturating_sub(excluded);
    if expected == 0 {
        return None;
    }
    let pct = 100.0 * used as f64 / expected as f64;
    let what = period_word(reporting);
    let steps = steps_word(frame.granularity);
    if frame.dropped > 0 {
        warnings.push(
            Msg::new("mv-warn-incomplete")
                .arg("what", what.clone())
                .arg("n", frame.dropped.to_string())
                .arg("of", frame.expected.to_string())
                .arg("steps", steps.clone()),
        );
    }
    let thin: Vec<String> = frame
        .coverage
        .iter()
        .filter(|c| c.percent < 50.0)
        .map(|c| format!("{} ({:.0} %)", c.month, c.percent))
        .collect();
    if !thin.is_empty() {
        warnings.push(
            Msg::new("mv-warn-thin-months")
                .arg("what", what.clone())
                .arg("months", thin.join(", ")),
        );
    }
    (pct < MIN_COVERAGE).then(|| {
        Msg::new("mv-why-coverage")
            .arg("what", what)
            .arg("pct", format!("{pct:.1}"))
            .arg("used", used.to_string())
            .arg("expected", expected.to_string())
            .arg("steps", steps)
            .arg("min", format!("{MIN_COVERAGE:.0}"))
    })
}

/// Reporting periods outside the baseline's conditions.
#[derive(Debug, Default)]
pub struct Extrapolation {
    /// Findings that make the adjusted baseline an extrapolation.
    pub findings: Vec<Msg>,
    /// Findings too small to matter (noted as warnings).
    pub notes: Vec<Msg>,
    /// Which reporting periods lie outside.
    pub outside: Vec<bool>,
}

/// Reporting drivers inside the baseline range (DOE): the mean of each driver the model uses,
/// and the share of periods outside; calendar levels the baseline did not have count as
/// outside too.
pub fn extrapolation(m: &Model, base: &Drivers, rep: &Drivers) -> Extrapolation {
    let mut x = Extrapolation {
        outside: vec![false; rep.len()],
        ..Extrapolation::default()
    };
    let steps = steps_word(rep.granularity);
    let mut ranges: Vec<(Arg, &str, &[f64], &[f64])> = Vec::new();
    if let (Some(bt), Some(rt)) = (&base.temp, &rep.temp) {
        if m.form.uses_temp() {
            ranges.push((
                Msg::new("mv-word-temperature").into(),
                base.unit.symbol(),
                bt,
                rt,
            ));
        }
    }
    if m.form.uses_vars() {
        for ((spec, bv), (_, rv)) in base.vars.iter().zip(&rep.vars) {
            ranges.push((spec.name.clone().into(), "", bv, rv));
        }
    }
    let m_len = rep.len();
    for (name, unit, b, r) in &ranges {
        let lo = b.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = b.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mean = r.iter().sum::<f64>() / r.len().max(1) as f64;
        let mut outside = 0;
        for (i, v) in r.iter().enumerate() {
            if *v < lo || *v > hi {
                x.outside[i] = true;
                outside += 1;
            }
        }
        let sp = if unit.is_empty() { "" } else { " " };
        let range = format!("{lo:.1}–{hi:.1}{sp}{unit}");
        if mean < lo || mean > hi {
            let key = if mean < lo {
                "mv-why-extrapolation-below"
            } else {
                "mv-why-extrapolation-above"
            };
            x.findings.push(
                Msg::new(key)
                    .arg("name", name.clone())
                    .arg("mean", format!("{mean:.1}{sp}{unit}"))
                    .arg("range", range),
            );
        } else {
            let outside_msg = || {
                Msg::new("mv-outside-range")
                    .arg("n", outside.to_string())
                    .arg("of", m_len.to_string())
                    .arg("steps", steps.clone())
                    .arg("name", name.clone())
                    .arg("range", range.clone())
            };
            if outside as f64 > MAX_OUTSIDE_SHARE * m_len as f64 {
                x.findings
                    .push(Msg::new("mv-why-extrapolation").arg("text", outside_msg()));
            } else if outside > 0 {
                x.notes
                    .push(Msg::new("mv-warn-uncertainty-counted").arg("text", outside_msg()));
            }
        }
    }
    let (mask, what) = m.unseen(rep);
    for (i, u) in mask.iter().enumerate() {
        x.outside[i] |= *u;
    }
    for (what, n) in what {
        let text = Msg::new("mv-unseen")
            .arg("n", n.to_string())
            .arg("of", m_len.to_string())
            .arg("steps", steps.clone())
            .arg("what", what);
        if n as f64 > MAX_OUTSIDE_SHARE * m_len as f64 {
            x.findings
                .push(Msg::new("mv-why-extrapolation").arg("text", text));
        } else {
            x.notes
                .push(Msg::new("mv-warn-uncertainty-counted").arg("text", text));
        }
    }
    x
}
