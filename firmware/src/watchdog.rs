//! The independent watchdog, as the main loop sees it: fed once per pass, so a loop that
//! stops (a hang, a fault handler's spin, a panic) resets the board. Each board implements it
//! over its chip's watchdog (CMSDK APB watchdog on mps2, IWDG on the STM32F411).

pub trait Watchdog {
    /// Restarts the countdown.
    fn feed(&mut self);
    /// Time from the last feed to the reset, ms.
    fn timeout_ms(&self) -> u32;
}
