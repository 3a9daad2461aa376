//! Reports people hand in: the monthly energy-management report and the annual greenhouse-gas
//! summary, as HTML (inline SVG charts, no script) in either language, printed to PDF by
//! headless Chromium; generated on demand (CLI, API) and on a schedule (stored, listed, mailed).
//!
//! source (the store: EnPI rows, baselines, alarms, M&V results) → transform (monthly, ghg:
//! figures in no language) → sink (monthly_html, ghg_html: HTML in a language; pdf: Chromium).

pub mod ghg;
pub mod ghg_html;
pub mod mail;
pub mod monthly;
pub mod monthly_html;
pub mod page;
pub mod pdf;
pub mod schedule;
pub mod seu;
pub mod svg;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReportError {
    /// The request cannot give a report (a 400 in the API, a usage error on the command line).
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

impl From<crate::baseline::BaselineError> for ReportError {
    fn from(e: crate::baseline::BaselineError) -> Self {
        match e {
            crate::baseline::BaselineError::Input(m) => Self::Input(m),
            crate::baseline::BaselineError::Invalid(m) => Self::Input(m.en()),
            crate::baseline::BaselineError::Store(s) => Self::Store(s),
        }
    }
}

/// What a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Monthly,
    Ghg,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::Monthly => "monthly",
            Kind::Ghg => "ghg",
        }
    }
}

/// `2026-11` → its first day.
pub fn parse_month(text: &str) -> Result<NaiveDate, ReportError> {
    NaiveDate::parse_from_str(&format!("{}-01", text.trim()), "%Y-%m-%d")
        .ok()
        .filter(|d| (1..=9999).contains(&d.year()))
        .ok_or_else(|| ReportError::Input(format!("`{text}` is not a month such as 2026-11")))
}

pub fn parse_year(text: &str) -> Result<i32, ReportError> {
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|y| (1970..=9999).contains(y))
        .ok_or_else(|| ReportError::Input(format!("`{text}` is not a year such as 2026")))
}

/// The plant-local month beginning on `first` as [from, to) in ms.
pub fn month_range(first: NaiveDate, tz: chrono_tz::Tz) -> Result<(i64, i64), ReportError> {
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| ReportError::Input("month out of range".into()))?;
    Ok((midnight(first, tz), midnight(next, tz)))
}

/// The instant plant-local `d` begins (the first existing local time, should DST skip it).
pub fn midnight(d: NaiveDate, tz: chrono_tz::Tz) -> i64 {
    (0..24)
        .find_map(|h| {
            tz.from_local_datetime(&d.and_time(NaiveTime::from_hms_opt(h, 0, 0)?))
                .earliest()
        })
        .map_or(0, |t| t.timestamp_millis())
}

pub(crate) fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The month before the one holding `now` at the plant: what the schedule reports on.
pub fn previous_month(now: DateTime<Utc>, tz: chrono_tz::Tz) -> NaiveDate {
    let today = now.with_timezone(&tz).date_naive();
    let first = today.with_day(1).unwrap_or(today);
    first
        .checked_sub_months(chrono::Months::new(1))
        .unwrap_or(first)
}

#[cfg(test)]
mod tests;

/// What to make of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Pdf,
}

impl Format {
    pub fn parse(text: &str) -> Result<Self, ReportError> {
        match text {
            "html" => Ok(Self::Html),
            "pdf" => Ok(Self::Pdf),
            other => Err(ReportError::Input(format!("`{other}` is not html or pdf"))),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Html => "html",
            Self::Pdf => "pdf",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Html => "text/html; charset=utf-8",
            Self::Pdf => "application/pdf",
        }
    }
}

/// A report to make: which, for what period, in which language and format.
#[derive(Debug, Clone)]
pub struct Request {
    pub kind: Kind,
    /// `2026-11` or `2026`.
    pub period: String,
    pub lang: crate::i18n::Language,
    pub format: Format,
}

/// Gathers and renders the HTML of `req` (blocking: reads the store).
pub fn html(
    store: &crate::store::Store,
    assets: &crate::enpi::Assets,
    review: &crate::review::ReviewSite,
    site_name: &str,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<String, ReportError> {
    let name = site_name;
    match req.kind {
        Kind::Monthly => {
            let month = parse_month(&req.period)?;
            let (from, to) = month_range(month, assets.timezone)?;
            let seu = seu::significant(store, review, assets, from, to);
            let m = monthly::gather(store, assets, name, month, now, seu)?;
            Ok(monthly_html::render(&m, req.lang))
        }
        Kind::Ghg => {
            let year = parse_year(&req.period)?;
            let g = ghg::gather(store, assets, name, year, now)?;
            Ok(ghg_html::render(&g, req.lang))
        }
    }
}
#[cfg(test)]
mod mail_tests;
#[cfg(test)]
mod schedule_tests;
