//! `scan`: which unit ids answer on a line, and which profile fits each one. Read-only: it
//! polls candidate profiles through the same [`Poller`] as normal operation.

use std::sync::Arc;
use std::time::Duration;

use crate::poll::{Bus, PollError, Poller};
use kilowatch_site::config::DeviceConfig;
use kilowatch_site::payload::Quality;
use kilowatch_site::profile::ProfileLibrary;

/// How well one profile explains what a device returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub profile: String,
    /// Readings that decoded to a physically plausible value.
    pub plausible: usize,
    pub total: usize,
}

#[derive(Debug, Clone)]
pub struct UnitReport {
    pub unit: u8,
    pub fits: Vec<Fit>,
}

impl UnitReport {
    /// The profile to suggest: most plausible readings, at least 60% of the profile's.
    pub fn best(&self) -> Option<&Fit> {
        self.fits
            .iter()
            .filter(|f| f.total > 0 && f.plausible * 10 >= f.total * 6)
            .max_by_key(|f| (f.plausible * 1000 / f.total, f.plausible))
    }
}

/// Whether a value in canonical units is one a real meter could report.
pub fn plausible(quantity: &str, v: f64) -> bool {
    if !v.is_finite() {
        return false;
    }
    let range = match quantity {
        "frequency" => 45.0..=65.0,
        "power_factor" => -1.0..=1.0,
        q if q.starts_with("voltage_") => 0.0..=1000.0,
        q if q.starts_with("current_") => 0.0..=20_000.0,
        q if q.contains("energy") => 0.0..=1e10,
        q if q.contains("power") => -100_000.0..=100_000.0,
        _ => f64::MIN..=f64::MAX,
    };
    // Denormal-looking garbage (a float decoded from unrelated registers) is not plausible.
    range.contains(&v) && (v == 0.0 || v.abs() > 1e-6)
}

/// Probes one unit id with every register-map profile. `None` when nothing answered.
pub async fn probe_unit(
    bus: &Arc<Bus>,
    unit: u8,
    profiles: &ProfileLibrary,
    timeout: Duration,
) -> Option<UnitReport> {
    let mut fits = Vec::new();
    let mut answered = false;
    for p in profiles.iter().filter(|p| p.channels.is_empty()) {
        let device = DeviceConfig::new("scan", &p.name, bus.transport().clone(), unit, timeout);
        let mut poller = Poller::new(device, p.clone(), bus.clone());
        match poller.poll().await {
            Ok(outcome) => {
                answered = true;
                let total = outcome.readings.len();
                let plausible = outcome
                    .readings
                    .iter()
                    .filter(|r| {
                        r.quality == Quality::Good
                            && r.value.is_some_and(|v| plausible(&r.quantity, v))
                    })
                    .count();
                fits.push(Fit {
                    profile: p.name.clone(),
                    plausible,
                    total,
                });
            }
            // Silence on the first try: nobody at this address.
            Err(PollError::Timeout { .. }) if !answered => return None,
            Err(e) => {
                tracing::debug!(unit, profile = %p.name, "probe failed: {e}");
                if matches!(e, PollError::Connect { .. } | PollError::Resolve { .. }) {
                    return None;
                }
            }
        }
    }
    answered.then_some(UnitReport { unit, fits })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausibility() {
        assert!(plausible("frequency", 50.02));
        assert!(!plausible("frequency", 5002.0));
        assert!(plausible("voltage_l1", 230.1));
        assert!(!plausible("voltage_l1", 1.4e-39));
        assert!(!plausible("power_factor", 3.0));
        assert!(plausible("active_energy_import", 0.0));
        assert!(!plausible("active_power", f64::NAN));
    }

    #[test]
    fn best_fit_needs_most_readings_plausible() {
        let r = UnitReport {
            unit: 1,
            fits: vec![
                Fit {
                    profile: "a".into(),
                    plausible: 20,
                    total: 22,
                },
                Fit {
                    profile: "b".into(),
                    plausible: 11,
                    total: 11,
                },
                Fit {
                    profile: "c".into(),
                    plausible: 3,
                    total: 20,
                },
            ],
        };
        assert_eq!(r.best().unwrap().profile, "b");
        let none = UnitReport {
            unit: 2,
            fits: vec![r.fits[2].clone()],
        };
        assert!(none.best().is_none());
    }
}
