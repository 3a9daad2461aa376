//! CSV import and export of series: production logs, utility bills, data from other systems in;
//! any series, raw or rolled up, out.
//!
//! Import format (a header row, columns in any order, names case-insensitive):
//! `ts,device,quantity,value[,unit][,site]`. `ts` is RFC 3339 (`2026-03-01T08:00:00+08:00`) or a
//! plant-local `YYYY-MM-DD HH:MM[:SS]` / `YYYY-MM-DD` in the site's time zone; `unit` defaults to
//! the quantity's canonical unit and is converted otherwise; `site` defaults to the site file's.
//! Every problem names the file, the line and the column. Imported rows go through the same
//! store path as MQTT readings (upsert, rollups, InfluxDB outbox), so importing twice is harmless.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use kilowatch_site::payload::{DevicePoll, Quality, Reading, SCHEMA_VERSION};
use kilowatch_site::vocab;
use thiserror::Error;

use crate::store::{Incoming, Store};

#[derive(Debug, Error)]
#[error("{file}:{line}: column `{column}`: {message}")]
pub struct CsvError {
    pub file: String,
    pub line: u64,
    pub column: String,
    /// The problem in English (what `Display` shows).
    pub message: String,
    /// The kind of problem, for saying it in the reader's language.
    pub problem: CsvProblem,
}

/// The kinds of problem an import meets; `detail` is another library's text (the CSV reader's,
/// the time or unit parser's), shown quoted.
#[derive(Debug, Clone, PartialEq)]
pub enum CsvProblem {
    /// The file cannot be opened or a row cannot be read.
    Unreadable { detail: String },
    /// A required column is not in the header.
    MissingColumn { header: Vec<String> },
    /// The time cell is not a time.
    BadTime { detail: String },
    /// The device cell is empty.
    EmptyDevice,
    /// The quantity cell names no known quantity.
    BadQuantity { detail: String },
    /// The value cell is not a finite number.
    NotANumber { value: String },
    /// The unit cell cannot be converted to the quantity's unit.
    BadUnit { detail: String },
    /// Any other problem, known only in English.
    Other { detail: String },
}

impl CsvProblem {
    /// The problem in English, as the catalogue's English says it.
    pub fn english(&self) -> String {
        match self {
            CsvProblem::Unreadable { detail }
            | CsvProblem::BadTime { detail }
            | CsvProblem::BadQuantity { detail }
            | CsvProblem::BadUnit { detail }
            | CsvProblem::Other { detail } => detail.clone(),
            CsvProblem::MissingColumn { header } => {
                format!("missing column (the header has: {})", header.join(", "))
            }
            CsvProblem::EmptyDevice => "empty".to_owned(),
            CsvProblem::NotANumber { value } => format!("`{value}` is not a number"),
        }
    }
}

/// Reads a CSV file into polls (one per device and timestamp), checking every cell.
pub fn read_polls(
    path: &Path,
    default_site: &str,
    tz: chrono_tz::Tz,
) -> Result<Vec<DevicePoll>, CsvError> {
    let file = path.display().to_string();
    let err = |line: u64, column: &str, problem: CsvProblem| CsvError {
        file: file.clone(),
        line,
        column: column.to_owned(),
        message: problem.english(),
        problem,
    };
    let unreadable = |detail: String| CsvProblem::Unreadable { detail };
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_path(path)
        .map_err(|e| err(0, "-", unreadable(e.to_string())))?;
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| err(1, "-", unreadable(e.to_string())))?
        .iter()
        .map(str::to_ascii_lowercase)
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let need = |name: &str| {
        col(name).ok_or_else(|| {
            err(
                1,
                name,
                CsvProblem::MissingColumn {
                    header: headers.clone(),
                },
            )
        })
    };
    let (c_ts, c_device, c_quantity, c_value) = (
        need("ts")?,
        need("device")?,
        need("quantity")?,
        need("value")?,
    );
    let (c_unit, c_site) = (col("unit"), col("site"));
    let mut polls: BTreeMap<(String, String, i64), DevicePoll> = BTreeMap::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(i as u64 + 2, |p| p.line());
            err(line, "-", unreadable(e.to_string()))
        })?;
        let line = rec.position().map_or(i as u64 + 2, |p| p.line());
        let cell = |c: usize| rec.get(c).unwrap_or("");
        let ts = crate::when::instant(cell(c_ts), tz)
            .map_err(|detail| err(line, "ts", CsvProblem::BadTime { detail }))?;
        let device = cell(c_device).to_owned();
        if device.is_empty() {
            return Err(err(line, "device", CsvProblem::EmptyDevice));
        }
        let quantity = vocab::quantity(cell(c_quantity)).map_err(|e| {
            err(
                line,
                "quantity",
                CsvProblem::BadQuantity {
                    detail: e.to_string(),
                },
            )
        })?;
        let value: f64 = cell(c_value)
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| {
                err(
                    line,
                    "value",
                    CsvProblem::NotANumber {
                        value: cell(c_value).to_owned(),
                    },
                )
            })?;
        let value = match c_unit.map(cell).filter(|u| !u.is_empty()) {
            None => value,
            Some(u) => vocab::convert(value, u, quantity.unit).map_err(|e| {
                err(
                    line,
                    "unit",
                    CsvProblem::BadUnit {
                        detail: e.to_string(),
                    },
                )
            })?,
        };
        let site = c_site
            .map(cell)
            .filter(|s| !s.is_empty())
            .unwrap_or(default_site)
            .to_owned();
        let poll = polls
            .entry((site.clone(), device.clone(), ts.timestamp_millis()))
            .or_insert_with(|| DevicePoll {
                version: SCHEMA_VERSION,
                site,
                device,
                seq: 0,
                ts,
                readings: Vec::new(),
            });
        poll.readings.retain(|r| r.quantity != quantity.name);
        poll.readings.push(Reading {
            quantity: quantity.name.into(),
            value: Some(value),
            unit: quantity.unit.into(),
            quality: Quality::Good,
        });
    }
    Ok(polls.into_values().collect())
}

/// Imports a CSV file into the store in batches, with a progress bar on a terminal.
pub fn import(
    store: &mut Store,
    polls: Vec<DevicePoll>,
) -> Result<usize, crate::store::StoreError> {
    let bar = indicatif::ProgressBar::new(polls.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("importing {bar:40} {pos}/{len} rows {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut samples = 0;
    for chunk in polls.chunks(2000) {
        let batch: Vec<Incoming> = chunk.iter().cloned().map(Incoming::Poll).collect();
        samples += store.write(&batch)?.samples;
        bar.inc(chunk.len() as u64);
    }
    while store.refresh_rollups(5000)? > 0 {}
    bar.finish_and_clear();
    Ok(samples)
}

/// Writes one series as CSV: raw samples (`res` 0) or rollups.
pub fn export(
    store: &Store,
    series: &crate::store::SeriesInfo,
    from: i64,
    to: i64,
    res: i64,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let mut w = csv::Writer::from_writer(out);
    let points = store.query(series.id, from, to, res)?;
    if res == 0 {
        w.write_record(["ts", "site", "device", "quantity", "value", "unit"])?;
        for p in &points {
            w.write_record([
                p.ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                series.site.clone(),
                series.device.clone(),
                series.quantity.clone(),
                p.agg.avg.map(|v| v.to_string()).unwrap_or_default(),
                series.unit.clone(),
            ])?;
        }
    } else {
        w.write_record([
            "ts", "site", "device", "quantity", "unit", "count", "avg", "min", "max", "delta",
            "integral", "gaps", "resets",
        ])?;
        let f = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        for p in &points {
            let a = &p.agg;
            w.write_record([
                p.ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                series.site.clone(),
                series.device.clone(),
                series.quantity.clone(),
                series.unit.clone(),
                a.count.to_string(),
                f(a.avg),
                f(a.min),
                f(a.max),
                f(a.delta),
                f(a.integral),
                a.gaps.to_string(),
                a.resets.to_string(),
            ])?;
        }
    }
    w.flush()?;
    Ok(points.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("kw-csv-{name}-{}.csv", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_local_times_converts_units_and_groups_polls() {
        let tz: chrono_tz::Tz = "Asia/Taipei".parse().unwrap();
        let p = write(
            "ok",
            "# production log\nts,device,quantity,value,unit\n\
             2026-03-02 08:00,line-1,production_count,120,\n\
             2026-03-02 08:00,line-1,active_power,45000,W\n\
             2026-03-02T01:00:00Z,line-1,production_count,250,count\n",
        );
        let polls = read_polls(&p, "plant", tz).unwrap();
        assert_eq!(polls.len(), 2);
        assert_eq!(polls[0].ts.to_rfc3339(), "2026-03-02T00:00:00+00:00");
        let kw = polls[0]
            .readings
            .iter()
            .find(|r| r.quantity == "active_power")
            .unwrap();
        assert_eq!((kw.value, kw.unit.as_ref()), (Some(45.0), "kW"));
        assert_eq!(polls[1].readings[0].value, Some(250.0));
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let tz = chrono_tz::UTC;
        let cases = [
            ("ts,device,quantity,value\n2026-03-02,a,flux,1\n", ":2: column `quantity`"),
            ("ts,device,quantity,value\n2026-03-02,a,active_power,1\nyesterday,a,active_power,2\n", ":3: column `ts`"),
            ("ts,device,quantity,value\n2026-03-02,a,active_power,lots\n", ":2: column `value`"),
            ("ts,device,quantity,value,unit\n2026-03-02,a,active_power,1,bar\n", ":2: column `unit`"),
            ("time,device,quantity,value\n", ":1: column `ts`: missing column"),
            ("ts,device,quantity,value\n2026-03-02,a,active_power\n", ":2: column `-`"),
        ];
        for (i, (text, want)) in cases.iter().enumerate() {
            let p = write(&format!("bad{i}"), text);
            let e = read_polls(&p, "s", tz).unwrap_err().to_string();
            assert!(e.contains(want), "{e} should contain {want}");
            assert!(e.starts_with(&p.display().to_string()), "{e}");
        }
    }

    /// The sample CSVs shipped in seeds/ import cleanly.
    #[test]
    fn shipped_samples_import() {
        let tz: chrono_tz::Tz = "Asia/Taipei".parse().unwrap();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../seeds/samples");
        for (file, polls) in [("production-log.csv", 62), ("utility-bill.csv", 13)] {
            let p = std::path::Path::new(dir).join(file);
            let got = read_polls(&p, "demo-plant", tz).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(got.len(), polls, "{file}");
        }
    }

    /// Tariffs and emission factors are data: each file parses and has what the cost and
    /// carbon figures need.
    #[test]
    fn shipped_tariffs_and_emission_factors_parse() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../seeds");
        for t in ["example-hv-three-period", "example-lv-two-period"] {
            let text = std::fs::read_to_string(format!("{dir}/tariffs/{t}.toml")).unwrap();
            let v: toml::Table = toml::from_str(&text).unwrap();
            for key in [
                "name",
                "seasons",
                "periods",
                "energy",
                "basic",
                "over_contract",
                "power_factor",
            ] {
                assert!(v.contains_key(key), "{t}: {key}");
            }
            let periods = v["periods"].as_array().unwrap();
            for p in periods {
                let name = p["name"].as_str().unwrap();
                assert!(
                    v["energy"].get(name).is_some(),
                    "{t}: no energy rate for {name}"
                );
            }
        }
        let text = std::fs::read_to_string(format!("{dir}/emission-factors.toml")).unwrap();
        let v: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(v["factors"]["2023"].as_float(), Some(0.494));
    }
}
