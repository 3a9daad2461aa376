//! Links each board binary with cortex-m-rt's script and its own board's memory map (embedded
//! target only; host builds and tests link normally). cortex-m-rt's `link.x` includes
//! `memory.x` from the linker's search path, so each board's copy goes in its own directory,
//! searched only by that board's binary.
use std::{env, fs, path::PathBuf};

/// (binary, memory map) for each board.
const BOARDS: &[(&str, &str, &[u8])] = &[
    (
        "kilowatch-meterboard",
        "stm32f411",
        include_bytes!("memory-stm32f411.x"),
    ),
    (
        "kilowatch-meterboard-mps2",
        "mps2-an386",
        include_bytes!("memory-mps2-an386.x"),
    ),
];

fn main() {
    println!("cargo:rerun-if-changed=memory-stm32f411.x");
    println!("cargo:rerun-if-changed=memory-mps2-an386.x");
    println!("cargo:rerun-if-changed=build.rs");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    for (bin, board, memory) in BOARDS {
        let dir = out.join(board);
        fs::create_dir_all(&dir).expect("board directory");
        fs::write(dir.join("memory.x"), memory).expect("memory.x");
        println!("cargo:rustc-link-arg-bin={bin}=-L{}", dir.display());
    }
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    if env::var_os("CARGO_FEATURE_DEFMT").is_some() {
        println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    }
}
