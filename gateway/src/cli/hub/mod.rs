//! `hub`: a portfolio hub instance, and `hub user …`, the administration of its accounts.

use std::path::PathBuf;

use kilowatch_gateway::hub;
use kilowatch_site::process::shutdown_signal;

use super::args::Usage;

mod user;

#[derive(clap::Args)]
pub struct HubArgs {
    /// The hub's file: [mqtt] the central broker, [hub] client id and share group,
    /// [postgres] the database, [http] and [auth] (see README, "Portfolio hub").
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Overrides `hub.client_id`. Every instance needs its own, and the same one at every
    /// restart: the broker keeps what the instance had not stored under it.
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Serve the portfolio pages and API here (overrides `[http] listen`). Every request is
    /// authenticated: any address will do; put a TLS proxy in front.
    #[arg(long, value_name = "ADDR")]
    http: Option<std::net::SocketAddr>,
    /// Check the file, connect to PostgreSQL, apply the schema migrations, and exit.
    #[arg(long)]
    migrate_only: bool,
    #[command(subcommand)]
    command: Option<HubCommand>,
}

#[derive(clap::Subcommand)]
enum HubCommand {
    /// The hub's accounts: add users (admin, coach, plant), set passwords, assign sites,
    /// make API tokens. Every change is in the audit log.
    ///
    /// Example: kilowatch-gateway hub user add --config hub.toml lin --role coach
    ///            --site plant-a --site plant-b --password-stdin < pw.txt
    ///          kilowatch-gateway hub user token --config hub.toml lin --token-name grafana
    ///            --scope portfolio:read --valid-for 90d
    #[command(verbatim_doc_comment)]
    User(user::UserArgs),
}

pub async fn run(a: HubArgs) -> anyhow::Result<()> {
    let path = a
        .config
        .ok_or_else(|| Usage("hub: --config FILE is required".into()))?;
    let cfg = hub::config::HubFile::load(&path)?;
    if let Some(HubCommand::User(u)) = a.command {
        return user::run(&cfg, u).await;
    }
    if a.migrate_only {
        let pool = hub::pg::pool(&cfg.postgres)?;
        let version = hub::pg::prepare(&pool).await?;
        println!("kilowatch hub: database schema v{version}");
        return Ok(());
    }
    hub::run(cfg, a.client_id, a.http, shutdown_signal()).await
}
