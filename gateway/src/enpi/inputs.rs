//! Source stage of the EnPI engine: 15-minute rollups of the series an asset names, converted to
//! canonical units through the shared vocabulary, as one value (or the reason for none) per
//! quarter-hour.

use std::collections::HashMap;
use std::sync::Arc;

use kilowatch_site::vocab::{self, Conversion};

use super::series::SeriesRef;
use crate::rollup::Agg;
use crate::store::{Store, StoreError};

/// Quarter-hours from `start` (ms, on a 15-minute boundary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    pub start: i64,
    pub n: usize,
}

pub const QUARTER_MS: i64 = 900_000;

impl Grid {
    pub fn ts(&self, i: usize) -> i64 {
        self.start + i as i64 * QUARTER_MS
    }
    pub fn end(&self) -> i64 {
        self.ts(self.n)
    }
}

/// One value per quarter-hour, or why there is none.
pub type Col = Vec<Result<f64, Arc<str>>>;

/// A series' quarter rollups in canonical units.
struct Loaded {
    id: i64,
    name: String,
    aggs: Vec<Option<Agg>>,
}

pub struct Loader<'a> {
    store: &'a Store,
    site: &'a str,
    pub grid: Grid,
    cache: HashMap<(String, String), Result<Arc<Loaded>, Arc<str>>>,
}

fn reason(text: String) -> Arc<str> {
    Arc::from(text.as_str())
}

impl<'a> Loader<'a> {
    pub fn new(store: &'a Store, site: &'a str, grid: Grid) -> Self {
        Self {
            store,
            site,
            grid,
            cache: HashMap::new(),
        }
    }

    fn load(
        &mut self,
        device: &str,
        quantity: &str,
    ) -> Result<Result<Arc<Loaded>, Arc<str>>, StoreError> {
        let key = (device.to_owned(), quantity.to_owned());
        if let Some(l) = self.cache.get(&key) {
            return Ok(l.clone());
        }
        let name = format!("{device}/{quantity}");
        let loaded = match self.store.series_by_key(self.site, device, quantity)? {
            None => Err(reason(format!(
                "no series {}/{name} in the store",
                self.site
            ))),
            Some(info) => {
                let canonical = vocab::quantity(quantity).map(|q| q.unit).unwrap_or("");
                match Conversion::new(&info.unit, canonical) {
                    Err(e) => Err(reason(format!("{name}: {e}"))),
                    Ok(conv) => {
                        let scale = |x: f64| conv.apply(x) - conv.apply(0.0);
                        let mut aggs = vec![None; self.grid.n];
                        for (bucket, mut a) in self.store.rollup_rows(
                            info.id,
                            900,
                            self.grid.start,
                            self.grid.end(),
                        )? {
                            let i = ((bucket - self.grid.start) / QUARTER_MS) as usize;
                            if i < aggs.len() {
                                a.avg = a.avg.map(|v| conv.apply(v));
                                a.min = a.min.map(|v| conv.apply(v));
                                a.max = a.max.map(|v| conv.apply(v));
                                a.delta = a.delta.map(scale);
                                a.integral = a.integral.map(scale);
                                aggs[i] = Some(a);
                            }
                        }
                        Ok(Arc::new(Loaded {
                            id: info.id,
                            name,
                            aggs,
                        }))
                    }
                }
            }
        };
        self.cache.insert(key, loaded.clone());
        Ok(loaded)
    }

    /// The ids of the stored series loaded so far (what the facts were computed from).
    pub fn loaded_series(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .cache
            .values()
            .filter_map(|l| l.as_ref().ok().map(|l| l.id))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Does the store hold this series?
    pub fn has(&mut self, device: &str, quantity: &str) -> Result<bool, StoreError> {
        Ok(self.load(device, quantity)?.is_ok())
    }

    fn col(
        &mut self,
        device: &str,
        quantity: &str,
        pick: impl Fn(&Agg, &str) -> Result<f64, String>,
    ) -> Result<Col, StoreError> {
        Ok(match self.load(device, quantity)? {
            Err(why) => vec![Err(why); self.grid.n],
            Ok(l) => {
                let none = reason(format!("no data from {}", l.name));
                let mut last_err: Option<(String, Arc<str>)> = None;
                l.aggs
                    .iter()
                    .map(|a| match a {
                        None => Err(none.clone()),
                        Some(a) if a.count == 0 => Err(none.clone()),
                        Some(a) => pick(a, &l.name).map_err(|e| match &last_err {
                            Some((t, r)) if *t == e => r.clone(),
                            _ => {
                                let r = reason(e.clone());
                                last_err = Some((e, r.clone()));
                                r
                            }
                        }),
                    })
                    .collect()
            }
        })
    }

    /// Mean of the quarter's samples.
    pub fn avg(&mut self, r: &SeriesRef) -> Result<Col, StoreError> {
        self.col(&r.device, &r.quantity, |a, _| Ok(a.avg.unwrap_or_default()))
    }

    pub fn min(&mut self, r: &SeriesRef) -> Result<Col, StoreError> {
        self.col(&r.device, &r.quantity, |a, _| Ok(a.min.unwrap_or_default()))
    }

    pub fn max(&mut self, r: &SeriesRef) -> Result<Col, StoreError> {
        self.col(&r.device, &r.quantity, |a, _| Ok(a.max.unwrap_or_default()))
    }

    /// ∫ value dt (value × hours), only where no gap interrupts it.
    pub fn integral(&mut self, device: &str, quantity: &str) -> Result<Col, StoreError> {
        self.col(device, quantity, |a, name| {
            if a.gaps > 0 {
                Err(format!(
                    "{name} has a gap longer than the gap limit (not bridged)"
                ))
            } else {
                Ok(a.integral.unwrap_or_default())
            }
        })
    }

    /// Counter increase (or a state's rising edges), only without resets and gaps.
    pub fn delta(&mut self, device: &str, quantity: &str) -> Result<Col, StoreError> {
        self.col(device, quantity, |a, name| {
            if a.resets > 0 {
                Err(format!("{name} was reset or the meter replaced"))
            } else if a.gaps > 0 {
                Err(format!("{name} has a gap longer than the gap limit"))
            } else {
                Ok(a.delta.unwrap_or_default())
            }
        })
    }

    /// A device's active energy (kWh): its import register where it has one, otherwise the
    /// integral of active power.
    pub fn energy(&mut self, device: &str) -> Result<Col, StoreError> {
        if self.has(device, "active_energy_import")? {
            self.delta(device, "active_energy_import")
        } else if self.has(device, "active_power")? {
            self.integral(device, "active_power")
        } else {
            Ok(vec![
                Err(reason(format!(
                    "no active_energy_import or active_power from {device} in the store"
                )));
                self.grid.n
            ])
        }
    }

    /// Good samples behind each quarter's rollup of a series (0 where it has none).
    pub fn counts(&mut self, device: &str, quantity: &str) -> Result<Vec<i64>, StoreError> {
        Ok(match self.load(device, quantity)? {
            Err(_) => vec![0; self.grid.n],
            Ok(l) => l.aggs.iter().map(|a| a.map_or(0, |a| a.count)).collect(),
        })
    }

    /// The sum of one column per device.
    pub fn sum(
        &mut self,
        devices: &[String],
        f: impl Fn(&mut Self, &str) -> Result<Col, StoreError>,
    ) -> Result<Col, StoreError> {
        let mut total: Col = vec![Ok(0.0); self.grid.n];
        for d in devices {
            let c = f(self, d)?;
            for (t, v) in total.iter_mut().zip(c) {
                *t = match (t.clone(), v) {
                    (Ok(a), Ok(b)) => Ok(a + b),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
            }
        }
        Ok(total)
    }
}
