//! Logging through defmt when the `defmt` feature is on (the board); nothing otherwise, so host
//! tests and builds without a defmt transport need no logger.

/// `warn!`-level event: `fw_warn!("meter {} timed out", unit)`.
#[macro_export]
macro_rules! fw_warn {
    ($($arg:tt)*) => {{
        #[cfg(feature = "defmt")]
        defmt::warn!($($arg)*);
    }};
}

/// `debug!`-level event.
#[macro_export]
macro_rules! fw_debug {
    ($($arg:tt)*) => {{
        #[cfg(feature = "defmt")]
        defmt::debug!($($arg)*);
    }};
}
