//! `simulate`: the site file's simulated Modbus devices.

use std::path::PathBuf;

use kilowatch_gateway::sim;
use kilowatch_site::config::{ConfigError, SiteConfig};
use kilowatch_site::process::shutdown_signal;
use kilowatch_site::profile::ProfileLibrary;

#[derive(clap::Args)]
pub struct SimulateArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

pub async fn run(a: SimulateArgs) -> anyhow::Result<()> {
    let profiles = ProfileLibrary::builtin();
    let site = SiteConfig::load(&a.config, &profiles)?;
    let file = a.config.display().to_string();
    let served = sim::start(&site, &file, &profiles, sim::Bind::Configured).await?;
    if served.is_empty() {
        return Err(ConfigError {
            problem: Default::default(),
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
