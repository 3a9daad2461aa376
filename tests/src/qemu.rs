//! The meter-board firmware on an emulated Cortex-M: `qemu-system-arm -M mps2-an386` running
//! the board binary built for `thumbv7em-none-eabihf` (firmware/src/bin/board_mps2), its two
//! UARTs on pseudo-terminals, its semihosting log in the process log.

use std::path::{Path, PathBuf};

use crate::{require, Proc};

/// The board binary for the emulated board, built by tests/run-all.sh's firmware step.
pub fn firmware_elf() -> PathBuf {
    // The test executable lives in target/<profile>/deps/; the board's in
    // target/thumbv7em-none-eabihf/release/.
    let exe = std::env::current_exe().expect("current exe");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target directory")
        .to_path_buf();
    let elf = target.join("thumbv7em-none-eabihf/release/kilowatch-meterboard-mps2");
    assert!(
        elf.exists(),
        "{} not found: build it with `cargo build -p firmware --target thumbv7em-none-eabihf \
         --release` (tests/run-all.sh does)",
        elf.display()
    );
    elf
}

/// QEMU running the board: UART0 (the upstream Modbus slave) on `upstream`, UART1 (the
/// meters' RS-485 master) on `downstream`, both paths to tty devices.
pub fn start_board(dir: &Path, upstream: &Path, downstream: &Path) -> Proc {
    start_board_with(dir, upstream, downstream, "")
}

/// [`start_board`] with a command line for the firmware (semihosting `SYS_GET_CMDLINE`):
/// `blocking-serial` selects the polled serial design.
pub fn start_board_with(dir: &Path, upstream: &Path, downstream: &Path, cmdline: &str) -> Proc {
    let qemu = require("qemu-system-arm", "apt-get install qemu-system-arm");
    let chardev = |id: &str, p: &Path| format!("serial,id={id},path={}", p.display());
    let (up, down) = (chardev("up", upstream), chardev("down", downstream));
    let elf = firmware_elf();
    let args = [
        "-M",
        "mps2-an386",
        "-display",
        "none",
        "-monitor",
        "none",
        "-chardev",
        &up,
        "-chardev",
        &down,
        "-serial",
        "chardev:up",
        "-serial",
        "chardev:down",
        "-semihosting-config",
        "enable=on,target=native",
        "-kernel",
        elf.to_str().expect("utf-8 path"),
        "-append",
        cmdline,
    ];
    Proc::spawn("qemu-board", &qemu, &args, dir)
}
