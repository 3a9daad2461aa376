//! A plan's guarantee report: self-contained HTML (the `mv` report's style) and the CLI's
//! plain text, in the reader's language.

use std::fmt::Write;

use super::guarantee::{fmt_confidence, MonthRow, PlanStatus, YearStatus};
use super::html_text::{esc, STYLE};
use super::plan::Guarantee;
use super::plan_eval::PeriodResult;
use crate::i18n::{self, Language};

fn num(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.0}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:.1} %", v))
}

/// The guarantee as a phrase.
pub fn guarantee_text(g: Guarantee, lang: Language) -> String {
    match g {
        Guarantee::Percent(p) => i18n::tr(
            lang,
            "planr-guarantee-percent",
            &[("percent", &p.to_string())],
        ),
        Guarantee::KwhPerYear(k) => {
            i18n::tr(lang, "planr-guarantee-kwh", &[("kwh", &format!("{k:.0}"))])
        }
    }
}

/// A guarantee status (`met`, `on track`, …) in `lang`.
pub fn status_text(status: &str, lang: Language) -> String {
    let key = match status {
        "met" => "plan-status-met",
        "shortfall" => "plan-status-shortfall",
        "on track" => "plan-status-on-track",
        "behind" => "plan-status-behind",
        "not established" => "plan-status-not-established",
        "pending" => "plan-status-pending",
        other => return other.to_owned(),
    };
    i18n::t(lang, key)
}

fn status_class(status: &str) -> &'static str {
    match status {
        "met" | "on track" => "ok",
        _ => "no",
    }
}

fn money(y: &YearStatus) -> String {
    match y.shortfall_money {
        Some(m) => format!("{m:.0} {}", y.currency.as_deref().unwrap_or("")),
        None => "—".into(),
    }
}

/// A month's verdict in `lang` (results stored before messages were: their English).
fn verdict(r: &PeriodResult, lang: Language) -> String {
    i18n::stored_or(r.verdict_message.as_ref(), &r.verdict, lang)
}

/// The whole page in `lang`.
pub fn render(p: &PlanStatus, lang: Language) -> String {
    let t = |k: &str| i18n::t(lang, k);
    let name = p.name.clone().unwrap_or_else(|| p.id.clone());
    let title = esc(&i18n::tr(lang, "planr-title", &[("plan", &name)]));
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"{tag}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{title}</title><style>{STYLE}</style></head><body><h1>{title}</h1>",
        tag = lang.tag()
    );
    let _ = write!(
        h,
        "<div class=\"verdict {}\">{}: {}</div>",
        status_class(p.status),
        esc(&status_text(p.status, lang)),
        esc(&p.explanation_message.render(lang))
    );
    let contract = i18n::tr(
        lang,
        "planr-contract-years",
        &[
            ("years", &p.contract_years.to_string()),
            ("day", &p.billing_day.to_string()),
        ],
    );
    let _ = write!(
        h,
        "<table><tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr></table>",
        t("planr-measure"),
        esc(p.measure.as_deref().unwrap_or("—")),
        t("planr-boundary"),
        esc(&p.boundary),
        t("planr-baseline"),
        esc(&p.baseline),
        t("planr-reporting-from"),
        esc(&p.reporting_start),
        t("planr-guarantee"),
        esc(&guarantee_text(p.guarantee, lang)),
        t("planr-contract"),
        esc(&contract),
    );
    let _ = write!(h, "<h2>{}</h2><table><tr>", t("planr-by-year"));
    for k in [
        "planr-year",
        "planr-through",
        "planr-savings-kwh",
        "planr-guarantee-kwh-col",
        "planr-shortfall-kwh",
        "planr-shortfall-money",
        "planr-confidence",
        "planr-status",
    ] {
        let _ = write!(h, "<th>{}</th>", t(k));
    }
    h.push_str("</tr>");
    for y in &p.years {
        let _ = write!(
            h,
            "<tr><td>{} ({} – {})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            y.year,
            esc(&y.from),
            esc(&y.to),
            esc(y.through.as_deref().unwrap_or("—")),
            num(y.avoided_kwh),
            num(y.guarantee_kwh),
            num(y.shortfall_kwh),
            esc(&money(y)),
            y.confidence.map_or("—".into(), fmt_confidence),
            if matches!(y.status, "met" | "on track") { "pass" } else { "fail" },
            esc(&status_text(y.status, lang))
        );
    }
    h.push_str("</table><ul class=\"warn\">");
    for y in p.years.iter().filter(|y| y.through.is_some()) {
        let line = i18n::tr(
            lang,
            "planr-year-line",
            &[
                ("year", &y.year.to_string()),
                ("text", &y.explanation_message.render(lang)),
            ],
        );
        let _ = write!(h, "<li>{}</li>", esc(&line));
    }
    let _ = write!(h, "</ul><h2>{}</h2><table><tr>", t("planr-by-month"));
    for k in [
        "planr-month",
        "planr-actual-kwh",
        "planr-adjusted-kwh",
        "planr-savings-kwh",
        "planr-savings-pct",
    ] {
        let _ = write!(h, "<th>{}</th>", t(k));
    }
    let _ = write!(h, "<th>± 90 %</th><th>{}</th></tr>", t("planr-verdict"));
    for m in &p.months {
        month_row(&mut h, m, lang);
    }
    let _ = write!(
        h,
        "</table><p><small>{}</small></p></body></html>",
        esc(&t("planr-method"))
    );
    h
}

fn month_row(h: &mut String, m: &MonthRow, lang: Language) {
    let r = &m.result;
    let _ = write!(
        h,
        "<tr><td>{} – {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        esc(&r.from),
        esc(&r.to),
        if r.error.is_some() { "—".into() } else { format!("{:.0}", r.actual) },
        num(r.adjusted_baseline),
        if r.error.is_some() { "—".into() } else { format!("{:.0}", r.avoided) },
        pct(r.percent),
        num(r.uncertainty_90),
        esc(&verdict(r, lang))
    );
}

/// The CLI's summary in `lang`.
pub fn text(p: &PlanStatus, lang: Language) -> String {
    let mut out = String::new();
    let plan = format!(
        "{}{}",
        p.id,
        p.name
            .as_deref()
            .map_or(String::new(), |n| format!(" ({n})"))
    );
    let head = i18n::tr(
        lang,
        "planr-cli-head",
        &[
            ("plan", &plan),
            ("status", &status_text(p.status, lang)),
            ("boundary", &p.boundary),
            ("guarantee", &guarantee_text(p.guarantee, lang)),
            ("years", &p.contract_years.to_string()),
            ("from", &p.reporting_start),
        ],
    );
    let _ = writeln!(out, "{head}");
    let _ = writeln!(out, "  {}", p.explanation_message.render(lang));
    for y in p.years.iter().filter(|y| y.through.is_some()) {
        let line = i18n::tr(
            lang,
            "planr-cli-year",
            &[
                ("year", &y.year.to_string()),
                ("through", y.through.as_deref().unwrap_or("")),
                ("saved", &num(y.avoided_kwh)),
                ("guaranteed", &num(y.guarantee_kwh)),
                ("short", &num(y.shortfall_kwh)),
                (
                    "money",
                    &y.shortfall_money
                        .map_or(String::new(), |_| format!(" ({})", money(y))),
                ),
                (
                    "confidence",
                    &y.confidence.map_or("—".into(), fmt_confidence),
                ),
                ("status", &status_text(y.status, lang)),
            ],
        );
        let _ = writeln!(out, "  {line}");
    }
    for m in &p.months {
        let r = &m.result;
        let saved = if r.error.is_some() {
            "—".into()
        } else {
            format!("{:.0}", r.avoided)
        };
        let line = i18n::tr(
            lang,
            "planr-cli-month",
            &[
                ("from", &r.from),
                ("to", &r.to),
                ("saved", &saved),
                ("pct", &pct(r.percent)),
                ("verdict", &verdict(r, lang)),
            ],
        );
        let _ = writeln!(out, "    {line}");
    }
    out
}
