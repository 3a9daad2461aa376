//! Numbers and dates as each language writes them. Both group thousands with `,` and use `.`
//! for decimals (as `Intl.NumberFormat` does for en and zh-TW); dates differ.

use chrono::{Datelike, NaiveDate};

use super::Language;

/// `v` with `decimals` places and grouped thousands; `—` for a value that is not a number.
pub fn number_fixed(_lang: Language, v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(i, f)| (i, f));
    let mut out = String::new();
    if v < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// `v` with as many decimals as its size warrants (0 from 1000, 1 from 100, 2 from 1, else 3),
/// as the dashboard shows figures.
pub fn number(lang: Language, v: f64) -> String {
    let a = v.abs();
    let decimals = if a >= 1000.0 {
        0
    } else if a >= 100.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        3
    };
    number_fixed(lang, v, decimals)
}

/// A calendar date: `2026-11-30` in English (unambiguous in a report read abroad),
/// `2026年11月30日` in Chinese.
pub fn date(lang: Language, d: NaiveDate) -> String {
    match lang {
        Language::English => d.format("%Y-%m-%d").to_string(),
        Language::TraditionalChinese => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
    }
}
