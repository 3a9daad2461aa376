//! The stack region cortex-m-rt lays out (from the end of static RAM up to the top of RAM),
//! painted at boot and read back for its high-water mark (`kilowatch_firmware::stack`).
//! Shared by the board binaries.

use kilowatch_firmware::stack;

extern "C" {
    // cortex-m-rt's link.x: the initial stack pointer (top) and the end of .bss/.uninit.
    static mut _stack_start: u32;
    static mut _stack_end: u32;
}

fn region() -> (*mut u32, *mut u32) {
    (
        core::ptr::addr_of_mut!(_stack_end),
        core::ptr::addr_of_mut!(_stack_start),
    )
}

/// Words left unpainted below the stack pointer: room for the frames of the painting itself.
/// They count as used, so the mark errs by at most this much on the safe side.
const MARGIN_WORDS: usize = 64;

/// Paints the free part of the stack, below the caller's frame. From thread mode only: an
/// interrupt preempting it runs on the words below, but has returned before painting resumes.
pub fn paint() {
    let (bottom, _) = region();
    let sp = cortex_m::register::msp::read() as *mut u32;
    let end = sp.wrapping_sub(MARGIN_WORDS);
    // SAFETY: the words below the stack pointer (and its margin) are free.
    unsafe { stack::paint(bottom, end) };
}

/// Bytes of stack used so far (interrupts included: they run on the same stack).
pub fn used() -> u32 {
    let (bottom, top) = region();
    // SAFETY: the stack region is RAM; the live part above the mark is only read.
    unsafe { stack::used_bytes(bottom, top) }
}

/// Size of the stack region, bytes.
pub fn size() -> u32 {
    let (bottom, top) = region();
    (top as usize - bottom as usize) as u32
}
