//! The meter-board firmware on an emulated Cortex-M: `qemu-system-arm -M mps2-an386` running
//! the board binary built for `thumbv7em-none-eabihf` (firmware/src/bin/board_mps2), its two
//! UARTs on pseudo-terminals, its semihosting log in the process log.

use std::path::{Path, PathBuf};

use crate::{bin, require, Proc};

/// Where the emulated board's configuration sector is (firmware/memory-mps2-an386.x).
pub const CONFIG_BLOCK_ADDR: &str = "0x3ff000";

/// The configuration block for `toml` (firmware/CONFIG_BLOCK.md), written by the host tool
/// `kilowatch-meterboard-config` into `dir`.
pub fn config_block(dir: &Path, toml: &str) -> PathBuf {
    let (src, out) = (dir.join("board.toml"), dir.join("board-config.bin"));
    std::fs::write(&src, toml).expect("board.toml");
    let run = std::process::Command::new(bin("kilowatch-meterboard-config"))
        .args(["build", src.to_str().unwrap(), "-o", out.to_str().unwrap()])
        .output()
        .expect("kilowatch-meterboard-config");
    assert!(
        run.status.success(),
        "kilowatch-meterboard-config build: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    out
}

/// How QEMU starts the board.
#[derive(Default)]
pub struct BoardOptions<'a> {
    /// The firmware's command line (semihosting `SYS_GET_CMDLINE`): `blocking-serial`
    /// selects the polled serial design, `hang-once` stops the main loop after 3 s of a
    /// power-on run.
    pub cmdline: &'a str,
    /// A configuration block loaded into the configuration sector, as the debug link would
    /// write it; none leaves the sector blank.
    pub config_block: Option<&'a Path>,
}

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
pub fn start_board(dir: &Path, upstream: &Path, downstream: &Path, opts: &BoardOptions) -> Proc {
    let qemu = require("qemu-system-arm", "apt-get install qemu-system-arm");
    let chardev = |id: &str, p: &Path| format!("serial,id={id},path={}", p.display());
    let (up, down) = (chardev("up", upstream), chardev("down", downstream));
    let elf = firmware_elf();
    let loader = opts
        .config_block
        .map(|p| format!("loader,file={},addr={CONFIG_BLOCK_ADDR}", p.display()));
    let mut args = vec![
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
        opts.cmdline,
    ];
    if let Some(l) = &loader {
        args.extend(["-device", l]);
    }
    Proc::spawn("qemu-board", &qemu, &args, dir)
}
