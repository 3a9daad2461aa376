//! The top demand events: the highest quarter-hours, at most one a day, with what each
//! sub-meter drew in it and the unmetered remainder.

use std::collections::HashSet;

use serde::Serialize;

use super::{local, Quarter, SubMeter, DAY_TYPES};
use crate::enpi::tariff::Tariff;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    /// Start of the quarter-hour, plant-local `YYYY-MM-DDTHH:MM`.
    pub start: String,
    pub day_type: &'static str,
    pub period: String,
    pub demand_kw: f64,
    pub meters: Vec<MeterShare>,
    /// Demand no sub-meter accounts for (the incomers less the sub-meters with data).
    pub unmetered_kw: f64,
    pub unmetered_share: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MeterShare {
    pub id: String,
    pub name: Option<String>,
    /// `None`: the meter has no data for the quarter-hour (its load is in the remainder).
    pub kw: Option<f64>,
    pub share: Option<f64>,
}

/// The `n` highest quarter-hours, at most one per plant-local day, highest first (ties: the
/// earlier quarter-hour).
pub fn peaks(tz: chrono_tz::Tz, quarters: &[Quarter], n: usize) -> Vec<Quarter> {
    let mut sorted: Vec<Quarter> = quarters.to_vec();
    sorted.sort_by(|a, b| b.kw.total_cmp(&a.kw).then(a.ts.cmp(&b.ts)));
    let mut days = HashSet::new();
    sorted
        .into_iter()
        .filter(|q| local(tz, q.ts).is_some_and(|l| days.insert(l.date())))
        .take(n)
        .collect()
}

/// One event from its quarter-hour and each sub-meter's kW in it.
pub fn event(
    t: &Tariff,
    tz: chrono_tz::Tz,
    q: Quarter,
    meters: &[SubMeter],
    kw: &[Option<f64>],
) -> Event {
    let l = local(tz, q.ts).unwrap_or_default();
    // A zero-demand quarter-hour has no shares to give.
    let share = |v: f64| if q.kw != 0.0 { v / q.kw } else { 0.0 };
    let metered: f64 = kw.iter().flatten().sum();
    let unmetered = q.kw - metered;
    Event {
        start: l.format("%Y-%m-%dT%H:%M").to_string(),
        day_type: DAY_TYPES[t.day_type(l.date()).min(2)],
        period: t.period_name(t.classify(l).0).unwrap_or("").to_owned(),
        demand_kw: q.kw,
        meters: meters
            .iter()
            .zip(kw)
            .map(|(m, v)| MeterShare {
                id: m.id.clone(),
                name: m.name.clone(),
                kw: *v,
                share: v.map(share),
            })
            .collect(),
        unmetered_kw: unmetered,
        unmetered_share: share(unmetered),
    }
}

/// The events of `quarters` with no sub-meters (the whole demand unmetered).
pub fn top_events(t: &Tariff, tz: chrono_tz::Tz, quarters: &[Quarter], n: usize) -> Vec<Event> {
    peaks(tz, quarters, n)
        .into_iter()
        .map(|q| event(t, tz, q, &[], &[]))
        .collect()
}
