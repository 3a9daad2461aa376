//! The printed page every report shares: the document shell, its print style (A4, fonts that
//! hold both Latin and Traditional Chinese glyphs) and small formatting helpers.

use std::fmt::Write;

use crate::i18n::{self, Language};

pub(crate) use crate::mv::html_text::esc;

/// Print style: A4 with margins, tables that do not split a row across pages. The CJK font
/// families come first for zh-TW so Chromium never falls back to a font without the glyphs.
const STYLE: &str = "
@page { size: A4; margin: 14mm 12mm; }
body { font-family: var(--fonts); font-size: 10.5pt; color: #1b1f24; margin: 0; }
h1 { font-size: 17pt; margin: 0 0 2mm; }
h2 { font-size: 12.5pt; margin: 6mm 0 2mm; border-bottom: 1px solid #9aa5b1; padding-bottom: 1mm; break-after: avoid; }
p.meta { color: #52606d; margin: 0 0 1mm; }
p.note { color: #52606d; font-size: 9pt; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 2mm; }
th, td { border-bottom: 1px solid #d9e2ec; padding: 1.2mm 1.5mm; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr { break-inside: avoid; }
tr.total td { font-weight: bold; border-top: 1px solid #52606d; }
.kpis { display: flex; flex-wrap: wrap; gap: 3mm; margin: 2mm 0; }
.kpi { border: 1px solid #d9e2ec; border-radius: 2mm; padding: 2mm 3mm; min-width: 38mm; }
.kpi b { display: block; font-size: 13pt; }
.kpi span { color: #52606d; font-size: 9pt; }
.bad { color: #b42318; } .good { color: #027a48; }
svg { display: block; margin: 1mm 0 2mm; }
";

const FONTS_LATIN: &str = "\"DejaVu Sans\", \"Liberation Sans\", Arial, \"Noto Sans CJK TC\", \"Noto Sans TC\", \"WenQuanYi Micro Hei\", sans-serif";
const FONTS_CJK: &str = "\"Noto Sans CJK TC\", \"Noto Sans TC\", \"WenQuanYi Micro Hei\", \"AR PL UMing TW\", \"DejaVu Sans\", sans-serif";

/// A whole document: `title` in the head and as the heading, then `body`.
pub fn document(lang: Language, title: &str, body: &str) -> String {
    let fonts = match lang {
        Language::English => FONTS_LATIN,
        Language::TraditionalChinese => FONTS_CJK,
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"{tag}\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>:root {{ --fonts: {fonts}; }}{STYLE}</style></head><body><h1>{t}</h1>{body}</body></html>\n",
        tag = lang.tag(),
        t = esc(title),
    )
}

/// A number as the language writes it, or `—` with the reason as a tooltip.
pub fn num_or(lang: Language, v: Result<f64, &str>, decimals: usize) -> String {
    match v {
        Ok(x) => i18n::number_fixed(lang, x, decimals),
        Err(why) => format!("<span title=\"{}\">—</span>", esc(why)),
    }
}

pub fn opt(lang: Language, v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "—".into(), |x| i18n::number_fixed(lang, x, decimals))
}

/// A table row of cells; cells starting with `#` are numbers (right-aligned, the `#` dropped).
pub fn row(h: &mut String, cells: &[String]) {
    h.push_str("<tr>");
    for c in cells {
        match c.strip_prefix('#') {
            Some(n) => {
                let _ = write!(h, "<td class=\"n\">{n}</td>");
            }
            None => {
                let _ = write!(h, "<td>{c}</td>");
            }
        }
    }
    h.push_str("</tr>");
}

/// A header row; names starting with `#` head number columns.
pub fn head(h: &mut String, lang: Language, keys: &[&str]) {
    h.push_str("<table><tr>");
    for k in keys {
        match k.strip_prefix('#') {
            Some(k) => {
                let _ = write!(h, "<th class=\"n\">{}</th>", esc(&i18n::t(lang, k)));
            }
            None => {
                let _ = write!(h, "<th>{}</th>", esc(&i18n::t(lang, k)));
            }
        }
    }
    h.push_str("</tr>");
}

/// A headline figure.
pub fn kpi(h: &mut String, label: &str, value: &str, unit: &str) {
    let _ = write!(
        h,
        "<div class=\"kpi\"><span>{}</span><b>{value} {}</b></div>",
        esc(label),
        esc(unit)
    );
}

/// The month as the language names it: `2026-11`, `2026年11月`.
pub fn month_name(lang: Language, d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    i18n::tr(
        lang,
        "rep-month-value",
        &[
            ("year", &d.year().to_string()),
            ("month", &format!("{:02}", d.month())),
        ],
    )
}

/// A time-of-use period's name in `lang` (尖峰, 半尖峰, 離峰), else as the tariff gives it.
pub fn period_name(lang: Language, name: &str) -> String {
    let key = match name {
        "peak" => "tou-peak",
        "half_peak" => "tou-half-peak",
        "saturday_half_peak" => "tou-saturday-half-peak",
        "off_peak" => "tou-off-peak",
        _ => return name.to_owned(),
    };
    i18n::t(lang, key)
}
