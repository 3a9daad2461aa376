//! The two RS-485 ports of the emulated board, in either of two designs, with a real line's
//! timing.
//!
//! QEMU's UART model sends a byte the moment it is written and holds back input until its
//! one-byte register has been read (it stops reading the pseudo-terminal), so on its own it
//! neither takes a byte's wire time nor ever overruns. A real UART does both: at 9600 baud a
//! byte takes 10 bit times (1.04 ms) to send, and a byte that arrives before the previous one
//! was read is lost. Timer 0 therefore ticks at the byte rate and clocks both lines: each tick
//! sends at most one byte per port, and (in the polled design) moves one received byte into a
//! one-byte receive register, counting an overrun when the last one is still unread.
//!
//! * **Buffered** (the board's design): the UART's receive interrupt pushes every byte into a
//!   ring, the tick drains the transmit ring; the main loop never waits for the line.
//! * **Polled** (the earlier design, kept to show what it costs): the main loop reads the
//!   receive register when it passes by and waits for each byte it sends.

use core::cell::RefCell;
use core::convert::Infallible;
use core::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, Ordering};

use cortex_m::interrupt::{free, Mutex};
use cortex_m::peripheral::NVIC;
use kilowatch_firmware::serial::{Buffered, Consumer, Producer, Ring, Transmitter};

use crate::cmsdk_uart::{Uart, CTRL_RX_INT};

pub const RING: usize = 256;
const FULL: u16 = 0x100;
const TIMER0: usize = 0x4000_0000;

#[derive(Clone, Copy)]
#[repr(u16)]
enum Irq {
    Uart0Rx = 0,
    Uart1Rx = 2,
    Timer0 = 8,
}

// SAFETY: the numbers are the AN385/AN386 images' interrupt lines.
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self as u16
    }
}

/// Per port: what the interrupts share with the main loop.
struct Shared {
    rdr: AtomicU16,
    tdr: AtomicU16,
    tx_busy: AtomicBool,
    /// Bytes lost: overruns of the polled receive register, or a full receive ring.
    pub lost: AtomicU32,
}

impl Shared {
    const fn new() -> Self {
        Self {
            rdr: AtomicU16::new(0),
            tdr: AtomicU16::new(0),
            tx_busy: AtomicBool::new(false),
            lost: AtomicU32::new(0),
        }
    }
}

static SHARED: [Shared; 2] = [Shared::new(), Shared::new()];
static RX_RINGS: [Ring<RING>; 2] = [Ring::new(), Ring::new()];
static TX_RINGS: [Ring<RING>; 2] = [Ring::new(), Ring::new()];

/// The interrupts' ends of the buffered ports.
struct IsrSide {
    uart: Uart,
    rx: Option<Producer<'static, RING>>,
    tx: Option<Consumer<'static, RING>>,
}

static ISR: Mutex<RefCell<[Option<IsrSide>; 2]>> = Mutex::new(RefCell::new([None, None]));

/// The main loop's end of a port.
pub enum Port {
    Buffered(Buffered<'static, Tick, RING>),
    Polled(Polled),
}

/// Bytes the port has lost so far.
pub fn lost(port: usize) -> u32 {
    SHARED[port].lost.load(Ordering::Relaxed)
}

/// Sets up UART0 (port 0) and UART1 (port 1) and timer 0 at `baud`'s byte rate.
pub fn start(pclk_hz: u32, baud: u32, buffered: bool) -> [Port; 2] {
    // SAFETY: UART0, UART1 and timer 0 are driven by this module alone.
    let uarts = unsafe { [Uart::at(0x4000_4000), Uart::at(0x4000_5000)] };
    let ports = core::array::from_fn(|i| {
        let uart = uarts[i];
        if buffered {
            uart.enable(pclk_hz, baud, CTRL_RX_INT);
            let (rx_in, rx) = RX_RINGS[i].split().expect("split once");
            let (tx, tx_out) = TX_RINGS[i].split().expect("split once");
            free(|cs| {
                ISR.borrow(cs).borrow_mut()[i] = Some(IsrSide {
                    uart,
                    rx: Some(rx_in),
                    tx: Some(tx_out),
                })
            });
            Port::Buffered(Buffered {
                rx,
                tx,
                transmitter: Tick(i),
            })
        } else {
            uart.enable(pclk_hz, baud, 0);
            free(|cs| {
                ISR.borrow(cs).borrow_mut()[i] = Some(IsrSide {
                    uart,
                    rx: None,
                    tx: None,
                })
            });
            Port::Polled(Polled(i))
        }
    });
    // 10 bits a byte (start, 8 data, stop).
    let reload = pclk_hz / (baud / 10).max(1);
    // SAFETY: timer 0's CTRL, RELOAD and VALUE registers; nothing else drives the timer.
    unsafe {
        let reg = |off: usize| (TIMER0 + off) as *mut u32;
        reg(0x8).write_volatile(reload);
        reg(0x4).write_volatile(reload);
        reg(0x0).write_volatile(0b1001);
    }
    // SAFETY: the handlers only touch what `ISR` and the atomics hold.
    unsafe {
        NVIC::unmask(Irq::Timer0);
        if buffered {
            NVIC::unmask(Irq::Uart0Rx);
            NVIC::unmask(Irq::Uart1Rx);
        }
    }
    ports
}

/// Timer 0, once per byte time: each line sends one byte; the polled design's receive
/// register takes one byte.
pub extern "C" fn timer0() {
    // SAFETY: write-one-to-clear of timer 0's interrupt.
    unsafe { ((TIMER0 + 0xC) as *mut u32).write_volatile(1) };
    free(|cs| {
        for (i, side) in ISR.borrow(cs).borrow_mut().iter_mut().enumerate() {
            let Some(side) = side else { continue };
            let sh = &SHARED[i];
            match &mut side.tx {
                Some(tx) => match tx.pop() {
                    Some(b) => {
                        side.uart.try_write(b);
                        sh.tx_busy.store(true, Ordering::Release);
                    }
                    None => sh.tx_busy.store(false, Ordering::Release),
                },
                None => {
                    let t = sh.tdr.swap(0, Ordering::AcqRel);
                    if t & FULL != 0 {
                        side.uart.try_write(t as u8);
                    }
                }
            }
            if side.rx.is_none() {
                if let Some(b) = side.uart.try_read() {
                    if sh.rdr.swap(FULL | u16::from(b), Ordering::AcqRel) & FULL != 0 {
                        sh.lost.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    });
}

fn receive(i: usize) {
    free(|cs| {
        if let Some(IsrSide {
            uart, rx: Some(rx), ..
        }) = &mut ISR.borrow(cs).borrow_mut()[i]
        {
            while let Some(b) = uart.try_read() {
                if !rx.push(b) {
                    SHARED[i].lost.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
}

/// UART0's receive interrupt (buffered design).
pub extern "C" fn uart0_rx() {
    receive(0);
}

/// UART1's receive interrupt (buffered design).
pub extern "C" fn uart1_rx() {
    receive(1);
}

/// The buffered ports' transmitter: timer 0 drains the ring at the line's pace.
pub struct Tick(usize);

impl Transmitter for Tick {
    fn start(&mut self) {}
    fn idle(&self) -> bool {
        !SHARED[self.0].tx_busy.load(Ordering::Acquire)
    }
}

/// A polled port: the one-byte registers timer 0 moves to and from the line.
pub struct Polled(usize);

impl embedded_io::ErrorType for Port {
    type Error = Infallible;
}

impl embedded_io::ReadReady for Port {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        match self {
            Port::Buffered(b) => b.read_ready(),
            Port::Polled(p) => Ok(SHARED[p.0].rdr.load(Ordering::Acquire) & FULL != 0),
        }
    }
}

impl embedded_io::Read for Port {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        match self {
            Port::Buffered(b) => b.read(buf),
            Port::Polled(p) => {
                if buf.is_empty() {
                    return Ok(0);
                }
                loop {
                    let r = SHARED[p.0].rdr.swap(0, Ordering::AcqRel);
                    if r & FULL != 0 {
                        buf[0] = r as u8;
                        return Ok(1);
                    }
                }
            }
        }
    }
}

impl embedded_io::Write for Port {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        match self {
            Port::Buffered(b) => b.write(buf),
            Port::Polled(p) => {
                let tdr = &SHARED[p.0].tdr;
                for &b in buf {
                    while tdr
                        .compare_exchange(
                            0,
                            FULL | u16::from(b),
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        )
                        .is_err()
                    {}
                }
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        match self {
            Port::Buffered(b) => b.flush(),
            Port::Polled(p) => {
                while SHARED[p.0].tdr.load(Ordering::Acquire) & FULL != 0 {}
                Ok(())
            }
        }
    }
}

/// The FPGA's user LEDs (0x4002_8000) as the transceivers' driver-enable lines: LED 0 for
/// the upstream port, LED 1 for the meters'.
pub struct DriverEnableLed(pub u32);

impl DriverEnableLed {
    fn set(&self, on: bool) {
        let reg = 0x4002_8000 as *mut u32;
        free(|_| {
            // SAFETY: the FPGAIO LED register; read-modify-write inside a critical section.
            unsafe {
                let v = reg.read_volatile();
                let bit = 1 << self.0;
                reg.write_volatile(if on { v | bit } else { v & !bit });
            }
        });
    }
}

impl embedded_hal::digital::ErrorType for DriverEnableLed {
    type Error = Infallible;
}

impl embedded_hal::digital::OutputPin for DriverEnableLed {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.set(false);
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Infallible> {
        self.set(true);
        Ok(())
    }
}
