//! Per-interval aggregation of a channel: average, minimum, maximum and last value of the
//! interval being measured, and the same of the last completed interval (what is served).

/// Running statistics of one interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub sum: f32,
    pub count: u16,
    pub min: f32,
    pub max: f32,
    pub last: f32,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            sum: 0.0,
            count: 0,
            min: f32::NAN,
            max: f32::NAN,
            last: f32::NAN,
        }
    }
}

impl Stats {
    pub fn push(&mut self, v: f32) {
        if !v.is_finite() {
            return;
        }
        self.sum += v;
        self.count = self.count.saturating_add(1);
        self.min = if self.count == 1 { v } else { self.min.min(v) };
        self.max = if self.count == 1 { v } else { self.max.max(v) };
        self.last = v;
    }

    /// The average, or NaN without samples (served as the "not available" value).
    pub fn avg(&self) -> f32 {
        if self.count == 0 {
            f32::NAN
        } else {
            self.sum / self.count as f32
        }
    }
}

/// A channel's current and last completed interval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Interval {
    pub current: Stats,
    pub done: Stats,
}

impl Interval {
    pub fn push(&mut self, v: f32) {
        self.current.push(v);
    }

    /// Closes the interval: its statistics become the served ones.
    pub fn roll(&mut self) {
        self.done = self.current;
        self.current = Stats::default();
    }

    /// The latest sample, from the running interval or the one before.
    pub fn last(&self) -> f32 {
        if self.current.count > 0 {
            self.current.last
        } else {
            self.done.last
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_statistics_and_roll() {
        let mut i = Interval::default();
        for v in [3.0, 1.0, f32::NAN, 5.0] {
            i.push(v);
        }
        assert_eq!(i.current.count, 3, "NaN is not a sample");
        assert_eq!(i.current.avg(), 3.0);
        assert_eq!(
            (i.current.min, i.current.max, i.current.last),
            (1.0, 5.0, 5.0)
        );
        i.roll();
        assert_eq!(i.done.avg(), 3.0);
        assert!(i.current.avg().is_nan());
        assert_eq!(i.last(), 5.0);
    }
}
