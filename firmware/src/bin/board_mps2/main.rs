//! The meter board on QEMU's `mps2-an386` (ARM MPS2 with a Cortex-M4, 25 MHz): the firmware
//! core with this board's peripherals behind its traits, so the test suite runs the firmware on
//! an emulated Cortex-M.
//!
//! | function | peripheral | QEMU |
//! |---|---|---|
//! | upstream RS-485 (to the agent) | UART0, 0x4000_4000, IRQ 0/1 | first `-serial` |
//! | downstream RS-485 (meters) | UART1, 0x4000_5000, IRQ 2/3 | second `-serial` |
//! | log | semihosting | `-semihosting-config enable=on,target=native` |
//! | watchdog | CMSDK APB watchdog, 0x4000_8000, NMI | emulated |
//! | configuration block | last 4 KiB of SSRAM1, 0x003F_F000 | `-device loader,file=…,addr=0x3ff000` |
//!
//! The emulated board has no analog front end, load contact or pulse input, so those inputs
//! are simulated from the millisecond clock (12 mA and 2 mA loops, a 1 s load cycle, 50 Hz
//! pulses): the register map serves them as it would real ones.
//!
//! On the host this file builds to a stub so `cargo test --workspace` works everywhere.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "kilowatch-meterboard-mps2 runs on qemu-system-arm -M mps2-an386: cargo build -p firmware --target thumbv7em-none-eabihf --release"
    );
}

#[cfg(target_os = "none")]
mod cmsdk_uart;
#[cfg(target_os = "none")]
mod cmsdk_watchdog;
#[cfg(target_os = "none")]
#[path = "../cortex_m/config_block.rs"]
mod config_block;
#[cfg(target_os = "none")]
mod line;
#[cfg(target_os = "none")]
#[path = "../cortex_m/painted_stack.rs"]
mod painted_stack;
#[cfg(target_os = "none")]
mod reset_note;
#[cfg(target_os = "none")]
mod vectors;

#[cfg(target_os = "none")]
mod board {
    use core::convert::Infallible;
    use core::mem::MaybeUninit;
    use core::sync::atomic::{AtomicU32, Ordering};

    use cortex_m::peripheral::syst::SystClkSource;
    use cortex_m_rt::{entry, exception};
    use cortex_m_semihosting::hprintln;
    // The core's defmt events, when built with them, go to an RTT buffer no one reads here.
    #[cfg(feature = "defmt")]
    use defmt_rtt as _;
    use panic_semihosting as _;

    use kilowatch_firmware::analog::LoopAdc;
    use kilowatch_firmware::board::{Board, Config, MAX_PULSE};
    use kilowatch_firmware::pulse::PulseCounter;
    use kilowatch_firmware::settings::safe_default;
    use kilowatch_firmware::system::{reset, SystemInfo};
    use kilowatch_firmware::watchdog::Watchdog;

    use kilowatch_firmware::rs485::Rs485;

    use crate::cmsdk_watchdog::CmsdkWatchdog;
    use crate::line::{self, DriverEnableLed, Port};
    use crate::reset_note;

    /// Without a feed for this long the watchdog resets the board. Generous for a loop pass of
    /// well under a millisecond, because QEMU's clock is the host's: a busy host can stall the
    /// emulated CPU for a good part of a second.
    const WATCHDOG_MS: u32 = 4_000;

    /// The watchdog's early warning (its first expiry): the reset follows, so note its cause.
    #[exception]
    unsafe fn NonMaskableInt() {
        reset_note::note(reset::WATCHDOG);
    }

    /// How long a pause ends a frame on either port. QEMU hands the UART its input one byte
    /// at a time, each only after the firmware has read the last one and QEMU's I/O thread
    /// has run again, so on a loaded host a request's bytes arrive with pauses of tens of
    /// milliseconds: 3.5 characters (5 ms at 9600 baud) split it into two corrupt frames and
    /// the master got no answer. A real line has no such pauses; the emulated one needs this.
    const EMULATED_FRAME_GAP_MS: u32 = 100;

    /// The MPS2 FPGA's system clock, which also clocks the UARTs and SysTick.
    const SYSCLK_HZ: u32 = 25_000_000;

    static MILLIS: AtomicU32 = AtomicU32::new(0);

    #[exception]
    fn SysTick() {
        MILLIS.fetch_add(1, Ordering::Relaxed);
    }

    fn millis() -> u32 {
        MILLIS.load(Ordering::Relaxed)
    }

    /// Loop currents as a 12-bit converter over 150 Ω would read them: 12 mA on channel 0,
    /// 2 mA (an open loop) on channel 1.
    struct SimAdc;

    impl LoopAdc for SimAdc {
        type Error = ();
        fn read_counts(&mut self, channel: u8) -> Result<u16, ()> {
            let ma = match channel {
                0 => 12.0f32,
                1 => 2.0,
                _ => return Err(()),
            };
            Ok((ma * 150.0 / 3300.0 * 4095.0 + 0.5) as u16)
        }
    }

    /// The load contact: loaded for the first half of each second.
    struct SimLoad;

    impl embedded_hal::digital::ErrorType for SimLoad {
        type Error = Infallible;
    }

    impl embedded_hal::digital::InputPin for SimLoad {
        fn is_high(&mut self) -> Result<bool, Infallible> {
            Ok(millis() % 1_000 < 500)
        }
        fn is_low(&mut self) -> Result<bool, Infallible> {
            Ok(millis() % 1_000 >= 500)
        }
    }

    /// A 50 Hz totaliser counted by a 16-bit counter.
    struct SimPulses;

    impl PulseCounter for SimPulses {
        fn count(&mut self) -> u32 {
            (millis() / 20) & 0xFFFF
        }
    }

    type Bus = Rs485<Port, DriverEnableLed>;
    type MeterBoard = Board<Bus, Bus, SimAdc, SimLoad, SimPulses>;

    /// Whether QEMU's `-append` command line holds `word`. Test hooks (tests/tests/
    /// firmware_qemu.rs): `blocking-serial` selects the polled serial design, to show what it
    /// loses; `hang-once` stops the main loop after 3 s of a power-on run, to show the
    /// watchdog's reset.
    #[inline(never)]
    fn requested(word: &[u8]) -> bool {
        let mut buf = [0u8; 256];
        // SYS_GET_CMDLINE fills the buffer and sets the length it wrote.
        let mut block = [buf.as_mut_ptr() as usize, buf.len()];
        // SAFETY: the call writes at most `buf.len()` bytes into `buf`.
        // The host writes the length back into `block`: it must be borrowed mutably.
        #[allow(clippy::unnecessary_mut_passed)]
        let r = unsafe {
            cortex_m_semihosting::syscall(cortex_m_semihosting::nr::GET_CMDLINE, &mut block)
        };
        let n = block[1].min(buf.len());
        r == 0 && buf[..n].windows(word.len()).any(|w| w == word)
    }

    /// Builds the board into .bss. Not inlined: the board passes through this frame's 2.7 KiB
    /// once, at boot, rather than staying in main's frame (which never returns) for good.
    #[inline(never)]
    fn build(
        config: Config,
        up: Bus,
        down: Bus,
        pulses: heapless::Vec<SimPulses, MAX_PULSE>,
    ) -> &'static mut MeterBoard {
        static mut BOARD: MaybeUninit<MeterBoard> = MaybeUninit::uninit();
        let board = Board::new(config, up, down, SimAdc, SimLoad, pulses);
        // SAFETY: called once, from main: the only reference to BOARD.
        unsafe { (*core::ptr::addr_of_mut!(BOARD)).write(board) }
    }

    #[entry]
    fn main() -> ! {
        crate::painted_stack::paint();
        let mut system = SystemInfo {
            reset_cause: reset_note::take(),
            ..SystemInfo::default()
        };
        let mut watchdog = CmsdkWatchdog::start(SYSCLK_HZ, WATCHDOG_MS);
        system.watchdog_ms = watchdog.timeout_ms() as u16;
        // No pulse counter hardware: the simulated counter is 16 bits; no load polarity.
        let config = crate::config_block::load(safe_default(16, false), &mut system);
        let cp = cortex_m::Peripherals::take().unwrap();
        let mut syst = cp.SYST;
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(SYSCLK_HZ / 1_000 - 1);
        syst.clear_current();
        syst.enable_counter();
        syst.enable_interrupt();

        let buffered = !requested(b"blocking-serial");
        let hang = requested(b"hang-once") && system.reset_cause & reset::POWER_ON != 0;
        // One clock for both lines (timer 0 paces them), so one baud rate: the upstream one.
        let baud = config.upstream_baud;
        let [up, down] = line::start(SYSCLK_HZ, baud, buffered);
        let up = Rs485::new(up, DriverEnableLed(0));
        let down = Rs485::new(down, DriverEnableLed(1));
        let mut pulses = heapless::Vec::new();
        let _ = pulses.push(SimPulses);
        let (unit, meters) = (config.unit, config.meters.len());
        let board = build(config, up, down, pulses);
        board.set_frame_gap_ms(EMULATED_FRAME_GAP_MS);
        system.stack_size = crate::painted_stack::size();
        // The start-up's peak (building the board), then paint again for the main loop's own.
        system.stack_boot = crate::painted_stack::used();
        crate::painted_stack::paint();
        board.state.system = system;
        hprintln!(
            "kilowatch meter board on mps2-an386: firmware {}, reset cause {:#06x}, \
             configuration {:?} (error {}, CRC-32 {:#010x}), watchdog {} ms",
            env!("CARGO_PKG_VERSION"),
            system.reset_cause,
            system.config_source,
            system.config_error,
            system.config_crc,
            system.watchdog_ms
        );
        hprintln!(
            "unit {} on UART0, {} meters on UART1, {} baud, {} serial",
            unit,
            meters,
            baud,
            if buffered { "interrupt-fed" } else { "polled" }
        );
        let (mut last_report, mut last_stack, mut loop_stack) = (0u32, 0u32, 0u32);
        loop {
            let now = millis();
            board.step(now);
            if hang && now >= 3_000 {
                hprintln!("hang-once: the main loop stops feeding the watchdog");
                #[allow(clippy::empty_loop)]
                loop {}
            }
            watchdog.feed();
            // The mark is a scan of the whole free stack: once a second is enough.
            if now.wrapping_sub(last_stack) >= 1_000 {
                last_stack = now;
                loop_stack = crate::painted_stack::used();
                let sys = &mut board.state.system;
                sys.stack_used = sys.stack_boot.max(loop_stack);
            }
            // A heartbeat in the log every 5 s: what the board has done so far.
            if now.wrapping_sub(last_report) >= 5_000 {
                last_report = now;
                let s = &board.state;
                hprintln!(
                    "up {} s: {} requests answered, {} meter polls ok, {} timeouts, {} exceptions, \
                     {} bad upstream frames, {} bad meter frames, bytes lost {}/{}, \
                     stack high-water {} of {} B (start-up {} B, main loop {} B)",
                    s.uptime_ms / 1_000,
                    s.slave.requests,
                    s.master.ok,
                    s.master.timeouts,
                    s.master.exceptions,
                    s.slave.crc_errors,
                    s.master.crc_errors + s.master.frame_errors,
                    line::lost(0),
                    line::lost(1),
                    s.system.stack_used,
                    s.system.stack_size,
                    s.system.stack_boot,
                    loop_stack
                );
            }
        }
    }
}
