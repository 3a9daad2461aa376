//! What the board knows about itself, served in the system block of the register map: its
//! firmware version, why it last reset, where its configuration came from and the stack's
//! high-water mark. The board binary fills it in; the core only serves it.

/// The firmware's version, from the crate's (the workspace's) version.
pub const FIRMWARE_VERSION: [u16; 3] = parse_version(env!("CARGO_PKG_VERSION"));

/// "major.minor.patch" (anything after the patch digits is ignored) as numbers.
const fn parse_version(s: &str) -> [u16; 3] {
    let b = s.as_bytes();
    let mut out = [0u16; 3];
    let (mut i, mut part) = (0, 0);
    while i < b.len() && part < 3 {
        match b[i] {
            b'0'..=b'9' => out[part] = out[part] * 10 + (b[i] - b'0') as u16,
            b'.' => part += 1,
            _ => break,
        }
        i += 1;
    }
    out
}

/// Reset causes, as bits (a chip can report several at once: an STM32 sets the pin-reset flag
/// along with every other cause).
pub mod reset {
    pub const POWER_ON: u16 = 1 << 0;
    pub const PIN: u16 = 1 << 1;
    pub const BROWN_OUT: u16 = 1 << 2;
    pub const WATCHDOG: u16 = 1 << 3;
    pub const SOFTWARE: u16 = 1 << 4;
    pub const LOCKUP: u16 = 1 << 5;
    /// The board cannot tell (no flag set, or none it knows).
    pub const UNKNOWN: u16 = 1 << 15;
}

/// Where the running configuration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u16)]
pub enum ConfigSource {
    /// The configuration block in flash, checked.
    Flash = 0,
    /// No block (erased or never written): the safe default runs.
    #[default]
    Missing = 1,
    /// A block that fails its checks (magic, version, length, CRC or content): the safe
    /// default runs.
    Corrupt = 2,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemInfo {
    /// Bits of [`reset`].
    pub reset_cause: u16,
    pub config_source: ConfigSource,
    /// Why a corrupt block was refused (`settings::BlockError` as a number), 0 otherwise.
    pub config_error: u16,
    /// CRC-32 of the configuration in use (of its encoded block, for the default too).
    pub config_crc: u32,
    /// Independent watchdog timeout, ms (0: no watchdog).
    pub watchdog_ms: u16,
    /// Deepest stack use measured since boot, bytes (0: not measured): the larger of the
    /// start-up's and the main loop's.
    pub stack_used: u32,
    /// Deepest stack use of the start-up alone (building the board), bytes.
    pub stack_boot: u32,
    /// Size of the stack region, bytes.
    pub stack_size: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parses_from_the_crate() {
        assert_eq!(parse_version("0.1.0"), [0, 1, 0]);
        assert_eq!(parse_version("12.3.45-rc1"), [12, 3, 45]);
        let v = env!("CARGO_PKG_VERSION");
        let want: heapless::Vec<u16, 3> = v
            .split(['.', '-'])
            .take(3)
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(FIRMWARE_VERSION[..], want[..]);
    }
}
