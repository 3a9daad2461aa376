//! The life of one alarm in the engine: a condition must hold for `raise_after` before the
//! alarm is raised and be gone for `clear_after` before it clears; between the raise and the
//! clear threshold (the hysteresis band) nothing changes, so a value hovering at the limit
//! does not flap.

use serde::{Deserialize, Serialize};

/// Where a rule's value stands against its thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// At or past the raise threshold.
    On,
    /// Back past the clear threshold (threshold minus hysteresis).
    Off,
    /// In the hysteresis band, or no value to judge: keep the current state.
    Hold,
}

impl Level {
    /// Level of `value` for a rule that fires at `threshold` and above (`above`) or below it,
    /// clearing only `hysteresis` beyond it on the other side.
    pub fn of(value: f64, threshold: f64, hysteresis: f64, above: bool) -> Self {
        let (on, off) = if above {
            (value >= threshold, value < threshold - hysteresis)
        } else {
            (value < threshold, value >= threshold + hysteresis)
        };
        if on {
            Level::On
        } else if off {
            Level::Off
        } else {
            Level::Hold
        }
    }
}

/// A state change decided by a [`Tracker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Raise,
    Clear,
}

/// Raised or not, and since when the condition has pointed the other way.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    pub raised: bool,
    since: Option<i64>,
}

impl Tracker {
    /// Feeds the level at `now` (ms); returns the change once the level has held long enough.
    pub fn update(
        &mut self,
        level: Level,
        now: i64,
        raise_after: i64,
        clear_after: i64,
    ) -> Option<Change> {
        let (toward, after, change) = if self.raised {
            (Level::Off, clear_after, Change::Clear)
        } else {
            (Level::On, raise_after, Change::Raise)
        };
        if level != toward {
            self.since = None;
            return None;
        }
        let since = *self.since.get_or_insert(now);
        if now - since >= after {
            self.raised = !self.raised;
            self.since = None;
            return Some(change);
        }
        None
    }
}

/// An alarm's state as stored and published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlarmState {
    Raised,
    Acknowledged,
    Cleared,
}

impl AlarmState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Raised => "raised",
            AlarmState::Acknowledged => "acknowledged",
            AlarmState::Cleared => "cleared",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "raised" => Some(AlarmState::Raised),
            "acknowledged" => Some(AlarmState::Acknowledged),
            "cleared" => Some(AlarmState::Cleared),
            _ => None,
        }
    }
}

/// Whether plant-local minute-of-day `minute` falls in one of the quiet ranges [from, to).
pub fn is_quiet(ranges: &[(u32, u32)], minute: u32) -> bool {
    ranges.iter().any(|&(a, b)| (a..b).contains(&minute))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hysteresis_keeps_the_state_inside_the_band() {
        // Fires at 100, clears below 95.
        assert_eq!(Level::of(100.0, 100.0, 5.0, true), Level::On);
        assert_eq!(Level::of(97.0, 100.0, 5.0, true), Level::Hold);
        assert_eq!(Level::of(94.9, 100.0, 5.0, true), Level::Off);
        // Below-rules (power factor 0.80, clears at 0.82 and above).
        assert_eq!(Level::of(0.79, 0.80, 0.02, false), Level::On);
        assert_eq!(Level::of(0.81, 0.80, 0.02, false), Level::Hold);
        assert_eq!(Level::of(0.83, 0.80, 0.02, false), Level::Off);

        let mut t = Tracker::default();
        assert_eq!(t.update(Level::On, 0, 0, 0), Some(Change::Raise));
        // Hovering in the band does not clear it.
        for now in 1..10 {
            assert_eq!(t.update(Level::Hold, now, 0, 0), None);
        }
        assert!(t.raised);
        assert_eq!(t.update(Level::Off, 10, 0, 0), Some(Change::Clear));
    }

    #[test]
    fn durations_before_raising_and_clearing() {
        let mut t = Tracker::default();
        assert_eq!(t.update(Level::On, 0, 30_000, 60_000), None);
        assert_eq!(t.update(Level::On, 29_999, 30_000, 60_000), None);
        // A blip back resets the count.
        assert_eq!(t.update(Level::Hold, 29_999, 30_000, 60_000), None);
        assert_eq!(t.update(Level::On, 40_000, 30_000, 60_000), None);
        assert_eq!(
            t.update(Level::On, 70_000, 30_000, 60_000),
            Some(Change::Raise)
        );
        assert_eq!(t.update(Level::Off, 80_000, 30_000, 60_000), None);
        assert_eq!(t.update(Level::Off, 139_999, 30_000, 60_000), None);
        assert_eq!(
            t.update(Level::Off, 140_000, 30_000, 60_000),
            Some(Change::Clear)
        );
        assert!(!t.raised);
    }

    #[test]
    fn quiet_hours_by_minute() {
        let r = [(0, 360), (1320, 1440)];
        assert!(is_quiet(&r, 23 * 60));
        assert!(is_quiet(&r, 5 * 60 + 59));
        assert!(!is_quiet(&r, 6 * 60));
        assert!(!is_quiet(&r, 12 * 60));
    }
}
