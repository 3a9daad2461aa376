//! `kilowatch-gateway`: stores the plant's readings, serves the API and dashboard, and runs the
//! demo plant. Each command lives in its own module under `cli/`.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use kilowatch_site::process::init_logging;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    cli::exit_code(rt.block_on(cli.run()))
}
