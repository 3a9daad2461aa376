//! `demo`: the whole stack on a simulated plant.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use kilowatch_gateway::{demo, sim, when};
use kilowatch_site::config::InfluxConfig;
use kilowatch_site::process::shutdown_signal;

use super::args::Usage;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Address of the dashboard and API.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    http: SocketAddr,
    /// Keep the demo database in this directory (default: a temporary one, removed on exit).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Fill the store with simulated one-minute history first, e.g. 90d or 365d (a truth
    /// file of the retrofits' savings is written beside the database). Default: what the
    /// scenarios need (chiller-fouling: 7d), else none; 0s for none.
    #[arg(long, value_name = "LENGTH", value_parser = when::duration)]
    history: Option<std::time::Duration>,
    /// File whose first line is the API's access token (needed when --http is not a
    /// loopback address).
    #[arg(long, value_name = "FILE")]
    access_token_file: Option<PathBuf>,
    /// A fault for the live plant to show, so an alarm has something to find: demand-peak,
    /// leak, chiller-fouling, meter-silent (repeat the flag or give a comma list).
    #[arg(long, value_name = "NAME", value_delimiter = ',', value_parser = parse_scenario)]
    scenario: Vec<sim::Scenario>,
    /// Also write to this InfluxDB 1.x (or compatible) server, for the Grafana dashboards in
    /// dashboards/grafana/, e.g. http://127.0.0.1:8086.
    #[arg(long, value_name = "URL")]
    influx: Option<String>,
    /// The InfluxDB database written with --influx (created beforehand, e.g.
    /// `influx -execute 'CREATE DATABASE kilowatch'`).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "kilowatch",
        requires = "influx"
    )]
    influx_database: String,
}

fn parse_scenario(s: &str) -> Result<sim::Scenario, String> {
    s.parse()
}

pub async fn run(a: DemoArgs) -> anyhow::Result<()> {
    check_token(a.http, a.access_token_file.as_deref())?;
    demo::run(
        demo::DemoOptions {
            http: a.http,
            data: a.data,
            history: a.history,
            access_token_file: a.access_token_file,
            scenarios: a.scenario,
            influx: a
                .influx
                .map(|url| InfluxConfig::v1(&url, &a.influx_database)),
        },
        shutdown_signal(),
    )
    .await
}

/// The demo serves a network address only with a readable, non-empty token file.
fn check_token(http: SocketAddr, token_file: Option<&Path>) -> Result<(), Usage> {
    let Some(path) = token_file else {
        if http.ip().is_loopback() {
            return Ok(());
        }
        return Err(Usage(format!(
            "--http {http} is reachable from the network, so the API needs an access token: \
             give --access-token-file FILE (the token on its first line), or stay on loopback, \
             e.g. --http 127.0.0.1:{}",
            http.port()
        )));
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        Usage(format!(
            "--access-token-file: cannot read {}: {e}",
            path.display()
        ))
    })?;
    if text.lines().next().unwrap_or("").trim().is_empty() {
        return Err(Usage(format!(
            "--access-token-file: {} is empty",
            path.display()
        )));
    }
    Ok(())
}
