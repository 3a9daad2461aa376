//! 4–20 mA inputs: ADC counts → loop current → engineering units, with loop diagnostics.
//! embedded-hal 1.0 has no ADC trait, so the board implements [`LoopAdc`] over its HAL's ADC.

/// Reads one channel's loop current.
pub trait LoopAdc {
    type Error;
    /// Raw conversion of `channel` (right-aligned, `full_scale` counts = reference voltage).
    fn read_counts(&mut self, channel: u8) -> Result<u16, Self::Error>;
}

/// Quality of a channel's latest value, as served in its quality register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u16)]
pub enum Quality {
    Good = 0,
    /// Below 3.8 mA: broken wire or unpowered transmitter (NAMUR NE 43).
    OpenLoop = 1,
    /// Above 20.5 mA: over range or a transmitter signalling failure.
    OverRange = 2,
    /// The converter failed.
    AdcError = 3,
    /// Not sampled yet.
    NoData = 4,
}

/// One 4–20 mA channel: its converter scaling and the engineering range it spans.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoopChannel {
    pub channel: u8,
    /// Counts at the ADC's reference voltage (4095 for 12 bits).
    pub full_scale: u16,
    /// Reference voltage, mV, and the shunt the loop flows through, Ω (current = V / R).
    pub vref_mv: u16,
    pub shunt_ohm: u16,
    /// Engineering value at 4 mA and at 20 mA (e.g. 0 and 16 bar).
    pub low: f32,
    pub high: f32,
}

impl LoopChannel {
    /// A channel on the reference board's front end (src/bin/board.rs): 12-bit ADC,
    /// 3.3 V reference, 150 Ω shunt, so 20 mA reads 3.0 V with headroom for over-range.
    pub const fn reference_board(channel: u8, low: f32, high: f32) -> Self {
        LoopChannel {
            channel,
            full_scale: 4095,
            vref_mv: 3300,
            shunt_ohm: 150,
            low,
            high,
        }
    }

    /// Loop current (mA) from counts.
    pub fn milliamps(&self, counts: u16) -> f32 {
        let mv = counts as f32 * self.vref_mv as f32 / self.full_scale as f32;
        mv / self.shunt_ohm as f32
    }

    /// Engineering value and quality from a loop current. Out-of-band currents give no value.
    pub fn scale(&self, ma: f32) -> (f32, Quality) {
        if ma < 3.8 {
            (f32::NAN, Quality::OpenLoop)
        } else if ma > 20.5 {
            (f32::NAN, Quality::OverRange)
        } else {
            // 3.8–4 and 20–20.5 mA are NAMUR's tolerated margins: scaled linearly, still good.
            (
                self.low + (ma - 4.0) / 16.0 * (self.high - self.low),
                Quality::Good,
            )
        }
    }

    /// Samples the channel: (loop mA, engineering value, quality).
    pub fn sample<A: LoopAdc>(&self, adc: &mut A) -> (f32, f32, Quality) {
        match adc.read_counts(self.channel) {
            Ok(c) => {
                let ma = self.milliamps(c);
                let (v, q) = self.scale(ma);
                (ma, v, q)
            }
            Err(_) => (f32::NAN, f32::NAN, Quality::AdcError),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRESSURE: LoopChannel = LoopChannel::reference_board(0, 0.0, 16.0);

    #[test]
    fn scaling_and_loop_diagnostics() {
        // 12 mA × 150 Ω = 1.8 V → 1.8/3.3 × 4095 = 2233.6 counts.
        let ma = PRESSURE.milliamps(2234);
        assert!((ma - 12.0).abs() < 0.01, "{ma}");
        let (v, q) = PRESSURE.scale(12.0);
        assert_eq!(q, Quality::Good);
        assert!((v - 8.0).abs() < 1e-5);
        assert_eq!(PRESSURE.scale(4.0).0, 0.0);
        assert_eq!(PRESSURE.scale(20.0).0, 16.0);
        assert_eq!(PRESSURE.scale(3.79).1, Quality::OpenLoop);
        assert_eq!(PRESSURE.scale(3.8).1, Quality::Good);
        assert_eq!(PRESSURE.scale(20.51).1, Quality::OverRange);
        assert!(PRESSURE.scale(0.0).0.is_nan());
    }

    struct Broken;
    impl LoopAdc for Broken {
        type Error = ();
        fn read_counts(&mut self, _: u8) -> Result<u16, ()> {
            Err(())
        }
    }

    #[test]
    fn converter_errors_are_flagged() {
        let (_, v, q) = PRESSURE.sample(&mut Broken);
        assert!(v.is_nan());
        assert_eq!(q, Quality::AdcError);
    }
}
