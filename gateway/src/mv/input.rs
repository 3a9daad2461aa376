//! Where M&V data comes from: a CSV file (any interval, timestamps with or without offsets) or
//! the store (an asset's meters, or named series, as 15-minute rollups). Both give a [`Raw`].

use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};

use super::frame::{interval_of, parse_instant, Obs, Raw, VarAgg, VarSpec, Zone};
use crate::enpi::assets::{AssetSpec, Assets, SeriesRef};
use crate::enpi::inputs::{Col, Grid, Loader, QUARTER_MS};
use crate::store::Store;

/// Columns of an M&V CSV file.
#[derive(Debug, Clone)]
pub struct CsvColumns {
    pub time: String,
    /// Energy used in the interval starting at the row's time.
    pub energy: String,
    pub temp: Option<String>,
    pub vars: Vec<VarSpec>,
}

fn cell_number(text: &str) -> Result<Option<f64>, String> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("na") || t.eq_ignore_ascii_case("nan") {
        return Ok(None);
    }
    t.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(Some)
        .ok_or_else(|| format!("`{t}` is not a number"))
}

fn naive(t: &str) -> Option<NaiveDateTime> {
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y/%m/%d %H:%M",
        "%m/%d/%Y %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(Default::default()))
    })
}

/// Reads the file. Timestamps with an offset fix the zone (unless `tz` is given); naive ones
/// are read in `tz` (UTC when none is given).
pub fn read_csv(path: &Path, cols: &CsvColumns, tz: Option<chrono_tz::Tz>) -> Result<Raw, String> {
    let file = path.display().to_string();
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|e| format!("{file}: {e}"))?;
    let headers = rdr.headers().map_err(|e| format!("{file}: {e}"))?.clone();
    let find = |name: &str, flag: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| {
                format!(
                    "{file}: no column `{name}` (for {flag}); the columns are: {}",
                    headers.iter().collect::<Vec<_>>().join(", ")
                )
            })
    };
    let time = find(&cols.time, "--time")?;
    let energy = find(&cols.energy, "--energy")?;
    let temp = cols
        .temp
        .as_deref()
        .map(|t| find(t, "--temp"))
        .transpose()?;
    let vars = cols
        .vars
        .iter()
        .map(|v| find(&v.name, "--var"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut zone = tz.map(Zone::Named);
    let mut obs = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| format!("{file}:{line}: {e}"))?;
        let cell = |c: usize, name: &str| {
            cell_number(rec.get(c).unwrap_or(""))
                .map_err(|e| format!("{file}:{line}: column `{name}`: {e}"))
        };
        let ts_text = rec.get(time).unwrap_or("").trim();
        let ts = match parse_instant(ts_text) {
            Some((ms, off)) => {
                let z = *zone.get_or_insert(Zone::Fixed(off));
                // Offsets that change (daylight saving) mean a zone, not an offset: days would
                // shift by an hour in summer and two rows fall into one day.
                if let (Zone::Fixed(first), None) = (z, tz) {
                    if first != off {
                        return Err(format!(
                            "{file}:{line}: the offset changes from {first} to {off} (daylight saving): give the time zone with --tz, e.g. --tz America/Chicago"
                        ));
                    }
                }
                ms
            }
            None => {
                let local = naive(ts_text).ok_or_else(|| {
                    format!(
                        "{file}:{line}: column `{}`: `{ts_text}` is not a time (2016-01-05T00:00:00-0600, 2026-03-01 08:00 or 2026-03-01)",
                        cols.time
                    )
                })?;
                let z = *zone.get_or_insert(Zone::Named(chrono_tz::UTC));
                z.instant(local)
            }
        };
        let energy = cell(energy, &cols.energy)?;
        let temp = temp
            .map(|c| cell(c, cols.temp.as_deref().unwrap_or("")))
            .transpose()?
            .flatten();
        let vars = vars
            .iter()
            .zip(&cols.vars)
            .map(|(c, v)| cell(*c, &v.name))
            .collect::<Result<Vec<_>, _>>()?;
        obs.push((
            line,
            Obs {
                ts,
                energy,
                temp,
                vars,
            },
        ));
    }
    if obs.len() < 2 {
        return Err(format!("{file}: fewer than two data rows"));
    }
    obs.sort_by_key(|(_, o)| o.ts);
    if let Some(w) = obs.windows(2).find(|w| w[0].1.ts == w[1].1.ts) {
        return Err(format!(
            "{file}:{}: the same time as line {} (each interval once)",
            w[1].0, w[0].0
        ));
    }
    let obs: Vec<Obs> = obs.into_iter().map(|(_, o)| o).collect();
    let ts: Vec<i64> = obs.iter().map(|o| o.ts).collect();
    Ok(Raw {
        zone: zone.unwrap_or(Zone::Named(chrono_tz::UTC)),
        interval: interval_of(&ts).unwrap_or(3_600_000),
        obs,
        has_temp: cols.temp.is_some(),
        vars: cols.vars.clone(),
    })
}

pub use super::query::StoreQuery;

fn series_ref(text: &str, flag: &str) -> Result<SeriesRef, String> {
    let (device, quantity) = text.split_once('/').ok_or_else(|| {
        format!("{flag} `{text}`: write device/quantity, e.g. weather/outdoor_temp")
    })?;
    kilowatch_site::vocab::quantity(quantity).map_err(|e| format!("{flag} `{text}`: {e}"))?;
    Ok(SeriesRef {
        device: device.to_owned(),
        quantity: quantity.to_owned(),
    })
}

/// The meters whose energy is an asset's, and its production counter.
pub fn meters(spec: &AssetSpec) -> (Vec<String>, Option<SeriesRef>) {
    match spec {
        AssetSpec::Compressor(c) => (c.power.clone(), c.production.clone()),
        AssetSpec::Chiller(c) => (
            c.power.iter().chain(&c.auxiliaries).cloned().collect(),
            None,
        ),
        AssetSpec::Plant(p) => (p.power.clone(), p.production.clone()),
        AssetSpec::Utility(u) => (u.power(), None),
    }
}

/// Reads quarter-hours [from, to) from the store. Returns the data and a description of what
/// was read.
pub fn read_store(
    store: &Store,
    assets: &Assets,
    q: &StoreQuery,
    from: i64,
    to: i64,
) -> Result<(Raw, String), String> {
    let mut devices = q.energy.clone();
    let mut vars: Vec<(SeriesRef, VarSpec)> = Vec::new();
    let mut source = Vec::new();
    if let Some(id) = &q.asset {
        let (_, spec) = assets.get(id).ok_or_else(|| {
            format!(
                "--asset `{id}`: no such asset in the site file (assets: {})",
                assets
                    .list
                    .iter()
                    .map(|a| a.id())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let (meters, production) = meters(spec);
        devices.extend(meters);
        source.push(format!("asset {id}"));
        if let Some(p) = production.filter(|_| q.vars.is_empty()) {
            vars.push((
                p.clone(),
                VarSpec {
                    name: "production".into(),
                    agg: VarAgg::Sum,
                },
            ));
        }
    }
    if devices.is_empty() {
        return Err(match &q.asset {
            // A boiler metered by its fuel alone: M&V here verifies electricity.
            Some(id) => format!(
                "--asset `{id}` has no electricity meter (power): name one with --energy DEVICE"
            ),
            None => "name the energy: --asset ID or --energy DEVICE".to_owned(),
        });
    }
    for v in &q.vars {
        let r = series_ref(v, "--var")?;
        let kind = kilowatch_site::vocab::quantity(&r.quantity)
            .map(|x| x.kind)
            .map_err(|e| e.to_string())?;
        let agg = if kind == kilowatch_site::vocab::Kind::Counter {
            VarAgg::Sum
        } else {
            VarAgg::Mean
        };
        vars.push((
            r,
            VarSpec {
                name: v.clone(),
                agg,
            },
        ));
    }
    let temp = match (&q.temp, q.no_temp) {
        (_, true) => None,
        (Some(t), _) => Some(series_ref(t, "--temp")?),
        (None, false) => {
            let found: Vec<_> = store
                .series()
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|s| s.site == assets.site && s.quantity == "outdoor_temp")
                .collect();
            match found.as_slice() {
                [one] => Some(SeriesRef {
                    device: one.device.clone(),
                    quantity: one.quantity.clone(),
                }),
                _ => None,
            }
        }
    };
    let start = from.div_euclid(QUARTER_MS) * QUARTER_MS;
    let n = ((to - start + QUARTER_MS - 1) / QUARTER_MS).max(0) as usize;
    let mut loader = Loader::new(store, &assets.site, Grid { start, n });
    let mut energy: Vec<Option<f64>> = vec![Some(0.0); n];
    for d in &devices {
        let col = loader.energy(d).map_err(|e| e.to_string())?;
        if col.iter().all(Result::is_err) {
            let why = col
                .first()
                .and_then(|c| c.as_ref().err())
                .map(|e| e.to_string());
            return Err(format!(
                "no energy from device `{d}` between those dates: {}",
                why.unwrap_or_default()
            ));
        }
        for (acc, v) in energy.iter_mut().zip(col) {
            *acc = acc.zip(v.ok()).map(|(a, b)| a + b);
        }
    }
    source.push(format!("energy of {}", devices.join(" + ")));
    let ok = |c: Col| -> Vec<Option<f64>> { c.into_iter().map(Result::ok).collect() };
    let temp_col = match &temp {
        Some(t) => {
            source.push(format!("temperature {t}"));
            Some(ok(loader.avg(t).map_err(|e| e.to_string())?))
        }
        None => None,
    };
    let mut var_cols = Vec::new();
    for (r, spec) in &vars {
        source.push(format!("{} {r}", spec.name));
        let col = match spec.agg {
            VarAgg::Sum => loader.delta(&r.device, &r.quantity),
            VarAgg::Mean => loader.avg(r),
        }
        .map_err(|e| e.to_string())?;
        var_cols.push(ok(col));
    }
    let obs = (0..n)
        .map(|i| Obs {
            ts: start + i as i64 * QUARTER_MS,
            energy: energy[i],
            temp: temp_col.as_ref().and_then(|c| c[i]),
            vars: var_cols.iter().map(|c| c[i]).collect(),
        })
        .collect();
    Ok((
        Raw {
            zone: Zone::Named(assets.timezone),
            interval: QUARTER_MS,
            obs,
            has_temp: temp.is_some(),
            vars: vars.into_iter().map(|(_, s)| s).collect(),
        },
        source.join(", "),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_offsets_and_bad_cells() {
        let dir = std::env::temp_dir().join(format!("kw-mv-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.csv");
        std::fs::write(
            &p,
            "time,kwh,oat\n2016-01-05T01:00:00-0600,10,5\n2016-01-05T00:00:00-0600,12,\n2016-01-05T02:00:00-0600,11,4\n",
        )
        .unwrap();
        let cols = CsvColumns {
            time: "time".into(),
            energy: "kwh".into(),
            temp: Some("oat".into()),
            vars: vec![],
        };
        let raw = read_csv(&p, &cols, None).unwrap();
        assert_eq!(raw.zone.name(), "-06:00");
        assert_eq!(raw.interval, 3_600_000);
        assert_eq!(raw.obs[0].energy, Some(12.0));
        assert_eq!(raw.obs[0].temp, None);
        std::fs::write(
            &p,
            "time,kwh,oat\n2016-01-05 00:00,10,5\n2016-01-05 01:00,x,5\n",
        )
        .unwrap();
        let e = read_csv(&p, &cols, None).unwrap_err();
        assert!(
            e.ends_with("a.csv:3: column `kwh`: `x` is not a number"),
            "{e}"
        );
        std::fs::write(&p, "time,kwh\n2016-01-05 00:00,10\n").unwrap();
        let e = read_csv(&p, &cols, None).unwrap_err();
        assert!(e.contains("no column `oat` (for --temp)"), "{e}");
        std::fs::write(
            &p,
            "time,kwh,oat\n2016-01-05 00:00,10,1\n2016-01-05 00:00,10,1\n",
        )
        .unwrap();
        let e = read_csv(&p, &cols, None).unwrap_err();
        assert!(e.contains(":3: the same time as line 2"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
