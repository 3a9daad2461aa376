//! The self-contained HTML savings report: the verdict first, then the figures, the charts
//! (baseline fit, actual versus adjusted baseline, CUSUM, residuals) and the model's evidence.

use std::fmt::Write;

use super::html_text::{esc, num, opt, STYLE};
use super::report::Report;
use super::svg::{Chart, Series, Style};

/// The whole page.
pub fn render(r: &Report) -> String {
    let u = &r.energy_unit;
    let s = &r.savings;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>Savings verification — {src}</title><style>{STYLE}</style></head><body><h1>Savings verification: {src}</h1>",
        src = esc(&r.source)
    );
    let _ = write!(
        h,
        "<div class=\"verdict {}\">{}</div>",
        if s.verified { "ok" } else { "no" },
        esc(&s.verdict)
    );
    if !s.reasons.is_empty() {
        h.push_str("<p>Not verified because (未通過查證的原因):</p><ul class=\"warn\">");
        for why in &s.reasons {
            let _ = write!(h, "<li>{}</li>", esc(why));
        }
        h.push_str("</ul>");
    }
    if let Some(p) = &r.placebo {
        placebo(&mut h, p, u);
    }
    let _ = write!(
        h,
        "<p>Baseline from {} up to {} ({} {}s used of {}); reporting period from {} up to {} ({} of {}). Times in {}.</p>",
        esc(&r.baseline.from),
        esc(&r.baseline.to),
        r.baseline.n,
        r.granularity.code(),
        r.baseline.expected,
        esc(&r.reporting.from),
        esc(&r.reporting.to),
        r.reporting.n,
        r.reporting.expected,
        esc(&r.time_zone)
    );
    h.push_str("<h2>Savings</h2><table>");
    let rows = [
        (
            "Actual energy, reporting period",
            format!("{} {u}", num(r.reporting.actual)),
        ),
        (
            "Adjusted baseline (what the plant would have used)",
            opt(r.reporting.adjusted_baseline, &format!(" {u}")),
        ),
        ("Avoided energy", format!("{} {u}", num(s.avoided))),
        ("Savings", opt(s.percent, " %")),
        (
            "Uncertainty at 68 % confidence",
            opt(s.uncertainty_68, &format!(" {u}")),
        ),
        (
            "Uncertainty at 90 % confidence",
            opt(s.uncertainty_90, &format!(" {u}")),
        ),
        (
            "Fractional savings uncertainty at 68 %",
            opt(s.fsu_68, " %"),
        ),
        ("SEnPI (actual ÷ adjusted baseline)", opt(s.senpi, "")),
        ("Improvement", opt(s.improvement_percent, " %")),
    ];
    for (k, v) in rows {
        let _ = write!(h, "<tr><td>{k}</td><td>{v}</td></tr>");
    }
    h.push_str("</table>");
    if !r.reporting.non_routine_adjustments.is_empty() {
        h.push_str("<p>Non-routine adjustments added to the baseline:</p><ul>");
        for a in &r.reporting.non_routine_adjustments {
            let _ = write!(
                h,
                "<li>{} {u}, {} to {}: {}</li>",
                num(a.energy),
                esc(&a.from_text),
                esc(&a.to_text),
                esc(&a.reason)
            );
        }
        h.push_str("</ul>");
    }
    super::html_extras::priced_and_normalized(&mut h, r);
    if !r.warnings.is_empty() {
        h.push_str("<h2>Warnings</h2><ul class=\"warn\">");
        for w in &r.warnings {
            let _ = write!(h, "<li>{}</li>", esc(w));
        }
        h.push_str("</ul>");
    }

    // Charts.
    let tz = r.zone;
    let start = r.series.iter().find(|p| p.reporting).map(|p| p.ms as f64);
    let unit_label = format!("energy per {} ({u})", r.granularity.code());
    h.push_str("<h2>How energy follows its driver in the baseline</h2>");
    if let Some((name, x, fitted)) = &r.driver {
        let actual: Vec<f64> = r
            .series
            .iter()
            .filter(|p| !p.reporting)
            .map(|p| p.actual)
            .collect();
        h.push_str(
            &Chart {
                title: "Baseline: measured and modelled",
                x_label: name,
                y_label: &unit_label,
                time_axis: None,
                series: vec![
                    Series {
                        name: "measured",
                        color: "#1f5fa8",
                        style: Style::Dots,
                        points: x.iter().copied().zip(actual).collect(),
                    },
                    Series {
                        name: "model",
                        color: "#e07b00",
                        style: Style::Dots,
                        points: x.iter().copied().zip(fitted.iter().copied()).collect(),
                    },
                ],
                marker: None,
                zero_line: false,
            }
            .render(),
        );
    } else {
        h.push_str("<p>The mean model has no driver to plot against.</p>");
    }
    h.push_str("<h2>Actual versus modelled over time</h2><p><small>Left of the red line: the baseline fit. Right: the adjusted baseline (what the plant would have used without the measure) against what it used.</small></p>");
    let pts = |f: &dyn Fn(&super::report::Point) -> f64| -> Vec<(f64, f64)> {
        r.series.iter().map(|p| (p.ms as f64, f(p))).collect()
    };
    h.push_str(
        &Chart {
            title: "Energy: actual and baseline",
            x_label: "date",
            y_label: &unit_label,
            time_axis: Some(tz),
            series: vec![
                Series {
                    name: "actual",
                    color: "#1f5fa8",
                    style: Style::Line,
                    points: pts(&|p| p.actual),
                },
                Series {
                    name: "baseline / adjusted baseline",
                    color: "#e07b00",
                    style: Style::Line,
                    points: pts(&|p| p.modelled),
                },
            ],
            marker: start.map(|s| (s, "reporting period")),
            zero_line: false,
        }
        .render(),
    );
    h.push_str("<h2>CUSUM</h2><p><small>Running sum of actual minus modelled energy. Flat around zero through the baseline; falling steadily once savings start; a rise means savings have been lost.</small></p>");
    h.push_str(
        &Chart {
            title: "Cumulative sum of differences",
            x_label: "date",
            y_label: &format!("CUSUM ({u})"),
            time_axis: Some(tz),
            series: vec![Series {
                name: "CUSUM",
                color: "#6b3fa0",
                style: Style::Line,
                points: pts(&|p| p.cusum),
            }],
            marker: start.map(|s| (s, "reporting period")),
            zero_line: true,
        }
        .render(),
    );
    h.push_str("<h2>Residuals</h2>");
    h.push_str(
        &Chart {
            title: "Actual minus modelled",
            x_label: "date",
            y_label: &format!("residual ({u})"),
            time_axis: Some(tz),
            series: vec![Series {
                name: "residual",
                color: "#444",
                style: Style::Dots,
                points: pts(&|p| p.actual - p.modelled),
            }],
            marker: start.map(|s| (s, "reporting period")),
            zero_line: true,
        }
        .render(),
    );

    if !r.monthly.is_empty() {
        let _ = write!(
            h,
            "<h2>By month</h2><table><tr><th>month</th><th>actual ({u})</th><th>adjusted baseline ({u})</th><th>savings ({u})</th><th>SEnPI</th><th>improvement</th><th>cumulative savings ({u})</th></tr>"
        );
        for m in &r.monthly {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                m.month,
                num(m.actual),
                num(m.adjusted_baseline),
                num(m.savings),
                opt(m.senpi, ""),
                opt(m.improvement_percent, " %"),
                num(m.cumulative_savings)
            );
        }
        h.push_str("</table>");
    }

    let m = &r.model;
    let _ = write!(
        h,
        "<h2>Baseline model: {}</h2><p>n = {}, parameters = {}, R² = {:.3}, adjusted R² = {:.3}, CV(RMSE) = {}, NMBE = {}, lag-1 autocorrelation = {:.2}{}.</p>",
        m.form,
        m.n,
        m.parameters,
        m.r2,
        m.adj_r2,
        opt(m.cv_rmse, " %"),
        opt(m.nmbe, " %"),
        m.autocorrelation,
        if m.balance_points.is_empty() {
            String::new()
        } else {
            format!(
                ", balance point{} {}",
                if m.balance_points.len() > 1 { "s" } else { "" },
                m.balance_points
                    .iter()
                    .map(|b| format!("{b:.1} {}", r.temperature_unit.unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        }
    );
    h.push_str(
        "<table><tr><th>term</th><th>coefficient</th><th>std. error</th><th>p-value</th></tr>",
    );
    let shown = m.coefficients.0.len().min(24);
    for i in 0..shown {
        let (name, c) = &m.coefficients.0[i];
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            opt(*c, ""),
            opt(m.std_errors.0[i].1, ""),
            m.p_values.0[i]
                .1
                .map(|p| format!("{p:.4}"))
                .unwrap_or("—".into())
        );
    }
    if m.coefficients.0.len() > shown {
        let _ = write!(
            h,
            "<tr><td colspan=\"4\">… and {} more terms (all in the JSON output)</td></tr>",
            m.coefficients.0.len() - shown
        );
    }
    h.push_str("</table><table><tr><th>check</th><th>value</th><th>needs</th><th></th></tr>");
    for c in &m.checks {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(c.name),
            c.value.map(|v| format!("{v:.4}")).unwrap_or("—".into()),
            esc(&c.limit),
            if c.passed { "pass" } else { "fail" },
            if c.passed { "pass" } else { "fail" }
        );
    }
    h.push_str("</table><p><small>Candidates considered: from the simplest up, a model with more parameters is chosen only when the partial F test (corrected for autocorrelation) gives p < 0.05; none that is not significantly better than the mean.</small></p><table><tr><th>form</th><th>parameters</th><th>adjusted R²</th><th>CV(RMSE)</th><th>note</th></tr>");
    for c in &m.candidates {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.form),
            c.parameters.map(|v| v.to_string()).unwrap_or("—".into()),
            c.adj_r2.map(|v| format!("{v:.4}")).unwrap_or("—".into()),
            opt(c.cv_rmse, " %"),
            esc(c
                .reason
                .as_deref()
                .unwrap_or(if c.selected { "chosen" } else { "" }))
        );
    }
    let _ = write!(
        h,
        "</table><p><small>Method: IPMVP avoided energy = adjusted baseline − reporting-period energy (± non-routine adjustments). Uncertainty per ASHRAE Guideline 14 Annex B: 1.26 · t · CV(RMSE) · √((n/n′)(1 + 2/n′)/m) · baseline energy, n′ corrected for autocorrelation. Generated by kilowatch {} (schema {}).</small></p></body></html>",
        env!("CARGO_PKG_VERSION"),
        r.schema
    );
    h
}

/// The placebo back-test: its false-positive rate beside the verdict, and each window.
fn placebo(h: &mut String, p: &super::report::Placebo, u: &str) {
    let _ = write!(h, "<h2>Placebo back-test (安慰劑回測)</h2><p>");
    match p.false_positive_percent {
        Some(rate) => {
            let _ = write!(
                h,
                "{} of {} windows of the baseline, where no measure happened, were called verified: a false-positive rate of {rate:.0} % (nominal {:.0} %).",
                p.verified, p.windows, p.nominal_percent
            );
        }
        None => h.push_str("Not run."),
    }
    if let Some(note) = &p.note {
        let _ = write!(h, " {}", esc(note));
    }
    h.push_str("</p><table><tr><th>window</th><th>“savings”</th><th>± 90 %</th><th>status</th><th>why</th></tr>");
    for w in &p.results {
        let _ = write!(
            h,
            "<tr><td>{} – {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&w.from),
            esc(&w.to),
            opt(w.avoided, &format!(" {u}")),
            opt(w.uncertainty_90, &format!(" {u}")),
            esc(&w.status),
            esc(w.reason.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</table>");
}
