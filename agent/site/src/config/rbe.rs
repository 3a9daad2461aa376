//! `[agent.report_by_exception]`: publish a quantity only when it moved by more than its
//! deadband, or when it has been silent for `heartbeat`.
//!
//! Counters and states are reported whenever they change (no deadband), so the gateway's
//! energy totals and load cycles stay exact; a deadband applies to instantaneous quantities.
//! The gateway reads this section too: when it is enabled, it rolls the site's series up with
//! each value held until the next sample (a value not reported is within the deadband of it).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::error::ConfigError;
use super::values::de_duration;
use crate::vocab::{self, Kind};

/// How far a value may move from the last reported one before it is reported again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Deadband {
    /// In the quantity's canonical unit.
    Absolute(f64),
    /// Percent of the last reported value's magnitude.
    Percent(f64),
}

impl Deadband {
    /// Whether `value` is far enough from `last` to be reported.
    pub fn exceeded(&self, last: f64, value: f64) -> bool {
        let moved = (value - last).abs();
        match *self {
            Deadband::Absolute(d) => moved > d,
            Deadband::Percent(p) => moved > last.abs() * p / 100.0,
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let (number, percent) = match t.strip_suffix('%') {
            Some(n) => (n.trim(), true),
            None => (t, false),
        };
        let v: f64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a deadband (e.g. 0.5 or \"1%\")"))?;
        if !v.is_finite() || v < 0.0 {
            return Err(format!("`{text}`: a deadband is a number >= 0"));
        }
        Ok(if percent {
            Deadband::Percent(v)
        } else {
            Deadband::Absolute(v)
        })
    }
}

impl<'de> Deserialize<'de> for Deadband {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Number(n) => n.to_string(),
            Raw::Text(t) => t,
        };
        Deadband::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportByException {
    /// Default false: every poll publishes every reading.
    #[serde(default)]
    pub enabled: bool,
    /// Longest silence of a quantity; at most the gateway's `gap_limit`, so the gateway
    /// bridges (holds) every silence (default 5m).
    #[serde(default = "default_heartbeat", deserialize_with = "de_duration")]
    pub heartbeat: Duration,
    /// Deadband of instantaneous quantities not listed in `deadband` (default 0: any change).
    #[serde(default = "no_deadband")]
    pub default_deadband: Deadband,
    /// Per quantity (canonical name): `active_power = "0.5%"`, `chw_supply_temp = 0.1`.
    #[serde(default)]
    pub deadband: BTreeMap<String, Deadband>,
}

fn default_heartbeat() -> Duration {
    Duration::from_secs(300)
}

fn no_deadband() -> Deadband {
    Deadband::Absolute(0.0)
}

impl Default for ReportByException {
    fn default() -> Self {
        Self {
            enabled: false,
            heartbeat: default_heartbeat(),
            default_deadband: no_deadband(),
            deadband: BTreeMap::new(),
        }
    }
}

impl ReportByException {
    /// The deadband of `quantity`; `None` for counters and states (reported on any change).
    pub fn deadband_of(&self, quantity: &str) -> Option<Deadband> {
        match vocab::quantity(quantity).map(|q| q.kind) {
            Ok(Kind::Counter | Kind::State) => None,
            _ => Some(
                self.deadband
                    .get(quantity)
                    .copied()
                    .unwrap_or(self.default_deadband),
            ),
        }
    }

    pub(super) fn check(&self, file: &str, gap_limit: Duration) -> Result<(), ConfigError> {
        let key = |k: &str| format!("agent.report_by_exception.{k}");
        if self.heartbeat.is_zero() || self.heartbeat > gap_limit {
            return Err(ConfigError::new(
                file,
                key("heartbeat"),
                format!(
                    "must be more than 0 and at most gateway.gap_limit ({} s): the gateway holds a value across a silence only up to its gap limit",
                    gap_limit.as_secs()
                ),
            ));
        }
        for name in self.deadband.keys() {
            let q = vocab::quantity(name).map_err(|e| {
                ConfigError::new(file, key(&format!("deadband.{name}")), e.to_string())
            })?;
            if q.kind != Kind::Instantaneous {
                return Err(ConfigError::new(
                    file,
                    key(&format!("deadband.{name}")),
                    "counters and states are reported whenever they change (so totals stay exact): no deadband",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadbands_absolute_and_percent() {
        assert_eq!(Deadband::parse("0.5").unwrap(), Deadband::Absolute(0.5));
        assert_eq!(Deadband::parse("2 %").unwrap(), Deadband::Percent(2.0));
        assert!(Deadband::parse("-1").is_err());
        assert!(Deadband::parse("abc%").is_err());
        let a = Deadband::Absolute(0.5);
        assert!(!a.exceeded(10.0, 10.5));
        assert!(a.exceeded(10.0, 10.51));
        let p = Deadband::Percent(1.0);
        assert!(!p.exceeded(200.0, 202.0));
        assert!(p.exceeded(200.0, 197.9));
        // Zero: any change.
        assert!(Deadband::Absolute(0.0).exceeded(1.0, 1.000001));
        assert!(!Deadband::Absolute(0.0).exceeded(1.0, 1.0));
    }

    #[test]
    fn counters_and_states_have_no_deadband() {
        let r = ReportByException {
            default_deadband: Deadband::Percent(1.0),
            ..Default::default()
        };
        assert_eq!(r.deadband_of("active_energy_import"), None);
        assert_eq!(r.deadband_of("run_state"), None);
        assert_eq!(r.deadband_of("active_power"), Some(Deadband::Percent(1.0)));
    }
}
