//! What makes a real plant less regular than its schedule: production runs a few percent
//! above or below plan, air demand wanders from minute to minute, and now and then a line
//! stops unplanned (a jam, a changeover that overran). Deterministic per seed; the stops of a
//! day depend only on the seed and the date, so a history and the live run that continues it
//! agree.

use chrono::{Datelike, NaiveDateTime, Timelike};

use super::rng::Rng;

/// Share of production days with an unplanned stop.
const STOP_DAYS: f64 = 0.12;

/// One instant's deviations from plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deviation {
    /// Multiplies planned production (and the load and process air it brings).
    pub production: f64,
    /// Multiplies compressed-air demand (process and leaks).
    pub air: f64,
    /// The line is stopped (unplanned).
    pub stopped: bool,
}

pub struct Variation {
    seed: u64,
    rng: Rng,
    production: f64,
    air: f64,
    /// The current local day (days from CE) and its stop (minutes of the day, [from, to)).
    stop: Option<(i32, Option<(u32, u32)>)>,
}

/// AR(1) step of a process with standard deviation `sigma` and time constant `tau` seconds.
fn ar1(x: f64, sigma: f64, tau: f64, dt: f64, rng: &mut Rng) -> f64 {
    let k = (dt / tau).min(1.0);
    (1.0 - k) * x + (k * (2.0 - k)).sqrt() * sigma * rng.gauss()
}

impl Variation {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            rng: Rng::new(seed ^ 0x0a71_a710),
            production: 0.0,
            air: 0.0,
            stop: None,
        }
    }

    /// The unplanned stop of a local day, if it has one: minutes of the day [from, to), during
    /// the day shifts.
    pub fn stop_on(&self, day: i32) -> Option<(u32, u32)> {
        let mut rng = Rng::new(self.seed ^ 0x5709 ^ (day as u64).wrapping_mul(0x2545_f491));
        if rng.uniform() >= STOP_DAYS {
            return None;
        }
        let from = 8 * 60 + (rng.uniform() * 9.0 * 60.0) as u32;
        let length = 15 + (rng.uniform() * 75.0) as u32;
        Some((from, from + length))
    }

    /// Advances `dt` seconds to plant-local time `local`.
    pub fn step(&mut self, local: NaiveDateTime, dt: f64) -> Deviation {
        self.production = ar1(self.production, 0.03, 1800.0, dt, &mut self.rng);
        self.air = ar1(self.air, 0.04, 300.0, dt, &mut self.rng);
        let day = local.date().num_days_from_ce();
        if self.stop.is_none_or(|(d, _)| d != day) {
            self.stop = Some((day, self.stop_on(day)));
        }
        let minute = local.hour() * 60 + local.minute();
        let stopped = matches!(self.stop, Some((_, Some((a, b)))) if a <= minute && minute < b);
        Deviation {
            production: (1.0 + self.production).max(0.0),
            air: (1.0 + self.air).max(0.0),
            stopped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deviations_are_small_and_stops_are_rare_and_reproducible() {
        let mut v = Variation::new(1);
        let start: NaiveDateTime = "2026-03-02T00:00:00".parse().unwrap();
        let (mut n, mut sum, mut sq, mut stopped_minutes) = (0.0, 0.0, 0.0, 0u32);
        for s in 0..(30 * 86_400) {
            let t = start + chrono::Duration::seconds(s);
            let d = v.step(t, 1.0);
            n += 1.0;
            sum += d.air;
            sq += d.air * d.air;
            if d.stopped && s % 60 == 0 {
                stopped_minutes += 1;
                assert!(
                    (8..19).contains(&t.hour()),
                    "stops happen in the day shifts"
                );
            }
        }
        let mean = sum / n;
        let sd = (sq / n - mean * mean).sqrt();
        assert!((mean - 1.0).abs() < 0.02, "{mean}");
        assert!((0.02..0.06).contains(&sd), "{sd}");
        let days = (0..30)
            .filter(|k| v.stop_on(start.date().num_days_from_ce() + k).is_some())
            .count();
        assert!((1..=10).contains(&days), "{days} days of 30 with a stop");
        assert!(stopped_minutes > 0);
        assert_eq!(
            Variation::new(1).stop_on(739_000),
            Variation::new(1).stop_on(739_000)
        );
    }
}
