//! Means over each plant-local 15-minute window, judged once the window has closed: the power
//! factor of the incomers against the tariff's base, a compressor room's power and air flow
//! for its specific power.

use super::demand::window_start;

/// One series' readings in the current window, and the last closed window's mean.
#[derive(Debug, Clone, Default)]
pub struct WindowMean {
    window: i64,
    sum: f64,
    n: u32,
    /// The latest closed window: its start and mean power factor.
    pub closed: Option<(i64, f64)>,
}

impl WindowMean {
    fn roll(&mut self, w: i64) {
        if self.n > 0 {
            self.closed = Some((self.window, self.sum / f64::from(self.n)));
        }
        self.window = w;
        self.sum = 0.0;
        self.n = 0;
    }

    /// A reading at `ts`.
    pub fn observe(&mut self, ts: i64, value: f64, tz: chrono_tz::Tz) {
        let w = window_start(ts, tz);
        if w < self.window || !value.is_finite() {
            return;
        }
        if w > self.window {
            self.roll(w);
        }
        self.sum += value;
        self.n += 1;
    }

    /// Closes the current window once `now` is past it.
    pub fn close_until(&mut self, now: i64, tz: chrono_tz::Tz) {
        let w = window_start(now, tz);
        if w > self.window && self.window != 0 {
            self.roll(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_judged_on_its_mean_once_closed() {
        let tz = chrono_tz::UTC;
        let mut p = WindowMean::default();
        p.observe(900_000, 0.70, tz);
        p.observe(960_000, 0.80, tz);
        assert_eq!(p.closed, None);
        p.close_until(1_800_000, tz);
        let (w, mean) = p.closed.unwrap();
        assert_eq!(w, 900_000);
        assert!((mean - 0.75).abs() < 1e-9);
    }
}
