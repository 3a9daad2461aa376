//! `import`: readings from a CSV file into the site's store.

use std::path::PathBuf;

use kilowatch_gateway::csvio;
use kilowatch_gateway::store::{Store, StoreSettings};

use super::args::SiteArgs;

#[derive(clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    site: SiteArgs,
    /// The CSV file.
    csv: PathBuf,
}

pub fn run(a: ImportArgs) -> anyhow::Result<()> {
    let site = a.site.load()?;
    let polls = csvio::read_polls(&a.csv, &site.config.site.id, site.config.timezone())?;
    let mut store =
        Store::open(&site.db)?.with_settings(StoreSettings::for_site(&site.config, &site.profiles));
    let rows = polls.len();
    let samples = csvio::import(&mut store, polls)?;
    println!(
        "imported {samples} values ({rows} device timestamps) from {} into {}",
        a.csv.display(),
        site.db.display()
    );
    Ok(())
}
