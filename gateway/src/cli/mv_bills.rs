//! `mv --bills`: savings verification from utility bills (CalTRACK billing methods).

use std::path::PathBuf;

use kilowatch_gateway::enpi::Assets;
use kilowatch_gateway::mv::{self, billing, frame::Zone};
use kilowatch_gateway::store::Store;

use super::args::{input_error, load_site, require_db, zone};

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
    let report = if let Some(config) = a.config {
        let site = load_site(&config, a.db)?;
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
    println!("{}", report.savings.verdict);
    println!(
        "model {} on {} bills: R² {:.3}, adj. R² {:.3}, CV(RMSE) {}",
        m.form,
        m.n,
        m.r2,
        m.adj_r2,
        m.cv_rmse.map(|v| format!("{v:.1} %")).unwrap_or("—".into()),
    );
    println!(
        "reporting: {} bills, actual {:.0} {u}, adjusted baseline {:.0} {u}, avoided {:.0} {u}",
        report.reporting.n,
        report.reporting.actual,
        report.reporting.adjusted_baseline.unwrap_or_default(),
        report.savings.avoided
    );
    for w in &report.warnings {
        println!("warning: {w}");
    }
    Ok(())
}
