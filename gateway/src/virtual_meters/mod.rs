//! Virtual meters (`[[virtual]]`): calculated channels such as
//! `incomer - compressor-1 - compressor-2`, stored as ordinary series (device = the virtual
//! meter's id) so that rollups, the query API, EnPIs and the dashboards see them like measured
//! ones.
//!
//! They are computed on the 1-minute rollups, not on samples: sources are polled at different
//! instants, and an energy counter's reading cannot be subtracted from another's (only their
//! increments can). Each virtual minute is the arithmetic of its sources' same minutes — the
//! counter increments (`delta`), or for an energy meter without an energy register ∫ P dt, or
//! for instantaneous quantities the averages and integrals. A minute where a source has no
//! data, a gap (its increment spans longer than the gap limit) or a counter reset is missing,
//! not wrong: no rollup row, and the reason kept (`virtual_missing`). The rollup engine runs
//! this in its own transaction, on the writer thread (store/virtuals.rs), and rolls the
//! virtual minutes up like any other.

use std::collections::HashSet;

use kilowatch_site::config::SiteConfig;
use kilowatch_site::vocab::{self, Kind};

use crate::rollup::Agg;

#[cfg(test)]
mod tests;

/// One virtual meter, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct VirtualMeter {
    pub id: String,
    pub quantity: String,
    pub unit: &'static str,
    pub kind: Kind,
    /// (source meter, coefficient).
    pub terms: Vec<(String, f64)>,
}

/// The site's virtual meters, each after the virtual meters it is computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VirtualPlan {
    pub site: String,
    pub meters: Vec<VirtualMeter>,
}

impl VirtualPlan {
    /// From a site file (checked at load: known quantities, no loops).
    pub fn for_site(config: &SiteConfig) -> Self {
        let mut pending: Vec<VirtualMeter> = config
            .virtuals
            .iter()
            .filter_map(|v| {
                let q = vocab::quantity(&v.quantity).ok()?;
                Some(VirtualMeter {
                    id: v.id.clone(),
                    quantity: v.quantity.clone(),
                    unit: q.unit,
                    kind: q.kind,
                    terms: v.terms(),
                })
            })
            .collect();
        let virtual_ids: HashSet<String> = pending.iter().map(|m| m.id.clone()).collect();
        let mut done: HashSet<String> = HashSet::new();
        let mut meters = Vec::new();
        // Kahn's order; a meter left over (a loop, refused at load) is dropped.
        while !pending.is_empty() {
            let (ready, rest): (Vec<_>, Vec<_>) = pending.into_iter().partition(|m| {
                m.terms
                    .iter()
                    .all(|(s, _)| !virtual_ids.contains(s) || done.contains(s))
            });
            if ready.is_empty() {
                break;
            }
            done.extend(ready.iter().map(|m| m.id.clone()));
            meters.extend(ready);
            pending = rest;
        }
        Self {
            site: config.site.id.clone(),
            meters,
        }
    }
}

/// Which figure of a source's rollup a virtual meter adds up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A counter's increment.
    Delta,
    /// ∫ value dt of an instantaneous quantity (kW → kWh): energy without an energy register.
    Integral,
    /// The average and integral of an instantaneous quantity.
    AvgAndIntegral,
}

/// One source's minute, as the rollup engine found it.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub meter: &'a str,
    pub coef: f64,
    /// `None`: the source has no series of the quantity.
    pub field: Option<Field>,
    /// `None`: no rollup for this minute.
    pub agg: Option<Agg>,
}

/// Why a virtual minute is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    NoSeries(String),
    NoData(String),
    Gap(String),
    Reset(String),
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::NoSeries(m) => write!(f, "{m}: no series"),
            Missing::NoData(m) => write!(f, "{m}: no data"),
            Missing::Gap(m) => write!(f, "{m}: gap"),
            Missing::Reset(m) => write!(f, "{m}: counter reset"),
        }
    }
}

/// A stored reason (`Missing`'s text, `incomer: gap`) as a message for any language; a text
/// of another form as it is.
pub fn reason_message(stored: &str) -> crate::i18n::Arg {
    use crate::i18n::Msg;
    let Some((meter, what)) = stored.rsplit_once(": ") else {
        return stored.into();
    };
    let key = match what {
        "no series" => "missing-no-series",
        "no data" => "missing-no-data",
        "gap" => "missing-gap",
        "counter reset" => "missing-reset",
        _ => return stored.into(),
    };
    Msg::new(key).arg("meter", meter).into()
}

/// The virtual meter's minute from its sources' minutes.
pub fn combine(inputs: &[Input<'_>]) -> Result<Agg, Missing> {
    let mut out = Agg {
        count: 1,
        ..Agg::default()
    };
    for i in inputs {
        let m = || i.meter.to_owned();
        let field = i.field.ok_or_else(|| Missing::NoSeries(m()))?;
        let a = i
            .agg
            .filter(|a| a.count > 0)
            .ok_or_else(|| Missing::NoData(m()))?;
        if a.gaps > 0 {
            return Err(Missing::Gap(m()));
        }
        if a.resets > 0 {
            return Err(Missing::Reset(m()));
        }
        let add = |acc: Option<f64>, v: Option<f64>| -> Result<Option<f64>, Missing> {
            let v = v.ok_or_else(|| Missing::NoData(m()))?;
            Ok(Some(acc.unwrap_or(0.0) + i.coef * v))
        };
        match field {
            Field::Delta => out.delta = add(out.delta, a.delta)?,
            Field::Integral => out.delta = add(out.delta, a.integral)?,
            Field::AvgAndIntegral => {
                out.avg = add(out.avg, a.avg)?;
                out.integral = add(out.integral, a.integral)?;
            }
        }
    }
    // One computed point per minute: its min and max are the point.
    out.min = out.avg;
    out.max = out.avg;
    Ok(out)
}

/// The figure a source of `meter`'s quantity contributes: `Some(quantity, field)` to look up,
/// first the same quantity, then (energy only) ∫ active power dt.
pub fn source_series(meter: &VirtualMeter) -> [(&str, Field); 2] {
    match meter.kind {
        Kind::Counter if meter.quantity == "active_energy_import" => [
            ("active_energy_import", Field::Delta),
            ("active_power", Field::Integral),
        ],
        Kind::Counter => [(meter.quantity.as_str(), Field::Delta); 2],
        _ => [(meter.quantity.as_str(), Field::AvgAndIntegral); 2],
    }
}
