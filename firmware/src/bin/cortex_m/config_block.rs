//! The configuration block in the board's flash (`_config_block` in the board's memory.x),
//! checked and decoded by `kilowatch_firmware::settings`. Shared by the board binaries.

use kilowatch_firmware::board::Config;
use kilowatch_firmware::settings::{self, Loaded, BLOCK_MAX};
use kilowatch_firmware::system::SystemInfo;

extern "C" {
    static _config_block: u8;
}

/// The configuration to run: the block's, or `default` when it is missing or corrupt; and
/// what the register map reports about it, in `system`.
pub fn load(default: Config, system: &mut SystemInfo) -> Config {
    let mut block = [0u8; BLOCK_MAX];
    let base = core::ptr::addr_of!(_config_block);
    for (i, b) in block.iter_mut().enumerate() {
        // SAFETY: the linker places `_config_block` at the configuration sector, at least
        // BLOCK_MAX bytes of flash; read volatile since a debugger writes it, not the program.
        *b = unsafe { base.add(i).read_volatile() };
    }
    let Loaded {
        config,
        source,
        error,
        crc,
    } = settings::load(&block, default);
    system.config_source = source;
    system.config_error = error;
    system.config_crc = crc;
    config
}
