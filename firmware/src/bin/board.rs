//! The meter board on an STM32F411 ("Black Pill", 25 MHz crystal): the firmware core with the
//! board's peripherals behind its traits.
//!
//! | function | pins |
//! |---|---|
//! | upstream RS-485 (to the agent), USART1 | PA9 TX, PA10 RX, PA8 driver enable |
//! | downstream RS-485 (meters), USART2 | PA2 TX, PA3 RX, PA1 driver enable |
//! | 4–20 mA inputs over 150 Ω shunts, ADC1 | PA4, PA5, PA6, PA7 (channels 0–3) |
//! | load signal (opto-isolated, active low) | PB12 |
//! | pulse inputs (open collector, active low) | PB13, PB14 |
//! | configuration block | flash sector 7, 0x0806_0000 (firmware/CONFIG_BLOCK.md) |
//! | watchdog | IWDG, 1 s |
//!
//! On the host this file builds to a stub so `cargo test --workspace` works everywhere.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "kilowatch-meterboard runs on the board: cargo build -p firmware --target thumbv7em-none-eabihf --release"
    );
}

#[cfg(target_os = "none")]
#[path = "cortex_m/painted_stack.rs"]
mod painted_stack;

#[cfg(target_os = "none")]
#[path = "cortex_m/config_block.rs"]
mod config_block;

#[cfg(target_os = "none")]
mod board {
    use core::mem::MaybeUninit;
    use core::sync::atomic::{AtomicU32, Ordering};

    use cortex_m::peripheral::syst::SystClkSource;
    use cortex_m_rt::{entry, exception};
    #[cfg(feature = "defmt")]
    use defmt_rtt as _;
    use embedded_hal::digital::{InputPin, OutputPin};
    use embedded_hal_nb::serial::{Read as NbRead, Write as NbWrite};
    use panic_halt as _;
    use stm32f4xx_hal::adc::{config::AdcConfig, config::SampleTime, Adc};
    use stm32f4xx_hal::gpio::{Analog, ErasedPin, Input, Output, Pin, PushPull};
    use stm32f4xx_hal::pac;
    use stm32f4xx_hal::prelude::*;
    use stm32f4xx_hal::rcc::Config as RccConfig;
    use stm32f4xx_hal::serial::{Config as SerialConfig, Rx, Tx};

    use kilowatch_firmware::analog::LoopAdc;
    use kilowatch_firmware::board::Board;
    use kilowatch_firmware::pulse::EdgeCounter;
    use kilowatch_firmware::settings::safe_default;
    use kilowatch_firmware::system::{reset, SystemInfo};
    use kilowatch_firmware::watchdog::Watchdog;
    use stm32f4xx_hal::watchdog::IndependentWatchdog;

    type MeterBoard = Board<
        Rs485<pac::USART1, Pin<'A', 8, Output<PushPull>>>,
        Rs485<pac::USART2, Pin<'A', 1, Output<PushPull>>>,
        Inputs,
        Pin<'B', 12, Input>,
        EdgeCounter<Invert<ErasedPin<Input>>>,
    >;

    const WATCHDOG_MS: u32 = 1_000;

    static MILLIS: AtomicU32 = AtomicU32::new(0);

    #[exception]
    fn SysTick() {
        MILLIS.fetch_add(1, Ordering::Relaxed);
    }

    /// A half-duplex RS-485 port: the HAL's USART with the transceiver's driver-enable pin
    /// raised while sending.
    struct Rs485<U: stm32f4xx_hal::serial::Instance, DE> {
        tx: Tx<U>,
        rx: Rx<U>,
        de: DE,
        pending: Option<u8>,
    }

    #[derive(Debug)]
    struct UartError;

    impl core::fmt::Display for UartError {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("USART error")
        }
    }

    impl core::error::Error for UartError {}

    impl embedded_io::Error for UartError {
        fn kind(&self) -> embedded_io::ErrorKind {
            embedded_io::ErrorKind::Other
        }
    }

    impl<U: stm32f4xx_hal::serial::Instance, DE> embedded_io::ErrorType for Rs485<U, DE> {
        type Error = UartError;
    }

    impl<U: stm32f4xx_hal::serial::Instance, DE> embedded_io::ReadReady for Rs485<U, DE> {
        fn read_ready(&mut self) -> Result<bool, UartError> {
            if self.pending.is_none() {
                match self.rx.read() {
                    Ok(b) => self.pending = Some(b),
                    Err(nb::Error::WouldBlock) => {}
                    // Overrun, framing or noise: the byte is lost; the frame's CRC will tell.
                    Err(nb::Error::Other(_)) => {}
                }
            }
            Ok(self.pending.is_some())
        }
    }

    impl<U: stm32f4xx_hal::serial::Instance, DE> embedded_io::Read for Rs485<U, DE> {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, UartError> {
            if buf.is_empty() {
                return Ok(0);
            }
            loop {
                if let Some(b) = self.pending.take() {
                    buf[0] = b;
                    return Ok(1);
                }
                embedded_io::ReadReady::read_ready(self)?;
            }
        }
    }

    impl<U: stm32f4xx_hal::serial::Instance, DE: OutputPin> embedded_io::Write for Rs485<U, DE> {
        fn write(&mut self, buf: &[u8]) -> Result<usize, UartError> {
            let _ = self.de.set_high();
            for b in buf {
                nb::block!(self.tx.write(*b)).map_err(|_| UartError)?;
            }
            Ok(buf.len())
        }

        fn flush(&mut self) -> Result<(), UartError> {
            nb::block!(self.tx.flush()).map_err(|_| UartError)?;
            // Release the bus once the last stop bit has left.
            let _ = self.de.set_low();
            Ok(())
        }
    }

    /// ADC1 on PA4-PA7.
    struct Inputs {
        adc: Adc<pac::ADC1>,
        pins: (
            Pin<'A', 4, Analog>,
            Pin<'A', 5, Analog>,
            Pin<'A', 6, Analog>,
            Pin<'A', 7, Analog>,
        ),
    }

    impl LoopAdc for Inputs {
        type Error = ();
        fn read_counts(&mut self, channel: u8) -> Result<u16, ()> {
            let t = SampleTime::Cycles_480;
            Ok(match channel {
                0 => self.adc.convert(&self.pins.0, t),
                1 => self.adc.convert(&self.pins.1, t),
                2 => self.adc.convert(&self.pins.2, t),
                3 => self.adc.convert(&self.pins.3, t),
                _ => return Err(()),
            })
        }
    }

    /// The reset cause from RCC_CSR's flags (then cleared, so the next reset reports its own).
    fn reset_cause(rcc: &pac::RCC) -> u16 {
        let csr = rcc.csr().read().bits();
        let flag = |bit: u32| csr & (1 << bit) != 0;
        let mut cause = 0;
        // A power-on also sets the brown-out flag; a brown-out alone is a real dip.
        if flag(27) {
            cause |= reset::POWER_ON;
        } else if flag(25) {
            cause |= reset::BROWN_OUT;
        }
        if flag(29) || flag(30) {
            cause |= reset::WATCHDOG;
        }
        if flag(28) {
            cause |= reset::SOFTWARE;
        }
        // The pin flag accompanies every reset: it says something only on its own.
        if cause == 0 && flag(26) {
            cause = reset::PIN;
        }
        // RMVF clears the flags.
        rcc.csr()
            .modify(|r, w| unsafe { w.bits(r.bits() | 1 << 24) });
        if cause == 0 {
            reset::UNKNOWN
        } else {
            cause
        }
    }

    /// The IWDG (its own 32 kHz oscillator: it runs whatever the main clock does).
    struct Iwdg(IndependentWatchdog, u32);

    impl Watchdog for Iwdg {
        fn feed(&mut self) {
            self.0.feed();
        }
        fn timeout_ms(&self) -> u32 {
            self.1
        }
    }

    /// Builds the board in .bss, so the link map shows the RAM the board uses. Not inlined: the
    /// board passes through this frame's 2.7 KiB once, at boot, rather than staying in main's
    /// frame (which never returns) for good.
    #[inline(never)]
    fn build(make: impl FnOnce() -> MeterBoard) -> &'static mut MeterBoard {
        static mut BOARD: MaybeUninit<MeterBoard> = MaybeUninit::uninit();
        let board = make();
        // SAFETY: called once, from main: the only reference to BOARD.
        unsafe { (*core::ptr::addr_of_mut!(BOARD)).write(board) }
    }

    #[entry]
    fn main() -> ! {
        crate::painted_stack::paint();
        let dp = pac::Peripherals::take().unwrap();
        let cp = cortex_m::Peripherals::take().unwrap();
        let mut system = SystemInfo {
            reset_cause: reset_cause(&dp.RCC),
            ..SystemInfo::default()
        };
        let mut iwdg = IndependentWatchdog::new(dp.IWDG);
        iwdg.start(WATCHDOG_MS.millis());
        let mut watchdog = Iwdg(iwdg, WATCHDOG_MS);
        system.watchdog_ms = watchdog.timeout_ms() as u16;
        // 32-bit pulse totals; the load input's optocoupler pulls low when loaded.
        let config = crate::config_block::load(safe_default(32, true), &mut system);
        let mut rcc = dp.RCC.freeze(RccConfig::hse(25.MHz()).sysclk(84.MHz()));
        let mut syst = cp.SYST;
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(rcc.clocks.sysclk().raw() / 1_000 - 1);
        syst.clear_current();
        syst.enable_counter();
        syst.enable_interrupt();

        let gpioa = dp.GPIOA.split(&mut rcc);
        let gpiob = dp.GPIOB.split(&mut rcc);
        let serial = |baud: u32| SerialConfig::default().baudrate(baud.bps());
        let (up_tx, up_rx) = dp
            .USART1
            .serial(
                (gpioa.pa9, gpioa.pa10),
                serial(config.upstream_baud),
                &mut rcc,
            )
            .unwrap()
            .split();
        let (down_tx, down_rx) = dp
            .USART2
            .serial((gpioa.pa2, gpioa.pa3), serial(config.meter_baud), &mut rcc)
            .unwrap()
            .split();
        let upstream = Rs485 {
            tx: up_tx,
            rx: up_rx,
            de: gpioa.pa8.into_push_pull_output(),
            pending: None,
        };
        let downstream = Rs485 {
            tx: down_tx,
            rx: down_rx,
            de: gpioa.pa1.into_push_pull_output(),
            pending: None,
        };
        let adc = Adc::new(dp.ADC1, true, AdcConfig::default(), &mut rcc);
        let inputs = Inputs {
            adc,
            pins: (
                gpioa.pa4.into_analog(),
                gpioa.pa5.into_analog(),
                gpioa.pa6.into_analog(),
                gpioa.pa7.into_analog(),
            ),
        };
        let load = gpiob.pb12.into_pull_up_input();
        let mut pulses = heapless::Vec::new();
        let _ = pulses.push(EdgeCounter::new(Invert(
            gpiob.pb13.into_pull_up_input().erase(),
        )));
        let _ = pulses.push(EdgeCounter::new(Invert(
            gpiob.pb14.into_pull_up_input().erase(),
        )));
        let board = build(|| Board::new(config, upstream, downstream, inputs, load, pulses));
        system.stack_size = crate::painted_stack::size();
        // The start-up's peak (building the board), then paint again for the main loop's own.
        system.stack_boot = crate::painted_stack::used();
        crate::painted_stack::paint();
        board.state.system = system;
        let mut last_stack = 0u32;
        loop {
            let now = MILLIS.load(Ordering::Relaxed);
            board.step(now);
            watchdog.feed();
            // The mark is a scan of the whole free stack: once a second is enough.
            if now.wrapping_sub(last_stack) >= 1_000 {
                last_stack = now;
                let sys = &mut board.state.system;
                sys.stack_used = sys.stack_boot.max(crate::painted_stack::used());
            }
        }
    }

    /// Active-low pulse outputs count on the falling edge of the pin.
    struct Invert<P>(P);

    impl<P: InputPin> embedded_hal::digital::ErrorType for Invert<P> {
        type Error = P::Error;
    }

    impl<P: InputPin> InputPin for Invert<P> {
        fn is_high(&mut self) -> Result<bool, Self::Error> {
            self.0.is_low()
        }
        fn is_low(&mut self) -> Result<bool, Self::Error> {
            self.0.is_high()
        }
    }
}
