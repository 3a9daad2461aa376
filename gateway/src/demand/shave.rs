//! Peak shaving: the load that would have to move to cut the peak by X kW. With cut level =
//! peak − X, the energy above it per day and in total, the quarter-hours and days above it and
//! the longest run of consecutive quarter-hours above it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{local, Quarter};
use crate::enpi::inputs::QUARTER_MS;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Shave {
    pub peak_kw: f64,
    pub cut_kw: f64,
    pub level_kw: f64,
    /// Energy above the level, kWh (each quarter-hour's excess kW × 0.25 h).
    pub energy_kwh: f64,
    pub quarters: usize,
    pub days: Vec<ShaveDay>,
    /// The longest run of consecutive quarter-hours above the level.
    pub longest_run: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ShaveDay {
    /// Plant-local `YYYY-MM-DD`.
    pub date: String,
    pub energy_kwh: f64,
    pub quarters: usize,
    pub max_kw: f64,
}

/// `None` when there is no demand, or `cut_kw` is not a positive finite number.
pub fn shave(tz: chrono_tz::Tz, quarters: &[Quarter], cut_kw: f64) -> Option<Shave> {
    if !(cut_kw.is_finite() && cut_kw > 0.0) {
        return None;
    }
    let peak = quarters.iter().map(|q| q.kw).reduce(f64::max)?;
    let level = peak - cut_kw;
    let mut sorted: Vec<Quarter> = quarters.to_vec();
    sorted.sort_by_key(|q| q.ts);
    let mut days: BTreeMap<chrono::NaiveDate, ShaveDay> = BTreeMap::new();
    let (mut run, mut longest, mut last_ts) = (0usize, 0usize, None::<i64>);
    for q in sorted.iter().filter(|q| q.kw > level) {
        run = if last_ts == Some(q.ts - QUARTER_MS) {
            run + 1
        } else {
            1
        };
        longest = longest.max(run);
        last_ts = Some(q.ts);
        let Some(l) = local(tz, q.ts) else { continue };
        let d = days.entry(l.date()).or_insert_with(|| ShaveDay {
            date: l.date().to_string(),
            energy_kwh: 0.0,
            quarters: 0,
            max_kw: q.kw,
        });
        d.energy_kwh += (q.kw - level) * 0.25;
        d.quarters += 1;
        d.max_kw = d.max_kw.max(q.kw);
    }
    let days: Vec<ShaveDay> = days.into_values().collect();
    Some(Shave {
        peak_kw: peak,
        cut_kw,
        level_kw: level,
        energy_kwh: days.iter().map(|d| d.energy_kwh).sum(),
        quarters: days.iter().map(|d| d.quarters).sum(),
        days,
        longest_run: longest,
    })
}
