//! Power factor as a utility bills it: kWh ÷ √(kWh² + kvarh²) over one interval, where the
//! kWh and the kvarh (or kVAh) cover the same time. Mixing a counter's kWh with an integral of
//! sampled kvar, or a source that covers only part of a quarter-hour (history imported with
//! fewer quantities than live polls carry), gives factors that drift from the meter's, even
//! above 1.

use std::sync::Arc;

use super::inputs::{Col, Loader};
use crate::store::StoreError;

/// How one pair of series gives active and apparent energy.
struct Pair {
    active: &'static str,
    other: &'static str,
    /// Counters (delta) or sampled power (integral).
    counters: bool,
    /// `other` is reactive (kvarh, kvar) rather than apparent (kVAh, kVA).
    reactive: bool,
}

/// In order of preference: the meter's own registers first (what the utility reads), then
/// the integrals of sampled power.
const PAIRS: [Pair; 4] = [
    Pair {
        active: "active_energy_import",
        other: "reactive_energy_import",
        counters: true,
        reactive: true,
    },
    Pair {
        active: "active_energy_import",
        other: "apparent_energy",
        counters: true,
        reactive: false,
    },
    Pair {
        active: "active_power",
        other: "reactive_power",
        counters: false,
        reactive: true,
    },
    Pair {
        active: "active_power",
        other: "apparent_power",
        counters: false,
        reactive: false,
    },
];

/// A pair's two columns, their sample counts and whether the second is reactive.
type Found = (Col, Col, Vec<i64>, Vec<i64>, bool);

/// Active and apparent energy of one device per quarter, each quarter from one pair of series
/// read at the same instants (the same number of samples in the quarter's rollups).
pub fn energies(loader: &mut Loader<'_>, device: &str) -> Result<(Col, Col), StoreError> {
    let n = loader.grid.n;
    let mut found: Vec<Found> = Vec::new();
    for p in &PAIRS {
        if !(loader.has(device, p.active)? && loader.has(device, p.other)?) {
            continue;
        }
        let (a, b) = if p.counters {
            (
                loader.delta(device, p.active)?,
                loader.delta(device, p.other)?,
            )
        } else {
            (
                loader.integral(device, p.active)?,
                loader.integral(device, p.other)?,
            )
        };
        let (ca, cb) = (
            loader.counts(device, p.active)?,
            loader.counts(device, p.other)?,
        );
        found.push((a, b, ca, cb, p.reactive));
    }
    if found.is_empty() {
        let why: Arc<str> = Arc::from(format!(
            "no reactive or apparent energy or power from {device}: power factor unknown"
        ));
        return Ok((vec![Err(why.clone()); n], vec![Err(why); n]));
    }
    let apart: Arc<str> = Arc::from(format!(
        "{device}: active and reactive energy not read at the same instants in this quarter-hour"
    ));
    let mut kwh = Vec::with_capacity(n);
    let mut kvah = Vec::with_capacity(n);
    for i in 0..n {
        let mut first_err: Option<Arc<str>> = None;
        let mut got = None;
        for (a, b, ca, cb, reactive) in &found {
            match (&a[i], &b[i]) {
                (Ok(p), Ok(q)) if ca[i] == cb[i] => {
                    got = Some((*p, if *reactive { p.hypot(*q) } else { *q }));
                    break;
                }
                (Ok(_), Ok(_)) => {
                    first_err.get_or_insert_with(|| apart.clone());
                }
                (Err(e), _) | (_, Err(e)) => {
                    first_err.get_or_insert_with(|| e.clone());
                }
            }
        }
        match got {
            Some((p, s)) => {
                kwh.push(Ok(p));
                kvah.push(Ok(s));
            }
            None => {
                let e = first_err.unwrap_or_else(|| apart.clone());
                kwh.push(Err(e.clone()));
                kvah.push(Err(e));
            }
        }
    }
    Ok((kwh, kvah))
}

/// [`energies`] summed over devices.
pub fn sum(loader: &mut Loader<'_>, devices: &[String]) -> Result<(Col, Col), StoreError> {
    let kwh = loader.sum(devices, |l, d| energies(l, d).map(|e| e.0))?;
    let kvah = loader.sum(devices, |l, d| energies(l, d).map(|e| e.1))?;
    Ok((kwh, kvah))
}
