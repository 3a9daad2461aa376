//! `kilowatch-agent`: polls the plant's Modbus meters and sensors and streams readings to MQTT.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kilowatch_agent::config::{parse_duration, DeviceConfig, SiteConfig};
use kilowatch_agent::payload::Quality;
use kilowatch_agent::poll::Poller;
use kilowatch_agent::profile::ProfileLibrary;
use kilowatch_agent::{init_logging, run, shutdown_signal, vocab};

/// kilowatch agent: reads energy meters and sensors over Modbus and publishes every reading to
/// an MQTT broker. It only ever reads from devices; it never writes to them.
#[derive(Parser)]
#[command(name = "kilowatch-agent", version, max_term_width = 100)]
struct Cli {
    /// Extra directory of device profiles (*.toml); a profile here replaces a built-in one of
    /// the same name.
    #[arg(long, global = true, value_name = "DIR", env = "KILOWATCH_PROFILES")]
    profiles_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Poll every device of a site file and publish readings until stopped (Ctrl-C).
    Run {
        /// Site configuration, e.g. seeds/demo-site.toml.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Check a site file and print what would be polled; exit code 2 if it is wrong.
    Check {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Read one device once and print its values as JSON (canonical quantity → value).
    Read {
        /// Device profile name (see `profiles`).
        #[arg(long)]
        profile: String,
        /// Modbus TCP address of the device or serial server, host:port.
        #[arg(long, value_name = "HOST:PORT")]
        tcp: String,
        /// Modbus unit id (slave address).
        #[arg(long, default_value_t = 1)]
        unit: u8,
        /// Time allowed per request, e.g. 1s, 500ms.
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        timeout: std::time::Duration,
    },
    /// List the device profiles this agent knows.
    Profiles,
    /// List the canonical quantities and their units.
    Quantities,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let profiles = ProfileLibrary::builtin();
    let profiles = match &cli.profiles_dir {
        Some(dir) => match profiles.with_dir(dir) {
            Ok(p) => p,
            Err(e) => return usage_error(e),
        },
        None => profiles,
    };
    match cli.command {
        Command::Run { config } => {
            let config = match SiteConfig::load(&config, &profiles) {
                Ok(c) => c,
                Err(e) => return usage_error(e),
            };
            runtime(async move { run::run(config, profiles, shutdown_signal()).await })
        }
        Command::Check { config } => match SiteConfig::load(&config, &profiles) {
            Ok(c) => {
                println!(
                    "{}: site `{}`, {} device(s)",
                    config.display(),
                    c.site.id,
                    c.devices.len()
                );
                for d in &c.devices {
                    println!(
                        "  {:<16} {:<20} tcp {} unit {} every {:?}",
                        d.id, d.profile, d.tcp, d.unit, d.interval
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => usage_error(e),
        },
        Command::Read {
            profile,
            tcp,
            unit,
            timeout,
        } => {
            let Some(p) = profiles.get(&profile).cloned() else {
                return usage_error(format!(
                    "unknown profile `{profile}` (known: {})",
                    profiles.names().join(", ")
                ));
            };
            let device = DeviceConfig {
                id: "read".into(),
                name: None,
                profile,
                tcp,
                unit,
                interval: timeout,
                timeout,
                simulate: None,
            };
            runtime(async move {
                let readings = Poller::new(device, p).poll().await?;
                let map: BTreeMap<String, serde_json::Value> = readings
                    .into_iter()
                    .map(|r| {
                        let v = match (r.quality, r.value) {
                            (Quality::Good, Some(v)) => serde_json::json!(v),
                            _ => serde_json::Value::Null,
                        };
                        (r.quantity, v)
                    })
                    .collect();
                println!("{}", serde_json::to_string(&map)?);
                Ok(())
            })
        }
        Command::Profiles => {
            for p in profiles.iter() {
                println!(
                    "{:<20} {} {} ({} registers)\n{:<20} source: {}",
                    p.name,
                    p.manufacturer,
                    p.model,
                    p.registers.len(),
                    "",
                    p.source
                );
            }
            ExitCode::SUCCESS
        }
        Command::Quantities => {
            for q in vocab::QUANTITIES {
                println!("{:<24} {:<8} {}", q.name, q.unit, q.description);
            }
            ExitCode::SUCCESS
        }
    }
}

fn usage_error(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

fn runtime(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
