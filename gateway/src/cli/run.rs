//! `run`: the gateway service of a site.

use std::net::SocketAddr;
use std::path::PathBuf;

use kilowatch_gateway::enpi::Assets;
use kilowatch_gateway::{http, service};
use kilowatch_site::process::shutdown_signal;

use super::args::load_site;

// `--config` has its own help here and `--http` sits before `--db` in it, so this command
// keeps its own fields instead of `SiteArgs`.
#[derive(clap::Args)]
pub struct RunArgs {
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
}

pub async fn run(a: RunArgs) -> anyhow::Result<()> {
    let site = load_site(&a.config, a.db)?;
    let mut config = site.config;
    let assets = Assets::from_site(&config, &site.file)?;
    // Rules needing the assets or the tariff (a demand rule without a contract) fail now.
    kilowatch_gateway::alarms::spec::rules(&config, &assets, &site.file)?;
    if let Some(h) = a.http {
        config.gateway.http = h;
    }
    if a.client_id.is_some() {
        config.mqtt.gateway_client_id = a.client_id;
    }
    if a.share_group.is_some() {
        config.gateway.share_group = a.share_group;
    }
    config.check_mqtt_access()?;
    config.check_gateway_access(config.gateway.http)?;
    config.check_notify_access()?;
    config.check_hub_access()?;
    let listener = http::bind(config.gateway.http).await?;
    println!("kilowatch gateway: http://{}/", listener.local_addr()?);
    service::run(config, assets, site.db, listener, shutdown_signal()).await
}
