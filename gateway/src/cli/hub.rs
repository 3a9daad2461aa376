//! `hub`: a portfolio hub instance.

use std::path::PathBuf;

use kilowatch_gateway::hub;
use kilowatch_site::process::shutdown_signal;

#[derive(clap::Args)]
pub struct HubArgs {
    /// The hub's file: [mqtt] the central broker, [hub] client id and share group,
    /// [postgres] the database (see README, "Portfolio hub").
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Overrides `hub.client_id`. Every instance needs its own, and the same one at every
    /// restart: the broker keeps what the instance had not stored under it.
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Serve the JSON API (`GET /api/v1/portfolio/sites`) here; loopback only until the hub
    /// has users and roles.
    #[arg(long, value_name = "ADDR")]
    http: Option<std::net::SocketAddr>,
    /// Check the file, connect to PostgreSQL, apply the schema migrations, and exit.
    #[arg(long)]
    migrate_only: bool,
}

pub async fn run(a: HubArgs) -> anyhow::Result<()> {
    let cfg = hub::config::HubFile::load(&a.config)?;
    if a.migrate_only {
        let pool = hub::pg::pool(&cfg.postgres)?;
        let version = hub::pg::prepare(&pool).await?;
        println!("kilowatch hub: database schema v{version}");
        return Ok(());
    }
    hub::run(cfg, a.client_id, a.http, shutdown_signal()).await
}
