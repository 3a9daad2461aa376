//! Time for the core: a wrapping millisecond clock (a SysTick or timer counter on the board).

/// Milliseconds since start, wrapping at 2³² (49.7 days); compare with [`since`].
pub trait Clock {
    fn now_ms(&self) -> u32;
}

/// Milliseconds from `earlier` to `now`, correct across one wrap of the counter.
pub const fn since(now: u32, earlier: u32) -> u32 {
    now.wrapping_sub(earlier)
}

/// Whether `deadline` has passed at `now` (wrap-safe for spans under 24 days).
pub const fn reached(now: u32, deadline: u32) -> bool {
    (now.wrapping_sub(deadline) as i32) >= 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_survive_the_wrap() {
        assert_eq!(since(5, u32::MAX - 4), 10);
        assert!(reached(3, u32::MAX - 1));
        assert!(!reached(u32::MAX - 1, 3));
        assert!(reached(100, 100));
    }
}
