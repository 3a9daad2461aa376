//! A plan's guarantee report: self-contained HTML (the `mv` report's style, Traditional
//! Chinese labels beside English) and the CLI's plain text.

use std::fmt::Write;

use super::guarantee::{fmt_confidence, MonthRow, PlanStatus, YearStatus};
use super::html_text::{esc, STYLE};
use super::plan::Guarantee;

fn num(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.0}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:.1} %", v))
}

/// The guarantee as a phrase.
pub fn guarantee_text(g: Guarantee) -> String {
    match g {
        Guarantee::Percent(p) => format!("{p} % of the adjusted baseline"),
        Guarantee::KwhPerYear(k) => format!("{k:.0} kWh per contract year"),
    }
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

/// The whole page.
pub fn render(p: &PlanStatus) -> String {
    let title = p.name.clone().unwrap_or_else(|| p.id.clone());
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"zh-Hant\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>M&amp;V plan 節能績效保證 — {t}</title><style>{STYLE}</style></head><body><h1>M&amp;V plan 節能績效保證: {t}</h1>",
        t = esc(&title)
    );
    let _ = write!(
        h,
        "<div class=\"verdict {}\">{}: {}</div>",
        status_class(p.status),
        esc(p.status),
        esc(&p.explanation)
    );
    let _ = write!(
        h,
        "<table><tr><th>Measure 節能措施</th><td>{}</td></tr><tr><th>Boundary 量測邊界</th><td>{}</td></tr><tr><th>Baseline 基線期</th><td>{}</td></tr><tr><th>Reporting from 報告期起</th><td>{}</td></tr><tr><th>Guarantee 保證節能</th><td>{}</td></tr><tr><th>Contract 合約年限</th><td>{} years 年, billing day 計費日 {}</td></tr></table>",
        esc(p.measure.as_deref().unwrap_or("—")),
        esc(&p.boundary),
        esc(&p.baseline),
        esc(&p.reporting_start),
        esc(&guarantee_text(p.guarantee)),
        p.contract_years,
        p.billing_day
    );
    h.push_str("<h2>By contract year 合約年度</h2><table><tr><th>Year 年度</th><th>Through 計至</th><th>Savings 節能量 kWh</th><th>Guarantee 保證節能 kWh</th><th>Shortfall 差額 kWh</th><th>Shortfall 差額金額</th><th>Confidence 信心水準</th><th>Status 狀態</th></tr>");
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
            esc(y.status)
        );
    }
    h.push_str("</table><ul class=\"warn\">");
    for y in p.years.iter().filter(|y| y.through.is_some()) {
        let _ = write!(h, "<li>Year {}: {}</li>", y.year, esc(&y.explanation));
    }
    h.push_str("</ul><h2>By billing month 計費月份</h2><table><tr><th>Month 月份</th><th>Actual 實際 kWh</th><th>Adjusted baseline 調整基線 kWh</th><th>Savings 節能量 kWh</th><th>Savings 節能率</th><th>± 90 %</th><th>Verdict 判定</th></tr>");
    for m in &p.months {
        month_row(&mut h, m);
    }
    h.push_str("</table><p><small>Confidence that the guarantee is met: P(true savings ≥ guarantee) with the savings normal around the reported value and standard error U<sub>90</sub> / t(0.95, n − p) (ASHRAE Guideline 14). A guarantee is not called met unless the savings are verified.</small></p></body></html>");
    h
}

fn month_row(h: &mut String, m: &MonthRow) {
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
        esc(&r.verdict)
    );
}

/// The CLI's summary.
pub fn text(p: &PlanStatus) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{}{}: {} ({}; guarantee {}, {} years from {})",
        p.id,
        p.name
            .as_deref()
            .map_or(String::new(), |n| format!(" ({n})")),
        p.status,
        p.boundary,
        guarantee_text(p.guarantee),
        p.contract_years,
        p.reporting_start
    );
    let _ = writeln!(t, "  {}", p.explanation);
    for y in p.years.iter().filter(|y| y.through.is_some()) {
        let _ = writeln!(
            t,
            "  year {} to {}: saved {} kWh, guaranteed {} kWh, shortfall {} kWh{}, confidence {}: {}",
            y.year,
            y.through.as_deref().unwrap_or(""),
            num(y.avoided_kwh),
            num(y.guarantee_kwh),
            num(y.shortfall_kwh),
            y.shortfall_money
                .map_or(String::new(), |_| format!(" ({})", money(y))),
            y.confidence.map_or("—".into(), fmt_confidence),
            y.status
        );
    }
    for m in &p.months {
        let r = &m.result;
        let _ = writeln!(
            t,
            "    {}..{}: saved {} kWh ({}) — {}",
            r.from,
            r.to,
            if r.error.is_some() {
                "—".into()
            } else {
                format!("{:.0}", r.avoided)
            },
            pct(r.percent),
            r.verdict
        );
    }
    t
}
