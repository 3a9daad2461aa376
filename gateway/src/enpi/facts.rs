//! Facts: the mergeable quantities of one interval (energy, air volume, loaded hours, …) from
//! which every indicator is a ratio or a bound. Quarter-hours are computed from the rollups and
//! merged into hours, days and months, so a month's kW/TR is Σ kWh / Σ TR·h, never an average
//! of ratios. A fact missing in any quarter is missing in the merge, with the reason and the
//! number of quarter-hours it affected.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::tariff::MAX_PERIODS;

/// How a fact merges.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Merge {
    Sum,
    Max,
    Min,
}

macro_rules! facts {
    ($($id:ident = $name:literal, $merge:ident;)*) => {
        /// Fact slots.
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        #[repr(usize)]
        pub enum F { $($id,)* }
        pub const NAMES: &[&str] = &[$($name,)*];
        pub const MERGES: &[Merge] = &[$(Merge::$merge,)*];
    };
}

facts! {
    KWH = "kwh", Sum;
    AUX_KWH = "aux_kwh", Sum;
    KVAH = "kvah", Sum;
    // pf_kwh: active energy over the same samples as kvah (the power factor's numerator).
    PF_KWH = "pf_kwh", Sum;
    AIR_M3 = "air_m3", Sum;
    RUN_H = "run_h", Sum;
    LOADED_H = "loaded_h", Sum;
    CYCLES = "cycles", Sum;
    IDLE_H = "idle_h", Sum;
    IDLE_RUN_H = "idle_run_h", Sum;
    IDLE_LOADED_H = "idle_loaded_h", Sum;
    IDLE_AIR_M3 = "idle_air_m3", Sum;
    P_BAR_H = "pressure_bar_h", Sum;
    P_MIN = "pressure_min", Min;
    P_MAX = "pressure_max", Max;
    TRH = "trh", Sum;
    DT_H = "delta_t_h", Sum;
    BIN100_KWH = "bin100_kwh", Sum;
    BIN75_KWH = "bin75_kwh", Sum;
    BIN50_KWH = "bin50_kwh", Sum;
    BIN25_KWH = "bin25_kwh", Sum;
    BIN100_TRH = "bin100_trh", Sum;
    BIN75_TRH = "bin75_trh", Sum;
    BIN50_TRH = "bin50_trh", Sum;
    BIN25_TRH = "bin25_trh", Sum;
    PRODUCTION = "production", Sum;
    DEMAND_KW = "demand_kw", Max;
    EXCEED_Q = "exceed_quarters", Sum;
    ENERGY_COST = "energy_cost", Sum;
    SCOPE2_KG = "scope2_kg", Sum;
    SCOPE1_KG = "scope1_kg", Sum;
    P0_KWH = "p0_kwh", Sum;
    P1_KWH = "p1_kwh", Sum;
    P2_KWH = "p2_kwh", Sum;
    P3_KWH = "p3_kwh", Sum;
    P4_KWH = "p4_kwh", Sum;
    P5_KWH = "p5_kwh", Sum;
    P6_KWH = "p6_kwh", Sum;
    P7_KWH = "p7_kwh", Sum;
    P0_COST = "p0_cost", Sum;
    P1_COST = "p1_cost", Sum;
    P2_COST = "p2_cost", Sum;
    P3_COST = "p3_cost", Sum;
    P4_COST = "p4_cost", Sum;
    P5_COST = "p5_cost", Sum;
    P6_COST = "p6_cost", Sum;
    P7_COST = "p7_cost", Sum;
    // Highest 15-minute demand in each tariff period (0 outside it): billed per contract kind.
    P0_DEMAND = "p0_demand_kw", Max;
    P1_DEMAND = "p1_demand_kw", Max;
    P2_DEMAND = "p2_demand_kw", Max;
    P3_DEMAND = "p3_demand_kw", Max;
    P4_DEMAND = "p4_demand_kw", Max;
    P5_DEMAND = "p5_demand_kw", Max;
    P6_DEMAND = "p6_demand_kw", Max;
    P7_DEMAND = "p7_demand_kw", Max;
    // Slots of the utility assets (pump, fan, boiler, …): each module names its own (see
    // `utility::slots`), so the stored layout grows by these twelve, not by every type's.
    U0 = "u0", Sum;
    U1 = "u1", Sum;
    U2 = "u2", Sum;
    U3 = "u3", Sum;
    U4 = "u4", Sum;
    U5 = "u5", Sum;
    U6 = "u6", Sum;
    U7 = "u7", Sum;
    U8 = "u8", Sum;
    U9 = "u9", Sum;
    U10 = "u10", Sum;
    U11 = "u11", Sum;
}

pub const N: usize = NAMES.len();
const _: () = assert!(F::P7_KWH as usize - F::P0_KWH as usize + 1 == MAX_PERIODS);
const _: () = assert!(F::P7_DEMAND as usize - F::P0_DEMAND as usize + 1 == MAX_PERIODS);

/// Slot of period `i`'s energy and cost.
pub fn period_kwh(i: usize) -> usize {
    F::P0_KWH as usize + i
}
pub fn period_cost(i: usize) -> usize {
    F::P0_COST as usize + i
}
pub fn period_demand(i: usize) -> usize {
    F::P0_DEMAND as usize + i
}

/// Why a value is missing; text is only made when it is shown.
#[derive(Clone, Debug, PartialEq)]
pub enum Why {
    Text(&'static str),
    /// An input's reason, in `n` of `of` quarter-hours.
    Input(Arc<str>, u32, u32),
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Text(t) => f.write_str(t),
            Why::Input(why, n, of) if n < of => write!(f, "{why} ({n} of {of} quarter-hours)"),
            Why::Input(why, ..) => f.write_str(why),
        }
    }
}

/// Facts of one interval. `None` with no reason: not applicable to this asset.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts {
    /// Quarter-hours merged in.
    pub quarters: u32,
    pub v: [Option<f64>; N],
    /// Why a fact is missing, and in how many quarter-hours.
    pub why: [Option<(Arc<str>, u32)>; N],
}

impl Default for Facts {
    fn default() -> Self {
        Self {
            quarters: 0,
            v: [None; N],
            why: std::array::from_fn(|_| None),
        }
    }
}

impl Facts {
    pub fn quarter() -> Self {
        Self {
            quarters: 1,
            ..Self::default()
        }
    }

    pub fn get(&self, f: F) -> Result<f64, Why> {
        self.get_slot(f as usize)
    }

    pub fn get_slot(&self, i: usize) -> Result<f64, Why> {
        match (&self.v[i], &self.why[i]) {
            (Some(v), None) => Ok(*v),
            (_, Some((why, n))) => Err(Why::Input(why.clone(), *n, self.quarters)),
            (None, None) => Err(Why::Text("input not configured for this asset")),
        }
    }

    pub fn set(&mut self, f: F, value: Result<f64, Arc<str>>) {
        self.set_slot(f as usize, value);
    }

    pub fn set_slot(&mut self, i: usize, value: Result<f64, Arc<str>>) {
        match value {
            Ok(v) => {
                self.v[i] = Some(v);
                self.why[i] = None;
            }
            Err(why) => {
                self.v[i] = None;
                self.why[i] = Some((why, 1));
            }
        }
    }

    /// Merges `other` (the next interval) into `self`.
    pub fn merge(&mut self, other: &Facts) {
        if self.quarters == 0 {
            *self = other.clone();
            return;
        }
        self.quarters += other.quarters;
        for (i, merge) in MERGES.iter().enumerate() {
            match (&mut self.why[i], &other.why[i]) {
                (Some((_, n)), Some((_, m))) => *n += m,
                (Some(_), None) => {}
                (mine @ None, Some(theirs)) => *mine = Some(theirs.clone()),
                (None, None) => {
                    self.v[i] = match (self.v[i], other.v[i]) {
                        (Some(a), Some(b)) => Some(match merge {
                            Merge::Sum => a + b,
                            Merge::Max => a.max(b),
                            Merge::Min => a.min(b),
                        }),
                        (a, b) => a.or(b),
                    };
                    continue;
                }
            }
            self.v[i] = None;
        }
    }
}

/// Stored form, compact: quarters, values by slot (null where missing or not applicable),
/// and (slot, reason, quarter-hours) for the missing ones. The slot layout is part of the
/// EnPI fingerprint, so a build with other slots recomputes instead of misreading.
#[derive(Serialize, Deserialize, Default)]
pub struct StoredFacts {
    pub q: u32,
    pub v: Vec<Option<f64>>,
    #[serde(default)]
    pub w: Vec<(usize, String, u32)>,
}

impl From<&Facts> for StoredFacts {
    fn from(f: &Facts) -> Self {
        let mut s = StoredFacts {
            q: f.quarters,
            v: f.v.to_vec(),
            w: Vec::new(),
        };
        for (i, why) in f.why.iter().enumerate() {
            if let Some((why, n)) = why {
                s.v[i] = None;
                s.w.push((i, why.to_string(), *n));
            }
        }
        s
    }
}

impl From<&StoredFacts> for Facts {
    fn from(s: &StoredFacts) -> Self {
        let mut f = Facts {
            quarters: s.q,
            ..Default::default()
        };
        for (i, v) in s.v.iter().enumerate().take(N) {
            f.v[i] = *v;
        }
        for (i, why, n) in &s.w {
            if *i < N {
                f.why[*i] = Some((Arc::from(why.as_str()), *n));
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_sums_bounds_and_keeps_reasons() {
        let mut a = Facts::quarter();
        a.set(F::KWH, Ok(10.0));
        a.set(F::DEMAND_KW, Ok(40.0));
        a.set(F::AIR_M3, Err("no data from air-header/air_flow".into()));
        let mut b = Facts::quarter();
        b.set(F::KWH, Ok(12.0));
        b.set(F::DEMAND_KW, Ok(48.0));
        b.set(F::AIR_M3, Ok(5.0));
        let mut m = Facts::default();
        m.merge(&a);
        m.merge(&b);
        m.merge(&a);
        assert_eq!(m.get(F::KWH), Ok(32.0));
        assert_eq!(m.get(F::DEMAND_KW), Ok(48.0));
        assert_eq!(
            m.get(F::AIR_M3).unwrap_err().to_string(),
            "no data from air-header/air_flow (2 of 3 quarter-hours)"
        );
        assert!(m
            .get(F::TRH)
            .unwrap_err()
            .to_string()
            .contains("not configured"));
        let back = Facts::from(&StoredFacts::from(&m));
        assert_eq!(back, m);
    }
}
