//! The optimiser's input: each billing month's highest 15-minute demand per contract kind, from
//! quarter-hour demand (the plant asset's incomers, as the EnPI engine computes it) or from a
//! CSV of monthly bill maxima.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate, TimeZone};
use serde::Serialize;

use crate::csvio::{CsvError, CsvProblem};
use crate::enpi::contract_bill::demand_by_kind;
use crate::enpi::tariff::Tariff;

/// One billing month: its first day, season and highest demand per contract kind
/// (`None`: the month has no period of that kind).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonthDemand {
    /// `YYYY-MM`.
    pub month: String,
    #[serde(skip)]
    pub season: usize,
    pub demand_kw: [Option<f64>; 4],
}

/// Monthly maxima from quarter-hour demand `(UTC ms, kW)`; quarters without a value are skipped.
pub fn from_quarters(
    t: &Tariff,
    tz: chrono_tz::Tz,
    quarters: impl IntoIterator<Item = (i64, f64)>,
) -> Vec<MonthDemand> {
    let periods = t.period_names().len();
    let mut by_month: BTreeMap<(i32, u32), Vec<Option<f64>>> = BTreeMap::new();
    for (ts, kw) in quarters {
        let Some(local) = tz
            .timestamp_millis_opt(ts)
            .single()
            .map(|t| t.naive_local())
        else {
            continue;
        };
        let (period, _) = t.classify(local);
        let row = by_month
            .entry((local.year(), local.month()))
            .or_insert_with(|| vec![None; periods]);
        row[period] = Some(row[period].map_or(kw, |x: f64| x.max(kw)));
    }
    by_month
        .into_iter()
        .map(|((y, m), row)| month(t, y, m, demand_by_kind(t, &row)))
        .collect()
}

fn month(t: &Tariff, y: i32, m: u32, demand_kw: [Option<f64>; 4]) -> MonthDemand {
    let first = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default();
    MonthDemand {
        month: format!("{y:04}-{m:02}"),
        season: t.season(first),
        demand_kw,
    }
}

/// Reads monthly bill maxima: a header `month` plus one column per tariff period named as the
/// tariff names it (e.g. `month,peak,half_peak,saturday_half_peak,off_peak`), kW; `month` is
/// `YYYY-MM`; an empty cell is a period without hours that month. Lines starting `#` are comments.
pub fn from_bills_csv(path: &Path, t: &Tariff) -> Result<Vec<MonthDemand>, CsvError> {
    let text = std::fs::read_to_string(path).map_err(|e| CsvError {
        file: path.display().to_string(),
        line: 0,
        column: "-".into(),
        message: e.to_string(),
        problem: CsvProblem::Unreadable {
            detail: e.to_string(),
        },
    })?;
    parse_bills(&text, &path.display().to_string(), t)
}

pub fn parse_bills(text: &str, file: &str, t: &Tariff) -> Result<Vec<MonthDemand>, CsvError> {
    let err = |line: u64, column: &str, message: String| CsvError {
        file: file.to_owned(),
        line,
        column: column.to_owned(),
        problem: CsvProblem::Other {
            detail: message.clone(),
        },
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| err(1, "-", e.to_string()))?
        .iter()
        .map(str::to_ascii_lowercase)
        .collect();
    let names = t.period_names();
    let c_month = headers.iter().position(|h| h == "month").ok_or_else(|| {
        let problem = CsvProblem::MissingColumn {
            header: headers.clone(),
        };
        CsvError {
            file: file.to_owned(),
            line: 1,
            column: "month".into(),
            message: problem.english(),
            problem,
        }
    })?;
    // Column index → tariff period index.
    let mut cols = Vec::new();
    for (c, h) in headers.iter().enumerate() {
        if c == c_month {
            continue;
        }
        let p = names.iter().position(|n| n == h).ok_or_else(|| {
            err(
                1,
                h,
                format!(
                    "not a period of tariff `{}` (its periods: {})",
                    t.name,
                    names.join(", ")
                ),
            )
        })?;
        cols.push((c, p));
    }
    if cols.is_empty() {
        return Err(err(
            1,
            "-",
            format!(
                "no demand column: add one per period ({})",
                names.join(", ")
            ),
        ));
    }
    let mut out: Vec<MonthDemand> = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(i as u64 + 2, |p| p.line());
            err(line, "-", e.to_string())
        })?;
        let line = rec.position().map_or(i as u64 + 2, |p| p.line());
        let m = rec.get(c_month).unwrap_or("");
        let first = NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
            .map_err(|_| err(line, "month", format!("`{m}` is not a month (YYYY-MM)")))?;
        let mut row = vec![None; names.len()];
        for &(c, p) in &cols {
            let cell = rec.get(c).unwrap_or("");
            if cell.is_empty() {
                continue;
            }
            let kw: f64 = cell
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| {
                    err(
                        line,
                        &headers[c],
                        format!("`{cell}` is not a demand in kW (a number, 0 or more)"),
                    )
                })?;
            row[p] = Some(kw);
        }
        let md = month(t, first.year(), first.month(), demand_by_kind(t, &row));
        if out.iter().any(|o| o.month == md.month) {
            return Err(err(line, "month", format!("{} appears twice", md.month)));
        }
        out.push(md);
    }
    out.sort_by(|a, b| a.month.cmp(&b.month));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HV: &str = include_str!("../../../seeds/tariffs/example-hv-three-period.toml");

    #[test]
    fn bills_csv_reads_periods_and_names_bad_cells() {
        let t = Tariff::parse(HV).unwrap();
        let text = "month,peak,half_peak,saturday_half_peak,off_peak\n\
                    # a comment\n\
                    2026-07,510,520.5,300,450\n\
                    2026-01,,480,310,\n";
        let m = parse_bills(text, "bills.csv", &t).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].month, "2026-01");
        assert_eq!(m[0].demand_kw, [None, Some(480.0), Some(310.0), None]);
        assert_eq!(
            m[0].season,
            t.season(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())
        );
        assert_eq!(
            m[1].demand_kw,
            [Some(510.0), Some(520.5), Some(300.0), Some(450.0)]
        );
        assert_eq!(
            m[1].season,
            t.season(NaiveDate::from_ymd_opt(2026, 7, 1).unwrap())
        );
        assert_ne!(m[0].season, m[1].season);

        let bad = |text: &str| parse_bills(text, "bills.csv", &t).unwrap_err().to_string();
        assert_eq!(
            bad("month,peak\n2026-07,abc\n"),
            "bills.csv:2: column `peak`: `abc` is not a demand in kW (a number, 0 or more)"
        );
        assert!(bad("month,shoulder\n").starts_with("bills.csv:1: column `shoulder`: not a period"));
        assert!(bad("peak\n1\n").starts_with("bills.csv:1: column `month`: missing column"));
        assert!(bad("month,peak\n2026-13,5\n").starts_with("bills.csv:2: column `month`"));
        assert!(bad("month,peak\n2026-07,5\n2026-07,6\n").contains("appears twice"));
        assert!(bad("month,peak\n2026-07,-5\n").contains("column `peak`"));
    }

    #[test]
    fn quarters_become_monthly_maxima_per_kind() {
        let t = Tariff::parse(HV).unwrap();
        let tz = chrono_tz::Asia::Taipei;
        let at = |s: &str| {
            tz.from_local_datetime(
                &chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap(),
            )
            .unwrap()
            .timestamp_millis()
        };
        let m = from_quarters(
            &t,
            tz,
            [
                (at("2026-07-15 17:00"), 400.0), // peak
                (at("2026-07-15 17:15"), 420.0), // peak
                (at("2026-07-15 10:00"), 380.0), // half-peak
                (at("2026-07-18 10:00"), 300.0), // Saturday half-peak
                (at("2026-07-19 10:00"), 350.0), // Sunday: off-peak
                (at("2026-08-03 03:00"), 200.0), // off-peak, next month
            ],
        );
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0].demand_kw,
            [Some(420.0), Some(380.0), Some(300.0), Some(350.0)]
        );
        assert_eq!(m[1].demand_kw, [None, None, None, Some(200.0)]);
    }
}
