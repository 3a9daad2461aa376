//! The CMSDK APB watchdog of the MPS2 images (0x4000_8000, clocked at 25 MHz, its interrupt on
//! the NMI), which QEMU emulates: on the first expiry it raises the NMI, and if that is still
//! pending at the second it resets the system. Feeding clears the interrupt and reloads.

use kilowatch_firmware::watchdog::Watchdog;

const BASE: usize = 0x4000_8000;
const LOAD: usize = 0x000;
const CTRL: usize = 0x008;
const INTCLR: usize = 0x00C;
const LOCK: usize = 0xC00;
const UNLOCK_KEY: u32 = 0x1ACC_E551;
const CTRL_INTEN: u32 = 1 << 0;
const CTRL_RESEN: u32 = 1 << 1;

fn write(offset: usize, value: u32) {
    // SAFETY: a register of the watchdog, which only this module drives.
    unsafe { ((BASE + offset) as *mut u32).write_volatile(value) }
}

pub struct CmsdkWatchdog {
    timeout_ms: u32,
}

impl CmsdkWatchdog {
    /// Starts the watchdog: the NMI after `timeout_ms / 2` without a feed, the reset after
    /// `timeout_ms`.
    pub fn start(clk_hz: u32, timeout_ms: u32) -> Self {
        write(LOCK, UNLOCK_KEY);
        write(LOAD, clk_hz / 1_000 * (timeout_ms / 2));
        write(CTRL, CTRL_INTEN | CTRL_RESEN);
        // Locked again so a stray write cannot stop it.
        write(LOCK, 0);
        Self { timeout_ms }
    }
}

impl Watchdog for CmsdkWatchdog {
    fn feed(&mut self) {
        write(LOCK, UNLOCK_KEY);
        write(INTCLR, 1);
        write(LOCK, 0);
    }

    fn timeout_ms(&self) -> u32 {
        self.timeout_ms
    }
}
