//! The self-contained HTML savings report: the verdict first, then the figures, the charts
//! (baseline fit, actual versus adjusted baseline, CUSUM, residuals) and the model's evidence.

use std::fmt::Write;

use super::html_text::{esc, num, opt, STYLE};
use super::report::Report;
use super::svg::{Chart, Series, Style};
use crate::i18n::{self, Language};

/// The whole page, in English.
pub fn render(r: &Report) -> String {
    render_in(r, Language::English)
}

/// The whole page in `lang`: headings, labels, method, and the engine's own sentences (the
/// verdict, its reasons and warnings) from their catalogue messages.
pub fn render_in(r: &Report, lang: Language) -> String {
    let u = &r.energy_unit;
    let s = &r.savings;
    let mut h = String::new();
    let title = esc(&i18n::tr(lang, "mvr-title", &[("source", &r.source)]));
    let _ = write!(
        h,
        "<!doctype html><html lang=\"{tag}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{title}</title><style>{STYLE}</style></head><body><h1>{title}</h1>",
        tag = lang.tag()
    );
    let _ = write!(
        h,
        "<div class=\"verdict {}\">{}</div>",
        if s.verified { "ok" } else { "no" },
        esc(&s.verdict_message.render(lang))
    );
    if !s.reason_messages.is_empty() {
        let _ = write!(
            h,
            "<p>{}</p><ul class=\"warn\">",
            i18n::t(lang, "mvr-not-verified")
        );
        for why in &s.reason_messages {
            let _ = write!(h, "<li>{}</li>", esc(&why.render(lang)));
        }
        h.push_str("</ul>");
    }
    if let Some(p) = &r.placebo {
        placebo(&mut h, p, u, lang);
    }
    let (n, expected) = (r.baseline.n.to_string(), r.baseline.expected.to_string());
    let (rn, rexpected) = (r.reporting.n.to_string(), r.reporting.expected.to_string());
    let periods = i18n::tr(
        lang,
        "mvr-periods",
        &[
            ("from", &r.baseline.from),
            ("to", &r.baseline.to),
            ("n", &n),
            ("step", r.granularity.code()),
            ("expected", &expected),
            ("rfrom", &r.reporting.from),
            ("rto", &r.reporting.to),
            ("rn", &rn),
            ("rexpected", &rexpected),
            ("zone", &r.time_zone),
        ],
    );
    let _ = write!(
        h,
        "<p>{}</p><h2>{}</h2><table>",
        esc(&periods),
        i18n::t(lang, "mvr-savings")
    );
    let rows = [
        (
            i18n::t(lang, "mvr-actual"),
            format!("{} {u}", num(r.reporting.actual)),
        ),
        (
            i18n::t(lang, "mvr-adjusted"),
            opt(r.reporting.adjusted_baseline, &format!(" {u}")),
        ),
        (
            i18n::t(lang, "mvr-avoided"),
            format!("{} {u}", num(s.avoided)),
        ),
        (i18n::t(lang, "mvr-percent"), opt(s.percent, " %")),
        (
            i18n::t(lang, "mvr-u68"),
            opt(s.uncertainty_68, &format!(" {u}")),
        ),
        (
            i18n::t(lang, "mvr-u90"),
            opt(s.uncertainty_90, &format!(" {u}")),
        ),
        (i18n::t(lang, "mvr-fsu68"), opt(s.fsu_68, " %")),
        (i18n::t(lang, "mvr-senpi"), opt(s.senpi, "")),
        (
            i18n::t(lang, "mvr-improvement"),
            opt(s.improvement_percent, " %"),
        ),
    ];
    for (k, v) in rows {
        let _ = write!(h, "<tr><td>{k}</td><td>{v}</td></tr>");
    }
    h.push_str("</table>");
    if !r.reporting.non_routine_adjustments.is_empty() {
        let _ = write!(h, "<p>{}</p><ul>", i18n::t(lang, "mvr-non-routine"));
        for a in &r.reporting.non_routine_adjustments {
            let energy = num(a.energy);
            let line = i18n::tr(
                lang,
                "mvr-adjustment",
                &[
                    ("energy", &energy),
                    ("unit", u),
                    ("from", &a.from_text),
                    ("to", &a.to_text),
                    ("reason", &a.reason),
                ],
            );
            let _ = write!(h, "<li>{}</li>", esc(&line));
        }
        h.push_str("</ul>");
    }
    super::html_extras::priced_and_normalized(&mut h, r, lang);
    if !r.warning_messages.is_empty() {
        let _ = write!(
            h,
            "<h2>{}</h2><ul class=\"warn\">",
            i18n::t(lang, "mvr-warnings")
        );
        for w in &r.warning_messages {
            let _ = write!(h, "<li>{}</li>", esc(&w.render(lang)));
        }
        h.push_str("</ul>");
    }

    // Charts.
    let tz = r.zone;
    let start = r.series.iter().find(|p| p.reporting).map(|p| p.ms as f64);
    let unit_label = i18n::tr(
        lang,
        "mvr-unit-label",
        &[("step", r.granularity.code()), ("unit", u)],
    );
    let (date, period) = (
        i18n::t(lang, "mvr-date"),
        i18n::t(lang, "mvr-reporting-period"),
    );
    let _ = write!(h, "<h2>{}</h2>", i18n::t(lang, "mvr-driver"));
    if let Some((name, x, fitted)) = &r.driver {
        let actual: Vec<f64> = r
            .series
            .iter()
            .filter(|p| !p.reporting)
            .map(|p| p.actual)
            .collect();
        h.push_str(
            &Chart {
                title: &i18n::t(lang, "mvr-chart-fit"),
                x_label: name,
                y_label: &unit_label,
                time_axis: None,
                series: vec![
                    Series {
                        name: &i18n::t(lang, "mvr-measured"),
                        color: "#1f5fa8",
                        style: Style::Dots,
                        points: x.iter().copied().zip(actual).collect(),
                    },
                    Series {
                        name: &i18n::t(lang, "mvr-model"),
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
        let _ = write!(h, "<p>{}</p>", i18n::t(lang, "mvr-mean-model"));
    }
    let _ = write!(
        h,
        "<h2>{}</h2><p><small>{}</small></p>",
        i18n::t(lang, "mvr-over-time"),
        i18n::t(lang, "mvr-over-time-note")
    );
    let pts = |f: &dyn Fn(&super::report::Point) -> f64| -> Vec<(f64, f64)> {
        r.series.iter().map(|p| (p.ms as f64, f(p))).collect()
    };
    h.push_str(
        &Chart {
            title: &i18n::t(lang, "mvr-chart-energy"),
            x_label: &date,
            y_label: &unit_label,
            time_axis: Some(tz),
            series: vec![
                Series {
                    name: &i18n::t(lang, "mvr-actual-series"),
                    color: "#1f5fa8",
                    style: Style::Line,
                    points: pts(&|p| p.actual),
                },
                Series {
                    name: &i18n::t(lang, "mvr-baseline-series"),
                    color: "#e07b00",
                    style: Style::Line,
                    points: pts(&|p| p.modelled),
                },
            ],
            marker: start.map(|s| (s, period.as_str())),
            zero_line: false,
        }
        .render(),
    );
    let _ = write!(
        h,
        "<h2>CUSUM</h2><p><small>{}</small></p>",
        i18n::t(lang, "mvr-cusum-note")
    );
    h.push_str(
        &Chart {
            title: &i18n::t(lang, "mvr-chart-cusum"),
            x_label: &date,
            y_label: &format!("CUSUM ({u})"),
            time_axis: Some(tz),
            series: vec![Series {
                name: "CUSUM",
                color: "#6b3fa0",
                style: Style::Line,
                points: pts(&|p| p.cusum),
            }],
            marker: start.map(|s| (s, period.as_str())),
            zero_line: true,
        }
        .render(),
    );
    let _ = write!(h, "<h2>{}</h2>", i18n::t(lang, "mvr-residuals"));
    h.push_str(
        &Chart {
            title: &i18n::t(lang, "mvr-chart-residuals"),
            x_label: &date,
            y_label: &i18n::tr(lang, "mvr-residual-axis", &[("unit", u)]),
            time_axis: Some(tz),
            series: vec![Series {
                name: &i18n::t(lang, "mvr-residual"),
                color: "#444",
                style: Style::Dots,
                points: pts(&|p| p.actual - p.modelled),
            }],
            marker: start.map(|s| (s, period.as_str())),
            zero_line: true,
        }
        .render(),
    );

    if !r.monthly.is_empty() {
        let unit = [("unit", u.as_str())];
        let _ = write!(
            h,
            "<h2>{}</h2><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>SEnPI</th><th>{}</th><th>{}</th></tr>",
            i18n::t(lang, "mvr-by-month"),
            i18n::t(lang, "mvr-month"),
            i18n::tr(lang, "mvr-col-actual", &unit),
            i18n::tr(lang, "mvr-col-adjusted", &unit),
            i18n::tr(lang, "mvr-col-savings", &unit),
            i18n::t(lang, "mvr-col-improvement"),
            i18n::tr(lang, "mvr-col-cumulative", &unit),
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
        "<h2>{}</h2><p>n = {}, parameters = {}, R² = {:.3}, adjusted R² = {:.3}, CV(RMSE) = {}, NMBE = {}, lag-1 autocorrelation = {:.2}{}.</p>",
        esc(&i18n::tr(lang, "mvr-model-title", &[("form", &m.form)])),
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
    let _ = write!(
        h,
        "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        i18n::t(lang, "mvr-term"),
        i18n::t(lang, "mvr-coefficient"),
        i18n::t(lang, "mvr-std-error"),
        i18n::t(lang, "mvr-p-value")
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
        let more = (m.coefficients.0.len() - shown).to_string();
        let _ = write!(
            h,
            "<tr><td colspan=\"4\">{}</td></tr>",
            i18n::tr(lang, "mvr-more-terms", &[("n", &more)])
        );
    }
    let _ = write!(
        h,
        "</table><table><tr><th>{}</th><th>{}</th><th>{}</th><th></th></tr>",
        i18n::t(lang, "mvr-check"),
        i18n::t(lang, "mvr-value"),
        i18n::t(lang, "mvr-needs")
    );
    let (pass, fail) = (i18n::t(lang, "mvr-pass"), i18n::t(lang, "mvr-fail"));
    for c in &m.checks {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(c.name),
            c.value.map(|v| format!("{v:.4}")).unwrap_or("—".into()),
            esc(&c.limit),
            if c.passed { "pass" } else { "fail" },
            if c.passed { &pass } else { &fail }
        );
    }
    let _ = write!(
        h,
        "</table><p><small>{}</small></p><table><tr><th>{}</th><th>{}</th><th>adjusted R²</th><th>CV(RMSE)</th><th>{}</th></tr>",
        esc(&i18n::t(lang, "mvr-candidates")),
        i18n::t(lang, "mvr-form"),
        i18n::t(lang, "mvr-parameters"),
        i18n::t(lang, "mvr-note")
    );
    let chosen = i18n::t(lang, "mvr-chosen");
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
                .unwrap_or(if c.selected { &chosen } else { "" }))
        );
    }
    let schema = r.schema.to_string();
    let method = i18n::tr(
        lang,
        "mvr-method",
        &[("version", env!("CARGO_PKG_VERSION")), ("schema", &schema)],
    );
    let _ = write!(
        h,
        "</table><p><small>{}</small></p></body></html>",
        esc(&method)
    );
    h
}

/// The placebo back-test: its false-positive rate beside the verdict, and each window.
fn placebo(h: &mut String, p: &super::report::Placebo, u: &str, lang: Language) {
    let _ = write!(h, "<h2>{}</h2><p>", i18n::t(lang, "mvr-placebo"));
    match p.false_positive_percent {
        Some(rate) => {
            let (verified, windows) = (p.verified.to_string(), p.windows.to_string());
            let (rate, nominal) = (format!("{rate:.0}"), format!("{:.0}", p.nominal_percent));
            let text = i18n::tr(
                lang,
                "mvr-placebo-rate",
                &[
                    ("verified", &verified),
                    ("windows", &windows),
                    ("rate", &rate),
                    ("nominal", &nominal),
                ],
            );
            h.push_str(&esc(&text));
        }
        None => h.push_str(&i18n::t(lang, "mvr-placebo-not-run")),
    }
    if let Some(note) = &p.note {
        let _ = write!(h, " {}", esc(note));
    }
    let _ = write!(
        h,
        "</p><table><tr><th>{}</th><th>{}</th><th>± 90 %</th><th>{}</th><th>{}</th></tr>",
        i18n::t(lang, "mvr-window"),
        i18n::t(lang, "mvr-savings-quoted"),
        i18n::t(lang, "mvr-status"),
        i18n::t(lang, "mvr-why")
    );
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
