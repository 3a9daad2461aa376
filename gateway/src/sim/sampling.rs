//! How the simulated plant is read: a poller's timing (its own phase per device, a little
//! jitter per poll) and the noise of real instruments. The history backfill samples with it so
//! that analytics meet data that looks like what the live agent stores: one-minute samples
//! taken on the minute would stay in phase with a compressor's one-minute load/unload cycle
//! and never see it loaded.

use std::collections::BTreeMap;

use super::plant::{part_values, Part, Snapshot};
use super::rng::Rng;

/// History keeps at most one poll a minute: a year of one-second polls would be 600 million
/// samples. Devices polled more slowly keep all their polls.
pub const HISTORY_MIN_INTERVAL_MS: i64 = 60_000;

/// When one device is polled, and which polls a history keeps. The poller's slots are
/// `phase + k × interval` (the device's own phase, no drift, like `tokio::time::interval`),
/// each poll a little late; of a device polled faster than once a minute the history keeps the
/// last poll of each minute, so each minute's counter increment covers (nearly) that minute, as
/// live polls do, and the history joins the live data without a shifted quarter-hour.
pub struct Poller {
    interval_ms: i64,
    phase_ms: i64,
    next: i64,
    rng: Rng,
}

impl Poller {
    /// A poller for the device at `index` of the site file, polling every `interval_ms`; its
    /// first history poll is at or after `start_ms`. Phase and jitter follow from `seed`.
    pub fn new(seed: u64, index: usize, interval_ms: i64, start_ms: i64) -> Self {
        let interval_ms = interval_ms.max(1);
        let mut rng = Rng::new(seed ^ 0x9011_0000 ^ (index as u64).wrapping_mul(0x1000_0001));
        let phase_ms = (rng.uniform() * interval_ms as f64) as i64;
        let mut p = Self {
            interval_ms,
            phase_ms,
            next: 0,
            rng,
        };
        p.next = p.slot_from(start_ms) + p.jitter();
        p
    }

    /// The first kept slot at or after `t`.
    fn slot_from(&self, t: i64) -> i64 {
        let (i, phase) = (self.interval_ms, self.phase_ms);
        if i >= HISTORY_MIN_INTERVAL_MS {
            return t + (phase - t).rem_euclid(i);
        }
        let last_in_minute = |m: i64| {
            let end = m + 59_999;
            end - (end - phase).rem_euclid(i)
        };
        let m = t - t.rem_euclid(60_000);
        let s = last_in_minute(m);
        if s >= t {
            s
        } else {
            last_in_minute(m + 60_000)
        }
    }

    /// A poll's lateness: a Modbus TCP turnaround of 10-40 ms and now and then a busy
    /// scheduler (up to a quarter of a second).
    fn jitter(&mut self) -> i64 {
        let turnaround = 10.0 + 30.0 * self.rng.uniform();
        let busy = if self.rng.uniform() < 0.05 {
            250.0 * self.rng.uniform()
        } else {
            0.0
        };
        (turnaround + busy) as i64
    }

    /// The instant of the kept poll due before `until_ms`, if one is, and moves on.
    pub fn due(&mut self, until_ms: i64) -> Option<i64> {
        if self.next >= until_ms {
            return None;
        }
        let at = self.next;
        // The slot this poll belongs to is at most the jitter before it.
        let slot = self.slot_from(at - 300);
        self.next = self.slot_from(slot + 1) + self.jitter();
        Some(at)
    }
}

/// Adds what a real instrument adds to `value` of `quantity`: class 0.5 meters (σ 0.2 % of
/// reading), 0.1 %-of-span transmitters, ±0.1 °C sensors. Registers (energy, counts) are read
/// exactly: they are the meter's own sums.
pub fn instrument_noise(quantity: &str, value: f64, rng: &mut Rng) -> f64 {
    let relative = |sigma: f64, rng: &mut Rng| value * (1.0 + sigma * rng.gauss());
    match quantity {
        "active_power" | "reactive_power" | "apparent_power" | "current_l1" | "current_l2"
        | "current_l3" | "active_power_l1" | "active_power_l2" | "active_power_l3" => {
            relative(0.002, rng)
        }
        "power_factor" => (value + 0.002 * rng.gauss()).clamp(0.0, 1.0),
        "pressure" => value + 0.005 * rng.gauss(),
        "air_flow" | "water_flow" | "steam_flow" | "gas_flow" => relative(0.005, rng),
        "chw_supply_temp"
        | "chw_return_temp"
        | "outdoor_temp"
        | "cw_supply_temp"
        | "cw_return_temp"
        | "wet_bulb_temp"
        | "feedwater_temp"
        | "combustion_air_temp" => value + 0.05 * rng.gauss(),
        "flue_gas_temp" => value + 0.3 * rng.gauss(),
        "flue_gas_o2" => value + 0.02 * rng.gauss(),
        "steam_pressure" => value + 0.01 * rng.gauss(),
        "differential_pressure" => relative(0.002, rng),
        "outdoor_humidity" => (value + 0.5 * rng.gauss()).clamp(0.0, 100.0),
        _ => value,
    }
}

/// What a device on `part` reads for the plant's state, with instrument noise.
pub fn read(
    part: Part,
    snap: &Snapshot,
    voltage_ln: f64,
    frequency: f64,
    rng: &mut Rng,
) -> BTreeMap<&'static str, f64> {
    let mut values = part_values(part, snap, voltage_ln, frequency, rng);
    for (q, v) in values.iter_mut() {
        *v = instrument_noise(q, *v, rng);
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polls(interval: i64, index: usize, n: usize) -> Vec<i64> {
        let start = 1_790_000_000_000 - 1_790_000_000_000 % 60_000;
        let mut p = Poller::new(1, index, interval, start);
        let mut out = Vec::new();
        let mut t = start;
        while out.len() < n {
            t += 1000;
            while let Some(at) = p.due(t) {
                assert!(at < t && at >= start);
                out.push(at);
            }
        }
        out
    }

    #[test]
    fn history_keeps_the_last_poll_of_each_minute_at_the_device_phase() {
        let mut phases = Vec::new();
        for index in 0..8 {
            let ps = polls(60_000, index, 100);
            for w in ps.windows(2) {
                let gap = w[1] - w[0];
                assert!((59_700..=60_300).contains(&gap), "{gap}");
            }
            // No drift: poll k lies within the jitter of slot k.
            let drift = ps[99] - 99 * 60_000 - ps[0];
            assert!(drift.abs() < 300, "{drift} ms");
            phases.push(ps[0].rem_euclid(60_000));
        }
        phases.sort_unstable();
        phases.dedup_by(|a, b| (*a - *b).abs() < 1000);
        assert!(
            phases.len() >= 6,
            "devices polled at their own phases: {phases:?}"
        );
        // Polled every second: the last poll of each minute, within its last second (plus
        // the poll's lateness).
        for p in polls(1_000, 2, 100) {
            assert!(
                p.rem_euclid(60_000) >= 59_000 || p.rem_euclid(60_000) < 300,
                "{p}"
            );
        }
        // Every 10 s: the last of the minute's six slots.
        for p in polls(10_000, 5, 50) {
            assert!(p.rem_euclid(60_000) >= 50_000, "{p}");
        }
        // Deterministic per seed.
        assert_eq!(polls(1_000, 3, 20), polls(1_000, 3, 20));
    }

    #[test]
    fn noise_is_small_and_registers_are_exact() {
        let mut rng = Rng::new(3);
        let n = 10_000;
        let xs: Vec<f64> = (0..n)
            .map(|_| instrument_noise("active_power", 100.0, &mut rng))
            .collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!((mean - 100.0).abs() < 0.01, "{mean}");
        assert!((sd - 0.2).abs() < 0.02, "{sd}");
        assert_eq!(
            instrument_noise("active_energy_import", 1234.5, &mut rng),
            1234.5
        );
        assert!(instrument_noise("power_factor", 1.0, &mut rng) <= 1.0);
    }
}
