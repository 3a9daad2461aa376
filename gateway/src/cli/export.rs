//! `export`: one series as CSV, raw or rolled up.

use std::path::PathBuf;

use kilowatch_gateway::csvio;
use kilowatch_gateway::i18n;
use kilowatch_gateway::store::Store;
use kilowatch_gateway::when::{self, Step};

use super::args::{RangeArgs, SiteArgs, Usage};
use super::lang;

#[derive(clap::Args)]
#[command(mut_arg("from", |a| a.help(
    "Start (RFC 3339 or plant-local `2026-03-01 00:00`); default 24 h ago"
)))]
pub struct ExportArgs {
    #[command(flatten)]
    site: SiteArgs,
    /// site/device/quantity, e.g. demo-plant/incomer/active_power.
    #[arg(long)]
    series: String,
    #[command(flatten)]
    range: RangeArgs,
    /// 1m, 15m, 1h or 1d for rollups (count, avg, min, max, delta, integral); raw without.
    #[arg(long)]
    step: Option<String>,
    /// Write here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// The rollups an export offers.
const STEPS: [Step; 4] = [Step::Minute, Step::Quarter, Step::Hour, Step::Day];

pub fn run(a: ExportArgs) -> anyhow::Result<()> {
    let site = a.site.load()?;
    let (from, to) = a
        .range
        .resolve(site.config.timezone(), chrono::Utc::now())?;
    let res = match a.step.as_deref() {
        None => 0,
        Some(text) => when::step(text, &STEPS)
            .map_err(|e| Usage(format!("--step: {e}")))?
            .seconds()
            .unwrap_or_default(),
    };
    let db = &site.db;
    let store = Store::open(db)?;
    let Some(info) = store.find_series(&a.series)? else {
        let known: Vec<String> = store
            .series()?
            .iter()
            .take(10)
            .map(|s| format!("{}/{}/{}", s.site, s.device, s.quantity))
            .collect();
        return Err(Usage(format!(
            "--series: no series `{}` in {} (e.g. {})",
            a.series,
            db.display(),
            known.join(", ")
        ))
        .into());
    };
    let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
    let n = match a.out {
        Some(path) => {
            let mut f = std::fs::File::create(&path)
                .map_err(|e| anyhow::anyhow!("--out {}: {e}", path.display()))?;
            csvio::export(&store, &info, from, to, res, &mut f)?
        }
        None => csvio::export(&store, &info, from, to, res, &mut std::io::stdout().lock())?,
    };
    let lang = lang::of(Some(&site.config));
    eprintln!(
        "{}",
        i18n::tr(lang, "cli-exported", &[("n", &n.to_string())])
    );
    Ok(())
}
