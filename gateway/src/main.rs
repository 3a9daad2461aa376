//! `kilowatch-gateway`: stores the plant's readings, serves the API and dashboard, and runs the
//! demo plant. Each command lives in its own module under `cli/`.

mod cli;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use kilowatch_site::process::init_logging;

fn main() -> ExitCode {
    // `--help` in the language asked for (`--lang`, KILOWATCH_LANG).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let command = cli::help::localize(cli::Cli::command(), cli::help::asked(&args));
    let cli = match command
        .try_get_matches_from(&args)
        .and_then(|m| cli::Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    init_logging();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(cli.run());
    // Work still running on the blocking pool after a stop is a read (the maintenance loop's
    // EnPI or savings computations, dropped at the stop): a Ctrl-C does not wait for it. Writes
    // are the writer thread's, which the service has already joined.
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    cli::exit_code(result)
}
