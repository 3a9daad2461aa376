//! `mv --bills`: savings verification from utility bills (CalTRACK billing methods).

use std::path::PathBuf;

use kilowatch_gateway::enpi::Assets;
use kilowatch_gateway::mv::{self, billing, frame::Zone};
use kilowatch_gateway::store::Store;

use kilowatch_gateway::i18n;

use super::args::{input_error, load_site, require_db, zone};
use super::lang;

/// The `mv` arguments bills use.
pub struct BillArgs {
    pub path: PathBuf,
    pub config: Option<PathBuf>,
    pub db: Option<PathBuf>,
    pub device: Option<String>,
    pub temp: Option<String>,
    pub temp_csv: Option<PathBuf>,
    pub temp_col: String,
    pub temp_time: String,
    pub tz: Option<String>,
    pub json: bool,
    pub options: mv::Options,
}

/// `mv --bills`: savings from utility bills.
pub fn run(a: BillArgs) -> anyhow::Result<()> {
    let tz = a.tz.map(|t| zone(&t, "Asia/Taipei")).transpose()?;
    let mut lang = lang::of(None);
    let report = if let Some(config) = a.config {
        let site = load_site(&config, a.db)?;
        lang = lang::of(Some(&site.config));
        let assets = Assets::from_site(&site.config, &site.file)?;
        require_db(&site.db, "give --db, or use --temp-csv")?;
        let store = Store::open(&site.db)?;
        let temps = billing::TempSource::Store {
            store: &store,
            assets: &assets,
            series: a.temp.as_deref(),
        };
        let zone = Zone::Named(tz.unwrap_or(assets.timezone));
        billing::from_bills(&a.path, zone, a.device.as_deref(), temps, &a.options)
            .map_err(input_error)?
    } else {
        let temps = match &a.temp_csv {
            Some(p) => billing::TempSource::Csv {
                path: p,
                time: &a.temp_time,
                column: &a.temp_col,
            },
            None => billing::TempSource::None,
        };
        let zone = Zone::Named(tz.unwrap_or(chrono_tz::UTC));
        billing::from_bills(&a.path, zone, a.device.as_deref(), temps, &a.options)
            .map_err(input_error)?
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let u = &report.energy_unit;
    let m = &report.model;
    println!("{}", report.savings.verdict_message.render(lang));
    let cv = m.cv_rmse.map(|v| format!("{v:.1} %")).unwrap_or("—".into());
    let model = i18n::tr(
        lang,
        "cli-bills-model",
        &[
            ("form", m.form),
            ("n", &m.n.to_string()),
            ("r2", &format!("{:.3}", m.r2)),
            ("adj", &format!("{:.3}", m.adj_r2)),
            ("cv", &cv),
        ],
    );
    println!("{model}");
    let n0 = |v: f64| i18n::number_fixed(lang, v, 0);
    let reporting = i18n::tr(
        lang,
        "cli-bills-reporting",
        &[
            ("n", &report.reporting.n.to_string()),
            ("actual", &n0(report.reporting.actual)),
            (
                "adjusted",
                &n0(report.reporting.adjusted_baseline.unwrap_or_default()),
            ),
            ("avoided", &n0(report.savings.avoided)),
            ("unit", u),
        ],
    );
    println!("{reporting}");
    for w in &report.warning_messages {
        println!(
            "{}",
            i18n::tr(lang, "cli-warning", &[("text", &w.render(lang))])
        );
    }
    Ok(())
}
