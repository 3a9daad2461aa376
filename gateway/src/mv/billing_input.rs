//! Where billing-period M&V data comes from: a utility-bill CSV (meter register readings on read
//! dates, or one row per bill) and daily mean outdoor temperatures (a CSV or the store).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};

use super::frame::{parse_instant, Zone};
use crate::enpi::assets::{Assets, SeriesRef};
use crate::enpi::inputs::{Grid, Loader, QUARTER_MS};
use crate::store::Store;

/// One billing period [from, to): the energy used between two meter reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    pub from: i64,
    pub to: i64,
    pub usage: f64,
}

/// The bills of one meter, in time order, in kWh.
#[derive(Debug, Clone)]
pub struct Bills {
    pub zone: Zone,
    pub bills: Vec<Bill>,
    /// What was read, for the report.
    pub source: String,
}

/// Daily mean outdoor temperature by local date.
pub type DailyTemps = BTreeMap<NaiveDate, f64>;

fn naive(t: &str) -> Option<NaiveDateTime> {
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(Default::default()))
    })
}

/// An instant: with an offset as given, otherwise local in `zone`.
fn instant(t: &str, zone: Zone) -> Option<i64> {
    let t = t.trim();
    parse_instant(t)
        .map(|(ms, _)| ms)
        .or_else(|| naive(t).map(|l| zone.instant(l)))
}

fn number(t: &str) -> Option<f64> {
    t.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// kWh per one of `unit`.
fn to_kwh(unit: &str) -> Option<f64> {
    match unit.trim() {
        "" | "kWh" | "kwh" => Some(1.0),
        "Wh" | "wh" => Some(1e-3),
        "MWh" | "mwh" => Some(1e3),
        _ => None,
    }
}

struct Table {
    file: String,
    headers: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    fn read(path: &Path) -> Result<Self, String> {
        let file = path.display().to_string();
        let mut rdr = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .flexible(false)
            .from_path(path)
            .map_err(|e| format!("{file}: {e}"))?;
        let headers: Vec<String> = rdr
            .headers()
            .map_err(|e| format!("{file}: {e}"))?
            .iter()
            .map(|h| h.trim().to_owned())
            .collect();
        let mut rows = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| format!("{file}: {e}"))?;
            let line = rec.position().map_or(0, |p| p.line() as usize);
            rows.push((line, rec.iter().map(str::to_owned).collect()));
        }
        Ok(Self {
            file,
            headers,
            rows,
        })
    }

    fn col(&self, names: &[&str]) -> Option<usize> {
        self.headers
            .iter()
            .position(|h| names.contains(&h.as_str()))
    }

    fn need(&self, names: &[&str], what: &str) -> Result<usize, String> {
        self.col(names).ok_or_else(|| {
            format!(
                "{}: no column {} ({what}); the columns are: {}",
                self.file,
                names.join(" or "),
                self.headers.join(", ")
            )
        })
    }
}

/// Reads a bill file: register readings (`ts,device,quantity,value,unit`; `device` picks one
/// meter when the file has several) or one row per bill (`from,to,kwh`, `to` being the read
/// date that ends the period and starts the next). Naive times are local in `zone`.
pub fn read_bills(path: &Path, zone: Zone, device: Option<&str>) -> Result<Bills, String> {
    let t = Table::read(path)?;
    let file = t.file.clone();
    let bad = |line: usize, what: &str, v: &str| format!("{file}:{line}: `{v}` is not {what}");
    let mut bills = Vec::new();
    let source = if t.col(&["from"]).is_some() {
        let (f, to) = (t.need(&["from"], "")?, t.need(&["to"], "")?);
        let u = t.need(
            &["kwh", "kWh", "energy", "usage"],
            "energy of each bill in kWh",
        )?;
        for (line, r) in &t.rows {
            let from = instant(&r[f], zone).ok_or_else(|| bad(*line, "a date", &r[f]))?;
            let end = instant(&r[to], zone).ok_or_else(|| bad(*line, "a date", &r[to]))?;
            let usage = number(&r[u]).ok_or_else(|| bad(*line, "an energy", &r[u]))?;
            if end <= from {
                return Err(format!("{file}:{line}: `to` is not after `from`"));
            }
            bills.push(Bill {
                from,
                to: end,
                usage,
            });
        }
        bills.sort_by_key(|b| b.from);
        if let Some(w) = bills.windows(2).find(|w| w[1].from < w[0].to) {
            return Err(format!(
                "{file}: the bill from {} overlaps the one before",
                zone.format(w[1].from)
            ));
        }
        format!("bills in {file}")
    } else {
        let ts = t.need(&["ts", "time"], "the read date")?;
        let value = t.need(&["value"], "the register reading")?;
        let dev = t.col(&["device"]);
        let qty = t.col(&["quantity"]);
        let unit = t.col(&["unit"]);
        let mut devices: Vec<&str> = Vec::new();
        let mut reads: Vec<(usize, i64, f64)> = Vec::new();
        for (line, r) in &t.rows {
            if qty.is_some_and(|q| r[q].trim() != "active_energy_import") {
                continue;
            }
            let d = dev.map_or("", |c| r[c].trim());
            if device.is_some_and(|want| want != d) {
                continue;
            }
            if !devices.contains(&d) {
                devices.push(d);
            }
            let at = instant(&r[ts], zone).ok_or_else(|| bad(*line, "a time", &r[ts]))?;
            let u = unit.map_or("", |c| r[c].as_str());
            let k = to_kwh(u).ok_or_else(|| bad(*line, "an energy unit (Wh, kWh, MWh)", u))?;
            let v = number(&r[value]).ok_or_else(|| bad(*line, "a reading", &r[value]))?;
            reads.push((*line, at, v * k));
        }
        if devices.len() > 1 {
            return Err(format!(
                "{file}: readings of several meters ({}): pick one with --energy DEVICE",
                devices.join(", ")
            ));
        }
        reads.sort_by_key(|r| r.1);
        for w in reads.windows(2) {
            let ((_, a, va), (line, b, vb)) = (w[0], w[1]);
            if a == b {
                return Err(format!("{file}:{line}: a second reading at the same time"));
            }
            if vb < va {
                return Err(format!(
                    "{file}:{line}: the register went backwards ({va} to {vb} kWh): a meter change or rollover must be split into two files"
                ));
            }
            bills.push(Bill {
                from: a,
                to: b,
                usage: vb - va,
            });
        }
        format!(
            "register readings of {} in {file}",
            devices.first().copied().unwrap_or("the meter")
        )
    };
    if bills.is_empty() {
        return Err(format!("{file}: no billing period (two readings at least)"));
    }
    Ok(Bills {
        zone,
        bills,
        source,
    })
}

/// Daily means of a temperature CSV (any interval): `time` and `temp` columns.
pub fn read_temp_csv(
    path: &Path,
    time: &str,
    temp: &str,
    zone: Zone,
) -> Result<DailyTemps, String> {
    let t = Table::read(path)?;
    let (tc, vc) = (
        t.need(&[time], "--temp-time")?,
        t.need(&[temp], "--temp-col")?,
    );
    let mut sums: BTreeMap<NaiveDate, (f64, usize)> = BTreeMap::new();
    for (line, r) in &t.rows {
        let at = instant(&r[tc], zone)
            .ok_or_else(|| format!("{}:{line}: `{}` is not a time", t.file, r[tc]))?;
        let cell = r[vc].trim();
        if cell.is_empty() || cell.eq_ignore_ascii_case("nan") {
            continue;
        }
        let v = number(cell)
            .ok_or_else(|| format!("{}:{line}: `{cell}` is not a temperature", t.file))?;
        let e = sums.entry(zone.date(at)).or_default();
        e.0 += v;
        e.1 += 1;
    }
    Ok(sums
        .into_iter()
        .map(|(d, (s, n))| (d, s / n as f64))
        .collect())
}

/// Daily means of the site's outdoor temperature in the store over [from, to): `temp` as
/// `device/quantity`, else the site's only `outdoor_temp` series. A day needs half its
/// quarter-hours. Returns the temperatures and the series read.
pub fn store_temps(
    store: &Store,
    assets: &Assets,
    temp: Option<&str>,
    from: i64,
    to: i64,
) -> Result<(DailyTemps, String), String> {
    let series = match temp {
        Some(t) => {
            let (device, quantity) = t
                .split_once('/')
                .ok_or_else(|| format!("--temp `{t}`: write device/quantity"))?;
            SeriesRef {
                device: device.to_owned(),
                quantity: quantity.to_owned(),
            }
        }
        None => {
            let found: Vec<_> = store
                .series()
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|s| s.site == assets.site && s.quantity == "outdoor_temp")
                .collect();
            match found.as_slice() {
                [one] => SeriesRef {
                    device: one.device.clone(),
                    quantity: one.quantity.clone(),
                },
                [] => return Err(format!("the store has no outdoor_temp series for site `{}`: give --temp-csv FILE", assets.site)),
                _ => return Err("the store has several outdoor_temp series: pick one with --temp DEVICE/outdoor_temp".to_owned()),
            }
        }
    };
    let zone = Zone::Named(assets.timezone);
    let start = from.div_euclid(QUARTER_MS) * QUARTER_MS;
    let n = ((to - start + QUARTER_MS - 1) / QUARTER_MS).max(0) as usize;
    let mut loader = Loader::new(store, &assets.site, Grid { start, n });
    let col = loader.avg(&series).map_err(|e| e.to_string())?;
    let mut sums: BTreeMap<NaiveDate, (f64, usize)> = BTreeMap::new();
    for (i, v) in col.into_iter().enumerate() {
        if let Ok(v) = v {
            let e = sums
                .entry(zone.date(start + i as i64 * QUARTER_MS))
                .or_default();
            e.0 += v;
            e.1 += 1;
        }
    }
    let temps = sums
        .into_iter()
        .filter(|(_, (_, n))| *n >= 48)
        .map(|(d, (s, n))| (d, s / n as f64))
        .collect();
    Ok((temps, format!("temperature {series}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("kw-bills-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn readings_become_bills_and_bad_registers_are_errors() {
        let z = Zone::Named(chrono_tz::Asia::Taipei);
        let p = write(
            "r.csv",
            "# comment\nts,device,quantity,value,unit\n2025-02-01 00:00,m,active_energy_import,1.5,MWh\n2025-01-01 00:00,m,active_energy_import,1000,kWh\n2025-01-15 00:00,m,power_factor,0.9,\n",
        );
        let b = read_bills(&p, z, None).unwrap();
        assert_eq!(b.bills.len(), 1);
        assert_eq!(b.bills[0].usage, 500.0);
        assert_eq!(z.format(b.bills[0].from), "2025-01-01T00:00:00+08:00");
        let p = write(
            "back.csv",
            "ts,device,quantity,value,unit\n2025-01-01,m,active_energy_import,10,kWh\n2025-02-01,m,active_energy_import,5,kWh\n",
        );
        let e = read_bills(&p, z, None).unwrap_err();
        assert!(e.contains("went backwards"), "{e}");
        let p = write(
            "two.csv",
            "ts,device,quantity,value,unit\n2025-01-01,a,active_energy_import,10,kWh\n2025-02-01,b,active_energy_import,15,kWh\n",
        );
        assert!(read_bills(&p, z, None).unwrap_err().contains("--energy"));
        assert!(read_bills(&p, z, Some("a"))
            .unwrap_err()
            .contains("no billing period"));
    }

    #[test]
    fn per_bill_rows_and_daily_temperature_means() {
        let z = Zone::Named(chrono_tz::UTC);
        let p = write(
            "b.csv",
            "from,to,kwh\n2025-02-01,2025-03-01,280\n2025-01-01,2025-02-01,310\n",
        );
        let b = read_bills(&p, z, None).unwrap();
        assert_eq!(b.bills.len(), 2);
        assert_eq!(b.bills[0].usage, 310.0);
        let p = write(
            "o.csv",
            "from,to,kwh\n2025-01-01,2025-02-01,1\n2025-01-20,2025-03-01,1\n",
        );
        assert!(read_bills(&p, z, None).unwrap_err().contains("overlaps"));
        let p = write("t.csv", "time,oat\n2025-01-01 00:00,10\n2025-01-01 12:00,14\n2025-01-02 00:00,\n2025-01-02 06:00,3\n");
        let t = read_temp_csv(&p, "time", "oat", z).unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(t[&d("2025-01-01")], 12.0);
        assert_eq!(t[&d("2025-01-02")], 3.0);
        assert!(read_temp_csv(&p, "time", "temp", z)
            .unwrap_err()
            .contains("--temp-col"));
    }
}
