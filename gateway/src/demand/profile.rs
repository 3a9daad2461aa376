//! The demand profile: per tariff period and day type, the mean and highest 15-minute demand
//! at each quarter-hour of the day.

use std::collections::BTreeMap;

use chrono::Timelike;
use serde::Serialize;

use super::{local, Quarter, DAY_TYPES};
use crate::enpi::tariff::Tariff;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Profile {
    pub groups: Vec<Group>,
}

/// One (day type, period): its quarter-hours of the day that have data, in time order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Group {
    pub day_type: &'static str,
    pub period: String,
    pub slots: Vec<Slot>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Slot {
    /// Start of the quarter-hour, plant-local `HH:MM`.
    pub time: String,
    pub mean_kw: f64,
    pub max_kw: f64,
    /// Quarter-hours averaged (one per day with data).
    pub count: usize,
}

pub fn profile(t: &Tariff, tz: chrono_tz::Tz, quarters: &[Quarter]) -> Profile {
    // (day type, period, quarter of the day) → (sum, max, count).
    let mut acc: BTreeMap<(usize, usize, u32), (f64, f64, usize)> = BTreeMap::new();
    for q in quarters {
        let Some(l) = local(tz, q.ts) else { continue };
        let (period, _) = t.classify(l);
        let slot = (l.hour() * 60 + l.minute()) / 15;
        let e =
            acc.entry((t.day_type(l.date()), period, slot))
                .or_insert((0.0, f64::NEG_INFINITY, 0));
        e.0 += q.kw;
        e.1 = e.1.max(q.kw);
        e.2 += 1;
    }
    let mut groups: Vec<Group> = Vec::new();
    for ((day, period, slot), (sum, max, count)) in acc {
        let s = Slot {
            time: format!("{:02}:{:02}", slot / 4, slot % 4 * 15),
            mean_kw: sum / count as f64,
            max_kw: max,
            count,
        };
        let name = t.period_name(period).unwrap_or("").to_owned();
        match groups.last_mut() {
            Some(g) if g.day_type == DAY_TYPES[day] && g.period == name => g.slots.push(s),
            _ => groups.push(Group {
                day_type: DAY_TYPES[day],
                period: name,
                slots: vec![s],
            }),
        }
    }
    Profile { groups }
}
