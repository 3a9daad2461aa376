//! `report`: the monthly energy-management report or the annual GHG summary, as HTML or PDF.

use std::path::PathBuf;

use kilowatch_gateway::enpi::Assets;
use kilowatch_gateway::report::{self, Format, Kind, ReportError, Request};
use kilowatch_gateway::store::{Store, StoreSettings};

use super::args::{require_db, SiteArgs, Usage};
use super::lang;

#[derive(clap::Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    which: Which,
}

#[derive(clap::Subcommand)]
enum Which {
    /// The monthly energy-management report of a billing month: energy and cost by
    /// time-of-use period, demand against contract, power factor, CO2e, significant energy
    /// uses, EnPIs against baseline and target, alarms, savings to date.
    ///
    /// Example: kilowatch-gateway report monthly --config site.toml --month 2026-11
    ///            --lang zh-TW --pdf 2026-11.pdf
    #[command(verbatim_doc_comment)]
    Monthly {
        #[command(flatten)]
        site: SiteArgs,
        /// The plant-local month, e.g. 2026-11.
        #[arg(long)]
        month: String,
        #[command(flatten)]
        out: OutArgs,
    },
    /// The annual greenhouse-gas summary: scope 1 (fuels) and scope 2 (electricity,
    /// location-based) by source and factor year, month by month.
    Ghg {
        #[command(flatten)]
        site: SiteArgs,
        /// The calendar year, e.g. 2026.
        #[arg(long)]
        year: String,
        #[command(flatten)]
        out: OutArgs,
    },
}

#[derive(clap::Args)]
struct OutArgs {
    /// Write the report as PDF (printed by headless Chromium) to this file.
    #[arg(long, value_name = "FILE", conflicts_with = "html")]
    pdf: Option<PathBuf>,
    /// Write the report as HTML to this file (without --pdf or --html: HTML to stdout).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

pub async fn run(a: ReportArgs) -> anyhow::Result<()> {
    let (site, kind, period, out) = match a.which {
        Which::Monthly { site, month, out } => (site, Kind::Monthly, month, out),
        Which::Ghg { site, year, out } => (site, Kind::Ghg, year, out),
    };
    let format = if out.pdf.is_some() {
        Format::Pdf
    } else {
        Format::Html
    };
    let html = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let site = site.load()?;
        let lang = lang::of(Some(&site.config));
        let assets = Assets::from_site(&site.config, &site.file)?;
        require_db(&site.db, "or give --db")?;
        let store = Store::open(&site.db)?
            .with_settings(StoreSettings::for_site(&site.config, &site.profiles));
        let name = site
            .config
            .site
            .name
            .clone()
            .unwrap_or_else(|| assets.site.clone());
        let review = kilowatch_gateway::review::ReviewSite::for_site(&site.config);
        let req = Request {
            kind,
            period,
            lang,
            format,
        };
        report::html(&store, &assets, &review, &name, &req, chrono::Utc::now()).map_err(|e| match e
        {
            ReportError::Input(m) => Usage(format!(
                "{}: {m}",
                if kind == Kind::Monthly {
                    "--month"
                } else {
                    "--year"
                }
            ))
            .into(),
            other => anyhow::Error::from(other),
        })
    })
    .await
    .map_err(|e| anyhow::anyhow!("the command stopped: {e}"))??;
    match (out.pdf, out.html) {
        (Some(path), _) => {
            let pdf = report::pdf::print(&html, report::pdf::TIMEOUT).await?;
            std::fs::write(&path, pdf)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        }
        (None, Some(path)) => std::fs::write(&path, html)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
        (None, None) => print!("{html}"),
    }
    Ok(())
}
