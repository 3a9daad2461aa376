//! A three-phase power meter on a plant feeder: a weekday/shift load profile drives the total
//! active power; the electrical quantities a real SDM630 reports follow from it.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

use super::rng::Rng;

/// `[devices.simulate]` settings of a simulated meter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterSettings {
    /// Night and weekend base load, kW.
    #[serde(default = "d_base")]
    pub base_kw: f64,
    /// Load during full production, kW.
    #[serde(default = "d_peak")]
    pub peak_kw: f64,
    /// Nominal line-to-neutral voltage, V (Taiwan LV industrial: 220/380 V).
    #[serde(default = "d_voltage")]
    pub voltage_ln: f64,
    /// Nominal frequency, Hz.
    #[serde(default = "d_freq")]
    pub frequency: f64,
    /// Import energy register at start, kWh.
    #[serde(default = "d_initial")]
    pub initial_kwh: f64,
    /// Random seed: the same seed and start time give the same series.
    #[serde(default)]
    pub seed: u64,
    /// How often values change, e.g. `1s`. A long step holds values still (tests).
    #[serde(default = "d_step")]
    pub step: String,
}

fn d_base() -> f64 {
    60.0
}
fn d_peak() -> f64 {
    320.0
}
fn d_voltage() -> f64 {
    220.0
}
fn d_freq() -> f64 {
    60.0
}
fn d_initial() -> f64 {
    125_000.0
}
fn d_step() -> String {
    "1s".into()
}

/// Fraction (0–1) of production load at a local time: two day shifts on weekdays with a lunch
/// dip, a lighter evening shift, a Saturday morning shift, idle on Sunday.
pub fn production_shape(local: chrono::NaiveDateTime) -> f64 {
    let h = f64::from(local.hour()) + f64::from(local.minute()) / 60.0;
    // (hour, level) breakpoints, linearly interpolated.
    const WEEKDAY: &[(f64, f64)] = &[
        (0.0, 0.0),
        (6.5, 0.0),
        (8.0, 1.0),
        (12.0, 1.0),
        (12.2, 0.7),
        (13.0, 0.7),
        (13.2, 1.0),
        (17.0, 1.0),
        (18.0, 0.55),
        (22.0, 0.55),
        (23.0, 0.0),
        (24.0, 0.0),
    ];
    const SATURDAY: &[(f64, f64)] = &[
        (0.0, 0.0),
        (7.0, 0.0),
        (8.0, 0.6),
        (12.0, 0.6),
        (13.0, 0.0),
        (24.0, 0.0),
    ];
    let curve = match local.weekday() {
        Weekday::Sun => return 0.0,
        Weekday::Sat => SATURDAY,
        _ => WEEKDAY,
    };
    for w in curve.windows(2) {
        let ((h0, v0), (h1, v1)) = (w[0], w[1]);
        if h >= h0 && h <= h1 {
            return v0 + (v1 - v0) * (h - h0) / (h1 - h0);
        }
    }
    0.0
}

/// The meter's evolving state.
/// What a three-phase meter shows for a balanced-ish load of `kw` at power factor `pf`:
/// per-phase voltages, currents and powers, line voltages, neutral current, kW, kVA, kvar, PF
/// and frequency (canonical units).
pub fn three_phase(
    kw: f64,
    pf: f64,
    voltage_ln: f64,
    frequency: f64,
    rng: &mut Rng,
) -> BTreeMap<&'static str, f64> {
    let kva = kw / pf;
    let kvar = (kva * kva - kw * kw).max(0.0).sqrt();
    let split = [0.345, 0.330, 0.325];
    let v_dev = [1.004, 0.997, 0.999];
    let mut q = BTreeMap::new();
    let mut volts = [0.0; 3];
    let mut amps = [0.0; 3];
    for p in 0..3 {
        volts[p] = voltage_ln * v_dev[p] * (1.0 + 0.001 * rng.gauss());
        amps[p] = kw * split[p] * 1000.0 / (volts[p] * pf);
    }
    let names_v = ["voltage_l1", "voltage_l2", "voltage_l3"];
    let names_i = ["current_l1", "current_l2", "current_l3"];
    let names_p = ["active_power_l1", "active_power_l2", "active_power_l3"];
    for p in 0..3 {
        q.insert(names_v[p], volts[p]);
        q.insert(names_i[p], amps[p]);
        q.insert(names_p[p], kw * split[p]);
    }
    // Line-to-line magnitude of two phasors 120° apart.
    let ll = |a: f64, b: f64| (a * a + b * b + a * b).sqrt();
    q.insert("voltage_l1_l2", ll(volts[0], volts[1]));
    q.insert("voltage_l2_l3", ll(volts[1], volts[2]));
    q.insert("voltage_l3_l1", ll(volts[2], volts[0]));
    let [a, b, c] = amps;
    q.insert(
        "current_n",
        (a * a + b * b + c * c - a * b - b * c - c * a)
            .max(0.0)
            .sqrt(),
    );
    q.insert("active_power", kw);
    q.insert("apparent_power", kva);
    q.insert("reactive_power", kvar);
    q.insert("power_factor", pf);
    q.insert("frequency", frequency + 0.01 * rng.gauss());
    q
}

pub struct Meter {
    s: MeterSettings,
    tz: Tz,
    rng: Rng,
    /// Slow load wander (fraction of load), an AR(1) process.
    wander: f64,
    import_kwh: f64,
    reactive_kvarh: f64,
    last: Option<DateTime<Utc>>,
    /// (time, kW) over the last 15 minutes, for the demand register.
    window: VecDeque<(DateTime<Utc>, f64)>,
    window_sum: f64,
}

impl Meter {
    pub fn new(s: MeterSettings, tz: Tz) -> Self {
        let rng = Rng::new(s.seed);
        let import_kwh = s.initial_kwh;
        Self {
            s,
            tz,
            rng,
            wander: 0.0,
            import_kwh,
            reactive_kvarh: 0.0,
            last: None,
            window: VecDeque::new(),
            window_sum: 0.0,
        }
    }

    /// Advances to `t` and returns every quantity the meter reports, in canonical units.
    pub fn step(&mut self, t: DateTime<Utc>) -> BTreeMap<&'static str, f64> {
        let s = &self.s;
        let local = t.with_timezone(&self.tz).naive_local();
        self.wander = 0.995 * self.wander + 0.1 * 0.02 * self.rng.gauss();
        let shape = production_shape(local);
        let kw = ((s.base_kw + (s.peak_kw - s.base_kw) * shape) * (1.0 + self.wander)
            + s.peak_kw * 0.005 * self.rng.gauss())
        .max(0.0);
        let load_fraction = (kw / s.peak_kw).clamp(0.0, 1.2);
        let pf = (0.78 + 0.17 * load_fraction).clamp(0.70, 0.97);
        let kva = kw / pf;
        let kvar = (kva * kva - kw * kw).max(0.0).sqrt();

        // Energy registers integrate the power held since the previous step.
        if let Some(prev) = self.last {
            let hours = (t - prev).num_milliseconds() as f64 / 3_600_000.0;
            if hours > 0.0 {
                self.import_kwh += kw * hours;
                self.reactive_kvarh += kvar * hours;
            }
        }
        self.last = Some(t);
        self.window.push_back((t, kw));
        self.window_sum += kw;
        while let Some(&(t0, v)) = self.window.front() {
            if t - t0 > chrono::Duration::minutes(15) {
                self.window.pop_front();
                self.window_sum -= v;
            } else {
                break;
            }
        }
        let demand = self.window_sum / self.window.len() as f64;

        let mut q = three_phase(kw, pf, s.voltage_ln, s.frequency, &mut self.rng);
        q.insert("active_energy_import", self.import_kwh);
        q.insert("active_energy_export", 0.0);
        q.insert("reactive_energy_import", self.reactive_kvarh);
        q.insert("active_power_demand", demand);
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> MeterSettings {
        toml::from_str("").unwrap()
    }

    #[test]
    fn shifts_weekends_and_nights() {
        let at = |s: &str| production_shape(s.parse().unwrap());
        assert_eq!(at("2026-11-23T10:00:00"), 1.0); // Monday morning
        assert_eq!(at("2026-11-23T03:00:00"), 0.0); // Monday night
        assert!((at("2026-11-23T12:30:00") - 0.7).abs() < 1e-9); // lunch
        assert_eq!(at("2026-11-22T10:00:00"), 0.0); // Sunday
        assert!((at("2026-11-28T10:00:00") - 0.6).abs() < 1e-9); // Saturday
    }

    #[test]
    fn energy_register_integrates_power() {
        let mut m = Meter::new(settings(), chrono_tz::Asia::Taipei);
        let t0: DateTime<Utc> = "2026-11-23T02:00:00Z".parse().unwrap();
        let mut integral = 0.0;
        let first = m.step(t0);
        let mut last_kw = first["active_power"];
        for i in 1..=3600 {
            let q = m.step(t0 + chrono::Duration::seconds(i));
            // The register integrates the power at the end of each step (held-value rule).
            integral += q["active_power"] / 3600.0;
            last_kw = q["active_power"];
            assert!(q["power_factor"] > 0.7 && q["power_factor"] < 0.98);
        }
        let q = m.step(t0 + chrono::Duration::seconds(3601));
        integral += q["active_power"] / 3600.0;
        let delta = q["active_energy_import"] - first["active_energy_import"];
        assert!(
            (delta - integral).abs() < 1e-6 * integral,
            "{delta} vs {integral}"
        );
        assert!(last_kw > 0.0);
    }

    #[test]
    fn currents_match_power() {
        let mut m = Meter::new(settings(), chrono_tz::Asia::Taipei);
        let q = m.step("2026-11-23T02:00:00Z".parse().unwrap());
        let p: f64 = (1..=3)
            .map(|i| {
                q[["voltage_l1", "voltage_l2", "voltage_l3"][i - 1]]
                    * q[["current_l1", "current_l2", "current_l3"][i - 1]]
                    * q["power_factor"]
                    / 1000.0
            })
            .sum();
        assert!((p - q["active_power"]).abs() < 1e-6 * q["active_power"]);
    }

    #[test]
    fn same_seed_same_series() {
        let run = || {
            let mut m = Meter::new(settings(), chrono_tz::Asia::Taipei);
            let t0: DateTime<Utc> = "2026-11-23T02:00:00Z".parse().unwrap();
            (0..100)
                .map(|i| m.step(t0 + chrono::Duration::seconds(i))["active_power"])
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}
