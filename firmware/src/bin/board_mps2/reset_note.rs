//! Why the emulated board last reset. The MPS2 images have no reset-cause register QEMU
//! models, so the board keeps a note in RAM that survives a reset: absent after power-on (QEMU
//! starts with RAM zeroed), written by the watchdog's early-warning NMI (a watchdog reset
//! follows), and otherwise a reset nobody announced (QEMU's `system_reset`, the reset button),
//! reported as a pin reset. Brown-out cannot be told: QEMU models no supply.

use kilowatch_firmware::system::reset;

/// Past the 128 KiB of SSRAM the link uses: no ELF segment covers it, so QEMU's reset (which
/// reloads the segments, zeroing .bss and .uninit) leaves it alone.
const NOTE: *mut u32 = 0x2002_0000 as *mut u32;
const MAGIC: u32 = 0x4B57_5253;

fn read(i: usize) -> u32 {
    // SAFETY: two words of RAM only this module uses.
    unsafe { NOTE.add(i).read_volatile() }
}

fn write(i: usize, v: u32) {
    // SAFETY: as in `read`.
    unsafe { NOTE.add(i).write_volatile(v) }
}

/// The cause of the reset that started this run (bits of `system::reset`); arms the note for
/// the next one.
pub fn take() -> u16 {
    let cause = if read(0) != MAGIC {
        reset::POWER_ON
    } else if read(1) != 0 {
        read(1) as u16
    } else {
        reset::PIN
    };
    write(1, 0);
    write(0, MAGIC);
    cause
}

/// Records `cause` for the next boot.
pub fn note(cause: u16) {
    write(1, u32::from(cause));
}
