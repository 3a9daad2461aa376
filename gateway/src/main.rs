//! `kilowatch-gateway`: stores the plant's readings, serves the API and dashboard, and runs the
//! demo plant.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kilowatch_agent::config::{ConfigError, SiteConfig};
use kilowatch_agent::profile::ProfileLibrary;
use kilowatch_agent::{init_logging, shutdown_signal};
use kilowatch_gateway::http::{self, BindError};
use kilowatch_gateway::{demo, service, sim};

/// kilowatch gateway: receives meter readings over MQTT, stores them (SQLite), and serves the
/// HTTP API and live dashboard. `demo` runs a complete simulated plant in one command.
#[derive(Parser)]
#[command(name = "kilowatch-gateway", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole stack on a simulated plant: device simulators, an embedded MQTT broker,
    /// the agent and the gateway, in one process. Needs no configuration.
    Demo {
        /// Address of the dashboard and API.
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
        http: SocketAddr,
        /// Keep the demo database in this directory (default: a temporary one, removed on exit).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Run the gateway for a site: subscribe to the broker, store readings, serve the API.
    Run {
        /// Site configuration, e.g. seeds/demo-site.toml.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Overrides `gateway.http` from the site file.
        #[arg(long, value_name = "ADDR")]
        http: Option<SocketAddr>,
        /// Overrides `gateway.database` from the site file.
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
        /// Overrides `mqtt.gateway_client_id` (each instance of a share group needs its own).
        #[arg(long, value_name = "ID")]
        client_id: Option<String>,
        /// Overrides `gateway.share_group`: instances in one group split the MQTT stream.
        #[arg(long, value_name = "GROUP")]
        share_group: Option<String>,
    },
    /// Serve simulated Modbus devices for every `[devices.simulate]` entry of a site file, at
    /// the addresses the file gives, until stopped.
    Simulate {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Demo { http, data } => {
                demo::run(demo::DemoOptions { http, data }, shutdown_signal()).await
            }
            Command::Run {
                config,
                http,
                db,
                client_id,
                share_group,
            } => {
                let profiles = ProfileLibrary::builtin();
                let mut site = SiteConfig::load(&config, &profiles)?;
                if let Some(h) = http {
                    site.gateway.http = h;
                }
                if client_id.is_some() {
                    site.mqtt.gateway_client_id = client_id;
                }
                if share_group.is_some() {
                    site.gateway.share_group = share_group;
                }
                let db = db.unwrap_or_else(|| PathBuf::from(&site.gateway.database));
                let listener = http::bind(site.gateway.http).await?;
                println!("kilowatch gateway: http://{}/", listener.local_addr()?);
                service::run(site, db, listener, shutdown_signal()).await
            }
            Command::Simulate { config } => {
                let profiles = ProfileLibrary::builtin();
                let site = SiteConfig::load(&config, &profiles)?;
                let file = config.display().to_string();
                let served = sim::start(&site, &file, &profiles, sim::Bind::Configured).await?;
                if served.is_empty() {
                    return Err(ConfigError {
                        file,
                        key: Some("devices".into()),
                        what: "no device has a [devices.simulate] table".into(),
                        line: None,
                    }
                    .into());
                }
                for s in &served {
                    println!("simulating {} on {}", s.device, s.addr);
                }
                shutdown_signal().await;
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<ConfigError>() || e.is::<BindError>() => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
