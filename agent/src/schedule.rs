//! Drift-free polling schedules: poll `k` is due at `start + k × interval`, whatever the polls
//! before it took. A tick that passed while the previous poll ran is counted as missed and
//! skipped, never run late in a bunch; a failing device backs off exponentially on its own
//! schedule, so healthy devices are not delayed.

use std::time::Duration;

use tokio::time::Instant;

/// The longest a dead device waits between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Extra wait after `failures` consecutive failed polls: none after the first, then 1, 3, 7 …
/// intervals, capped at [`MAX_BACKOFF`].
pub fn backoff(failures: u32, interval: Duration) -> Duration {
    if failures <= 1 {
        return Duration::ZERO;
    }
    let factor = (1u64 << (failures - 1).min(20)) - 1;
    interval
        .saturating_mul(u32::try_from(factor).unwrap_or(u32::MAX))
        .min(MAX_BACKOFF.max(interval))
}

#[derive(Debug, Clone)]
pub struct Schedule {
    start: Instant,
    interval: Duration,
    k: u64,
}

impl Schedule {
    pub fn new(start: Instant, interval: Duration) -> Self {
        Self {
            start,
            interval,
            k: 0,
        }
    }

    /// When the current poll is due.
    pub fn due(&self) -> Instant {
        self.tick(self.k)
    }

    fn tick(&self, k: u64) -> Instant {
        self.start
            + self
                .interval
                .saturating_mul(u32::try_from(k).unwrap_or(u32::MAX))
    }

    /// First tick index at or after `t`.
    fn first_at_or_after(&self, t: Instant) -> u64 {
        let elapsed = t.saturating_duration_since(self.start).as_nanos();
        let i = self.interval.as_nanos().max(1);
        u64::try_from(elapsed.div_ceil(i)).unwrap_or(u64::MAX)
    }

    /// Moves to the next tick after a poll that ended at `now`, waiting at least `hold` more.
    /// Returns (ticks missed because the poll overran, ticks skipped to honour `hold`).
    pub fn advance(&mut self, now: Instant, hold: Duration) -> (u64, u64) {
        let next = self.k + 1;
        let on_time = self.first_at_or_after(now).max(next);
        let held = self.first_at_or_after(now + hold).max(on_time);
        self.k = held;
        (on_time - next, held - on_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn ticks_do_not_drift() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, S);
        // Polls that take 300 ms never shift the grid.
        for k in 1..=100u32 {
            let (missed, held) = s.advance(s.due() + Duration::from_millis(300), Duration::ZERO);
            assert_eq!((missed, held), (0, 0));
            assert_eq!(s.due(), t0 + S * k);
        }
    }

    #[test]
    fn an_overrun_skips_ticks_and_counts_them() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, S);
        // The poll due at 0 s ends at 3.5 s: ticks 1, 2 and 3 passed.
        let (missed, held) = s.advance(t0 + Duration::from_millis(3500), Duration::ZERO);
        assert_eq!((missed, held), (3, 0));
        assert_eq!(s.due(), t0 + S * 4);
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0, S), Duration::ZERO);
        assert_eq!(backoff(1, S), Duration::ZERO);
        assert_eq!(backoff(2, S), S);
        assert_eq!(backoff(3, S), S * 3);
        assert_eq!(backoff(4, S), S * 7);
        assert_eq!(backoff(30, S), MAX_BACKOFF);
        // A device polled hourly still retries at its own interval, not faster.
        assert_eq!(backoff(30, S * 3600), S * 3600);
    }

    #[test]
    fn holding_skips_ticks_on_purpose() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, S);
        let (missed, held) = s.advance(t0 + Duration::from_millis(100), S * 3);
        assert_eq!((missed, held), (0, 3));
        assert_eq!(s.due(), t0 + S * 4);
    }
}
