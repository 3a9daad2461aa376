//! `kilowatch-agent`: polls the plant's Modbus meters and sensors and streams readings to MQTT.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use kilowatch_agent::poll::{Bus, Poller};
use kilowatch_agent::{run, scan};
use kilowatch_site::config::{parse_duration, DeviceConfig, Parity, SiteConfig, Transport};
use kilowatch_site::payload::Quality;
use kilowatch_site::process::{init_logging, shutdown_signal};
use kilowatch_site::profile::ProfileLibrary;
use kilowatch_site::vocab;

/// kilowatch agent: reads energy meters and sensors over Modbus (TCP, RTU on RS-485, RTU over
/// TCP) and publishes every reading to an MQTT broker. It only ever reads from devices; it
/// never writes to them.
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

/// Where the device is: exactly one of --tcp, --rtu, --rtu-over-tcp.
#[derive(Args)]
#[group(required = true, multiple = false)]
struct Line {
    /// Modbus TCP device or gateway, host:port (e.g. 192.168.1.20:502).
    #[arg(long, value_name = "HOST:PORT")]
    tcp: Option<String>,
    /// Serial port of an RS-485 line, e.g. /dev/ttyUSB0.
    #[arg(long, value_name = "DEV")]
    rtu: Option<String>,
    /// Serial server passing raw RTU frames over TCP, host:port.
    #[arg(long, value_name = "HOST:PORT")]
    rtu_over_tcp: Option<String>,
}

#[derive(Args)]
struct Serial {
    /// Baud rate for --rtu.
    #[arg(long, default_value_t = 9600)]
    baud: u32,
    /// Parity for --rtu.
    #[arg(long, value_enum, default_value_t = ParityArg::None)]
    parity: ParityArg,
    /// Stop bits for --rtu.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    stop_bits: u8,
}

#[derive(Clone, Copy, ValueEnum)]
enum ParityArg {
    None,
    Even,
    Odd,
}

impl Line {
    fn transport(&self, s: &Serial) -> Transport {
        if let Some(a) = &self.tcp {
            Transport::Tcp(a.clone())
        } else if let Some(a) = &self.rtu_over_tcp {
            Transport::RtuOverTcp(a.clone())
        } else {
            Transport::Rtu {
                path: self.rtu.clone().unwrap_or_default(),
                baud: s.baud,
                parity: match s.parity {
                    ParityArg::None => Parity::None,
                    ParityArg::Even => Parity::Even,
                    ParityArg::Odd => Parity::Odd,
                },
                stop_bits: s.stop_bits,
            }
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Poll every device of a site file and publish readings until stopped (Ctrl-C).
    Run {
        /// Site configuration, e.g. seeds/demo-site.toml.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Check a site file and print what would be polled; exit code 2 if it is wrong. Also
    /// checks, on this machine, the files and environment variables it names (MQTT password,
    /// certificates, the gateway's access token).
    Check {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Read one device once and print its values as JSON (canonical quantity → value;
    /// null where the device gave no valid value).
    Read {
        /// Device profile name (see `profiles`).
        #[arg(long)]
        profile: String,
        #[command(flatten)]
        line: Line,
        #[command(flatten)]
        serial: Serial,
        /// Modbus unit id (slave address).
        #[arg(long, default_value_t = 1)]
        unit: u8,
        /// Time allowed per request, e.g. 1s, 500ms.
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        timeout: Duration,
        /// Print the device's identification fields (serial number, model) instead of values.
        #[arg(long)]
        info: bool,
    },
    /// Find the devices on a line: probes unit ids and suggests the profile that fits each.
    Scan {
        #[command(flatten)]
        line: Line,
        #[command(flatten)]
        serial: Serial,
        /// Unit ids to probe, e.g. 1-247 or 1-10.
        #[arg(long, default_value = "1-247", value_parser = parse_units)]
        units: (u8, u8),
        /// Time allowed per request; silent units cost this much each.
        #[arg(long, default_value = "300ms", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// List the device profiles this agent knows.
    Profiles,
    /// List the canonical quantities and their units.
    Quantities,
}

fn parse_units(s: &str) -> Result<(u8, u8), String> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u8 = a
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: use e.g. 1-247"))?;
    let b: u8 = b
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: use e.g. 1-247"))?;
    if a == 0 || b > 247 || a > b {
        return Err(format!("`{s}`: unit ids run from 1 to 247"));
    }
    Ok((a, b))
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
            let config = match SiteConfig::load(&config, &profiles)
                .and_then(|c| c.check_mqtt_access().map(|()| c))
            {
                Ok(c) => c,
                Err(e) => return usage_error(e),
            };
            runtime(async move { run::run(config, profiles, shutdown_signal()).await })
        }
        // The whole file as this machine sees it: the agent's broker settings and the
        // gateway's secrets alike.
        Command::Check { config } => match SiteConfig::load(&config, &profiles).and_then(|c| {
            c.check_mqtt_access()?;
            c.check_gateway_access(c.gateway.http)?;
            Ok(c)
        }) {
            Ok(c) => {
                println!(
                    "{}: site `{}`, {} device(s)",
                    config.display(),
                    c.site.id,
                    c.devices.len()
                );
                match run::pollers(&c, &profiles) {
                    Ok(pollers) => {
                        for p in pollers {
                            let d = p.device();
                            println!(
                                "  {:<16} {:<20} {} unit {} every {:?}, {} request(s) per poll",
                                d.id,
                                d.profile,
                                d.transport(),
                                d.unit,
                                d.interval,
                                p.blocks().len()
                            );
                        }
                        ExitCode::SUCCESS
                    }
                    Err(e) => usage_error(e),
                }
            }
            Err(e) => usage_error(e),
        },
        Command::Read {
            profile,
            line,
            serial,
            unit,
            timeout,
            info,
        } => {
            let Some(p) = profiles.get(&profile).cloned() else {
                return usage_error(format!(
                    "unknown profile `{profile}` (known: {})",
                    profiles.names().join(", ")
                ));
            };
            if !p.channels.is_empty() {
                return usage_error(format!(
                    "`{profile}` is an I/O module whose channels are set in a site file; use `run` or `check`"
                ));
            }
            let transport = line.transport(&serial);
            let device = DeviceConfig::new("read", &profile, transport.clone(), unit, timeout);
            runtime(async move {
                let mut poller = Poller::new(device, p, Bus::new(transport));
                if info {
                    let fields: serde_json::Map<String, serde_json::Value> = poller
                        .read_info()
                        .await?
                        .into_iter()
                        .map(|(k, v)| (k, serde_json::Value::String(v)))
                        .collect();
                    if fields.is_empty() {
                        anyhow::bail!("profile `{profile}` defines no identification fields, or the device refused them all");
                    }
                    println!("{}", serde_json::Value::Object(fields));
                    return Ok(());
                }
                let outcome = poller.poll().await?;
                let map: BTreeMap<String, serde_json::Value> = outcome
                    .readings
                    .into_iter()
                    .map(|r| {
                        let v = match (r.quality, r.value) {
                            (Quality::Good, Some(v)) => serde_json::json!(v),
                            _ => serde_json::Value::Null,
                        };
                        (r.quantity.into_owned(), v)
                    })
                    .collect();
                println!("{}", serde_json::to_string(&map)?);
                Ok(())
            })
        }
        Command::Scan {
            line,
            serial,
            units,
            timeout,
        } => {
            let bus = Bus::new(line.transport(&serial));
            runtime(async move {
                let bar = indicatif::ProgressBar::new(u64::from(units.1 - units.0) + 1);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{bar:40} unit {pos}/{len} · {msg} · {elapsed} (eta {eta})",
                    )
                    .expect("template"),
                );
                let mut found = 0;
                for unit in units.0..=units.1 {
                    bar.set_message(format!("{found} found"));
                    if let Some(report) = scan::probe_unit(&bus, unit, &profiles, timeout).await {
                        found += 1;
                        let line = match report.best() {
                            Some(best) => format!(
                                "unit {unit}: answers; suggested profile {} ({}/{} readings plausible)",
                                best.profile, best.plausible, best.total
                            ),
                            None => format!("unit {unit}: answers, but no built-in profile fits"),
                        };
                        // println on the bar is a no-op when stderr is not a terminal.
                        bar.suspend(|| println!("{line}"));
                    }
                    bar.inc(1);
                }
                bar.finish_and_clear();
                println!("{found} device(s) found on {}", bus.transport());
                Ok(())
            })
        }
        Command::Profiles => {
            for p in profiles.iter() {
                let what = if p.channels.is_empty() {
                    format!("{} registers", p.registers.len())
                } else {
                    format!(
                        "{} analog channels, scaled in the site file",
                        p.channels.len()
                    )
                };
                println!(
                    "{:<22} {} {} ({what})\n{:<22} source: {}",
                    p.name, p.manufacturer, p.model, "", p.source
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
