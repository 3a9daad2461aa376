//! Stack high-water mark by painting: at boot every free word of the stack region is filled
//! with a pattern; later, the words still holding it from the bottom up were never touched, so
//! the rest is the deepest the stack has been. A measurement, not a bound: it shows what the
//! runs so far used (a value that happens to equal the pattern can hide one word).

/// What free stack words are painted with.
pub const PAINT: u32 = 0xC0DE_57AC;

/// Fills the words in `[bottom, top)` with [`PAINT`].
///
/// # Safety
/// `[bottom, top)` must be writable memory nothing else uses while this runs (on a board:
/// the part of the stack below the current stack pointer, with interrupts that could use it
/// not yet enabled).
pub unsafe fn paint(bottom: *mut u32, top: *mut u32) {
    let mut p = bottom;
    while p < top {
        // SAFETY: inside the region the caller gave.
        unsafe {
            p.write_volatile(PAINT);
            p = p.add(1);
        }
    }
}

/// Bytes of `[bottom, top)` used at some point since [`paint`]: from the first word above
/// `bottom` that no longer holds [`PAINT`] up to `top`.
///
/// # Safety
/// `[bottom, top)` must be readable memory (on a board: the whole stack region; the words are
/// read one at a time, volatile, so a live stack above the mark is only read).
pub unsafe fn used_bytes(bottom: *const u32, top: *const u32) -> u32 {
    let mut p = bottom;
    // SAFETY: inside the region the caller gave.
    while p < top && unsafe { p.read_volatile() } == PAINT {
        p = unsafe { p.add(1) };
    }
    (top as usize - p as usize) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_is_the_deepest_word_written_since_painting() {
        let mut stack = [0u32; 64];
        let range = stack.as_mut_ptr_range();
        unsafe { paint(range.start, range.end) };
        assert_eq!(unsafe { used_bytes(range.start, range.end) }, 0);
        // A stack grows down: the top 10 words used, then one deeper word written once.
        for w in &mut stack[54..] {
            *w = 7;
        }
        let range = stack.as_mut_ptr_range();
        assert_eq!(unsafe { used_bytes(range.start, range.end) }, 40);
        stack[20] = 0;
        let range = stack.as_mut_ptr_range();
        assert_eq!(unsafe { used_bytes(range.start, range.end) }, 44 * 4);
    }
}
