//! The compressor's load signal on a digital input: debounced, with loaded and unloaded time
//! and load cycles (unloaded → loaded transitions).

use embedded_hal::digital::InputPin;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadCounters {
    /// Debounced state: true = loaded.
    pub loaded: bool,
    pub loaded_ms: u64,
    pub unloaded_ms: u64,
    pub cycles: u32,
    /// Whether a state has been established yet.
    pub valid: bool,
    /// Read errors of the pin.
    pub errors: u32,
}

/// Debounces by requiring `samples` equal consecutive reads before accepting a change.
pub struct LoadInput<P> {
    pin: P,
    /// Reads needed to accept a change (sampling period × samples = debounce time).
    samples: u8,
    /// Active-low inputs (opto-isolators often pull down when the contact closes).
    inverted: bool,
    streak: u8,
    candidate: bool,
    last_ms: Option<u32>,
    pub counters: LoadCounters,
}

impl<P: InputPin> LoadInput<P> {
    pub fn new(pin: P, samples: u8, inverted: bool) -> Self {
        Self {
            pin,
            samples: samples.max(1),
            inverted,
            streak: 0,
            candidate: false,
            last_ms: None,
            counters: LoadCounters::default(),
        }
    }

    /// Samples the pin at `now_ms`; time since the previous sample is credited to the state
    /// that held during it.
    pub fn sample(&mut self, now_ms: u32) {
        if let Some(last) = self.last_ms {
            let dt = u64::from(crate::clock::since(now_ms, last));
            if self.counters.valid {
                if self.counters.loaded {
                    self.counters.loaded_ms += dt;
                } else {
                    self.counters.unloaded_ms += dt;
                }
            }
        }
        self.last_ms = Some(now_ms);
        let raw = match self.pin.is_high() {
            Ok(h) => h != self.inverted,
            Err(_) => {
                self.counters.errors = self.counters.errors.wrapping_add(1);
                return;
            }
        };
        if raw == self.candidate {
            self.streak = self.streak.saturating_add(1);
        } else {
            self.candidate = raw;
            self.streak = 1;
        }
        let c = &mut self.counters;
        if self.streak >= self.samples && (!c.valid || c.loaded != raw) {
            if c.valid && raw {
                c.cycles = c.cycles.wrapping_add(1);
            }
            c.loaded = raw;
            c.valid = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    /// A pin whose level the test sets.
    pub struct FakePin<'a>(pub &'a Cell<bool>);
    impl embedded_hal::digital::ErrorType for FakePin<'_> {
        type Error = core::convert::Infallible;
    }
    impl InputPin for FakePin<'_> {
        fn is_high(&mut self) -> Result<bool, Self::Error> {
            Ok(self.0.get())
        }
        fn is_low(&mut self) -> Result<bool, Self::Error> {
            Ok(!self.0.get())
        }
    }

    #[test]
    fn debounced_cycles_and_times() {
        let level = Cell::new(false);
        let mut d = LoadInput::new(FakePin(&level), 3, false);
        let mut t = 0u32;
        let mut run = |d: &mut LoadInput<FakePin>, level_now: bool, ms: u32| {
            level.set(level_now);
            for _ in 0..ms / 10 {
                d.sample(t);
                t += 10;
            }
        };
        run(&mut d, false, 1000); // unloaded 1 s
                                  // Contact bounce: 20 ms of chatter must not count as cycles.
        for _ in 0..2 {
            run(&mut d, true, 10);
            run(&mut d, false, 10);
        }
        run(&mut d, true, 5000); // loaded 5 s
        run(&mut d, false, 2000);
        run(&mut d, true, 1000);
        let c = d.counters;
        assert_eq!(c.cycles, 2);
        assert!(c.loaded);
        // Debounce delays each change by 3 samples (20 ms of credit to the old state).
        // 5 s + 1 s loaded and 1 s + 40 ms chatter + 2 s unloaded, each change accepted
        // 20-30 ms late by the debounce.
        assert!((5900..=6000).contains(&c.loaded_ms), "{c:?}");
        assert!((3000..=3100).contains(&c.unloaded_ms), "{c:?}");
    }
}
