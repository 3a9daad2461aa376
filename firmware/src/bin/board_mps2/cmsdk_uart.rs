//! The CMSDK APB UART of ARM's MPS2 boards, driven at register level: one receive and one
//! transmit holding register, no FIFO.

use core::ptr::{read_volatile, write_volatile};

const DATA: usize = 0x00;
const STATE: usize = 0x04;
const CTRL: usize = 0x08;
const INTCLEAR: usize = 0x0C;
const BAUDDIV: usize = 0x10;

const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const STATE_OVERRUNS: u32 = 0b1100;
const CTRL_TX_EN: u32 = 1 << 0;
const CTRL_RX_EN: u32 = 1 << 1;
pub const CTRL_RX_INT: u32 = 1 << 3;

/// One UART at its base address.
#[derive(Clone, Copy)]
pub struct Uart {
    base: usize,
}

impl Uart {
    /// UART 0-2 of the AN385/AN386 images: 0x4000_4000, 0x4000_5000, 0x4000_6000.
    ///
    /// # Safety
    /// `base` must be a CMSDK UART that nothing else drives.
    pub const unsafe fn at(base: usize) -> Self {
        Self { base }
    }

    fn reg(&self, offset: usize) -> *mut u32 {
        (self.base + offset) as *mut u32
    }

    fn read(&self, offset: usize) -> u32 {
        // SAFETY: a register of the UART this value owns (see `at`).
        unsafe { read_volatile(self.reg(offset)) }
    }

    fn write(&self, offset: usize, value: u32) {
        // SAFETY: as in `read`.
        unsafe { write_volatile(self.reg(offset), value) }
    }

    /// Enables transmitter and receiver at `baud` from the peripheral clock `pclk_hz`, with
    /// the interrupts in `interrupts` (`CTRL_RX_INT` or none).
    pub fn enable(&self, pclk_hz: u32, baud: u32, interrupts: u32) {
        // The divider must be at least 16 or the UART neither sends nor receives.
        self.write(BAUDDIV, (pclk_hz / baud.max(1)).max(16));
        self.write(STATE, STATE_OVERRUNS);
        self.write(CTRL, CTRL_TX_EN | CTRL_RX_EN | interrupts);
        // A read of the data register: QEMU stops taking input while the receiver is off and
        // looks again only when the register is read, so input sent before this point would
        // otherwise stall the port for good.
        let _ = self.read(DATA);
    }

    /// The received byte, if one is waiting.
    pub fn try_read(&self) -> Option<u8> {
        if self.read(STATE) & STATE_RX_FULL == 0 {
            return None;
        }
        let b = self.read(DATA) as u8;
        self.write(INTCLEAR, 0b0010);
        Some(b)
    }

    /// Sends `b` if the transmit register is free.
    pub fn try_write(&self, b: u8) -> bool {
        if self.read(STATE) & STATE_TX_FULL != 0 {
            return false;
        }
        self.write(DATA, u32::from(b));
        true
    }
}
