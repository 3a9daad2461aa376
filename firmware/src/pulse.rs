//! Pulse inputs (flow totalisers, water meters): a hardware counter of any width, extended to
//! a 32-bit total that rolls over like a meter register.

/// A hardware pulse counter (a timer in external-clock mode, or an interrupt count).
pub trait PulseCounter {
    /// The counter's current value; it wraps at 2^bits.
    fn count(&mut self) -> u32;
    /// Called on every pass of the main loop (for counters that poll a pin).
    fn tick(&mut self) {}
}

/// Counts rising edges of a pin polled from the main loop: for totalisers whose pulses last
/// longer than a loop pass (reed and open-collector outputs, ≥ 1 ms), without a timer or an
/// interrupt line.
pub struct EdgeCounter<P> {
    pin: P,
    level: bool,
    count: u32,
}

impl<P: embedded_hal::digital::InputPin> EdgeCounter<P> {
    pub fn new(pin: P) -> Self {
        Self {
            pin,
            level: true,
            count: 0,
        }
    }
}

impl<P: embedded_hal::digital::InputPin> PulseCounter for EdgeCounter<P> {
    fn count(&mut self) -> u32 {
        self.count
    }

    fn tick(&mut self) {
        if let Ok(high) = self.pin.is_high() {
            if high && !self.level {
                self.count = self.count.wrapping_add(1);
            }
            self.level = high;
        }
    }
}

pub struct PulseTotal<C> {
    counter: C,
    /// Width of the hardware counter (16 for most STM32 timers, 32 for TIM2/TIM5).
    bits: u8,
    last: Option<u32>,
    /// Pulses since start, wrapping at 2³² (as served; the agent's counter handling expects it).
    pub total: u32,
    /// Pulses in the running and the last completed interval.
    pub current: u32,
    pub done: u32,
}

impl<C: PulseCounter> PulseTotal<C> {
    pub fn new(counter: C, bits: u8) -> Self {
        Self {
            counter,
            bits: bits.clamp(1, 32),
            last: None,
            total: 0,
            current: 0,
            done: 0,
        }
    }

    pub fn tick(&mut self) {
        self.counter.tick();
    }

    /// Reads the hardware counter; call more often than it can wrap.
    pub fn sample(&mut self) {
        let now = self.counter.count();
        let mask = if self.bits == 32 {
            u32::MAX
        } else {
            (1u32 << self.bits) - 1
        };
        if let Some(last) = self.last {
            let delta = now.wrapping_sub(last) & mask;
            self.total = self.total.wrapping_add(delta);
            self.current = self.current.wrapping_add(delta);
        }
        self.last = Some(now & mask);
    }

    pub fn roll(&mut self) {
        self.done = self.current;
        self.current = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Hw(u32);
    impl PulseCounter for &mut Hw {
        fn count(&mut self) -> u32 {
            self.0
        }
    }

    #[test]
    fn sixteen_bit_hardware_wrap_and_32_bit_total_rollover() {
        let mut hw = Hw(65_530);
        let mut p = PulseTotal::new(&mut hw, 16);
        p.sample();
        p.counter.0 = 10; // wrapped: 16 pulses
        p.sample();
        assert_eq!(p.total, 16);
        p.roll();
        assert_eq!((p.done, p.current), (16, 0));
        p.total = u32::MAX - 5;
        p.counter.0 = 20;
        p.sample();
        assert_eq!(
            p.total, 4,
            "the 32-bit total rolls over like a meter register"
        );
    }
}
