//! `kilowatch-meterboard-config`: the meter board's configuration block from a TOML file, and
//! the check of a block read back from a board. The block goes into the board's flash over the
//! debug link (probe-rs, openocd, or QEMU's `-device loader`), never over Modbus: the board is
//! read-only on its bus. Format and addresses: firmware/CONFIG_BLOCK.md.

mod site;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use kilowatch_firmware::settings::{self, BLOCK_MAX};

#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Encodes a TOML configuration into a block image.
    Build {
        /// The board's configuration (see firmware/CONFIG_BLOCK.md for the keys).
        config: PathBuf,
        /// Where to write the image.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Checks an image (or a dump of the board's configuration sector) and prints what a board
    /// would run; fails if the board would refuse it.
    Check { image: PathBuf },
}

fn main() -> Result<()> {
    match Args::parse().command {
        Command::Build { config, output } => {
            let text = std::fs::read_to_string(&config)
                .with_context(|| format!("reading {}", config.display()))?;
            let cfg = site::parse(&text).with_context(|| format!("in {}", config.display()))?;
            let mut buf = [0u8; BLOCK_MAX];
            let n = settings::encode(&cfg, &mut buf);
            // The board refuses what it cannot run; so does the tool, before anything is flashed.
            let (_, crc) = settings::decode(&buf[..n], &cfg).map_err(|e| {
                anyhow::anyhow!("the board would refuse this configuration ({e:?})")
            })?;
            std::fs::write(&output, &buf[..n])
                .with_context(|| format!("writing {}", output.display()))?;
            println!("{}: {n} bytes, CRC-32 {crc:#010x}", output.display());
        }
        Command::Check { image } => {
            let bytes =
                std::fs::read(&image).with_context(|| format!("reading {}", image.display()))?;
            let hw = settings::safe_default(32, false);
            match settings::decode(&bytes, &hw) {
                Ok((cfg, crc)) => println!("valid block, CRC-32 {crc:#010x}\n{cfg:#?}"),
                Err(e) => bail!(
                    "the board would refuse this block ({e:?}, register 37 = {}) and run its safe default",
                    e as u16
                ),
            }
        }
    }
    Ok(())
}
