//! `import`: readings from a CSV file into the site's store.

use std::path::PathBuf;

use kilowatch_gateway::csvio;
use kilowatch_gateway::i18n;
use kilowatch_gateway::store::{Store, StoreSettings};

use super::args::SiteArgs;
use super::lang;

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
    let lang = lang::of(Some(&site.config));
    println!(
        "{}",
        i18n::tr(
            lang,
            "cli-imported",
            &[
                ("values", &samples.to_string()),
                ("rows", &rows.to_string()),
                ("file", &a.csv.display().to_string()),
                ("db", &site.db.display().to_string()),
            ],
        )
    );
    Ok(())
}
