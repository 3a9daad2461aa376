//! `demand-response list|show|add` (alias `dr`): demand-response events and their verification
//! against the customer baseline load, from the site file and the database.

use kilowatch_gateway::dr::{self, Verification};
use kilowatch_gateway::enpi::Assets;
use kilowatch_gateway::store::{DrRow, Store};
use kilowatch_site::config::{Adjustment, DrEvent};

use super::args::{require_db, SiteArgs, Usage};

#[derive(clap::Args)]
pub struct DrArgs {
    #[command(subcommand)]
    command: DrCommand,
}

#[derive(clap::Subcommand)]
enum DrCommand {
    /// Every event with its baseline, delivered reduction and verdict.
    ///
    /// Example: kilowatch-gateway demand-response list --config site.toml
    #[command(verbatim_doc_comment)]
    List(Common),
    /// One event, quarter-hour by quarter-hour.
    ///
    /// Example: kilowatch-gateway dr show 2026-07-01-a --config site.toml
    #[command(verbatim_doc_comment)]
    Show {
        /// The event's id.
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Add an event to the database (as the API's POST does), then show it.
    ///
    /// Example: kilowatch-gateway dr add --config site.toml --id 2026-07-01-a
    ///            --date 2026-07-01 --start 13:00 --end 15:00 --committed-kw 50
    #[command(verbatim_doc_comment)]
    Add {
        #[command(flatten)]
        common: Common,
        /// Identifier (letters, digits, `-`, `_`).
        #[arg(long)]
        id: String,
        /// Plant-local date of the event.
        #[arg(long)]
        date: chrono::NaiveDate,
        /// Plant-local start, HH:MM on a quarter-hour.
        #[arg(long)]
        start: String,
        /// Plant-local end, HH:MM on a quarter-hour (24:00 allowed).
        #[arg(long)]
        end: String,
        /// The committed reduction, kW.
        #[arg(long)]
        committed_kw: f64,
        /// Day-of adjustment: none (the programme's rule) or additive (kilowatch's addition).
        #[arg(long, value_parser = ["none", "additive"], default_value = "none")]
        adjustment: String,
    },
}

#[derive(clap::Args)]
struct Common {
    #[command(flatten)]
    site: SiteArgs,
    /// Print the API's JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: DrArgs) -> anyhow::Result<()> {
    let (common, show, add) = match a.command {
        DrCommand::List(c) => (c, None, None),
        DrCommand::Show { id, common } => (common, Some(id), None),
        DrCommand::Add {
            common,
            id,
            date,
            start,
            end,
            committed_kw,
            adjustment,
        } => {
            let adjustment = if adjustment == "additive" {
                Adjustment::Additive
            } else {
                Adjustment::None
            };
            let e = DrEvent {
                id: id.clone(),
                date,
                start,
                end,
                committed_kw,
                adjustment,
            };
            (common, Some(id), Some(e))
        }
    };
    let site = common.site.load()?;
    let assets = Assets::from_site(&site.config, &site.file)?;
    if dr::incomers_missing(&assets) {
        return Err(Usage(format!(
            "{}: needs a plant asset (type = \"plant\")",
            site.file
        ))
        .into());
    }
    require_db(&site.db, "or give --db")?;
    if let Some(e) = &add {
        e.check()
            .map_err(|f| Usage(format!("--{}: {}", f.field.replace('_', "-"), f.what)))?;
        if assets.demand_response.iter().any(|s| s.id == e.id) {
            return Err(Usage(format!("--id: `{}` is an event of {}", e.id, site.file)).into());
        }
        let mut store = Store::open(&site.db)?;
        let row = DrRow {
            id: e.id.clone(),
            source: dr::API.into(),
            event: serde_json::to_string(e)?,
            created_at: chrono::Utc::now().timestamp_millis(),
            result: None,
            computed_at: None,
        };
        if !store.add_dr_event(&row)? {
            return Err(Usage(format!("--id: an event `{}` exists", e.id)).into());
        }
    }
    let store = Store::open_read_only(&site.db)?;
    let now = chrono::Utc::now().timestamp_millis();
    let (_, all) = dr::verify_stored(&store, &assets, now)?.unwrap_or_default();
    match show {
        Some(id) => {
            let v = all
                .into_iter()
                .find(|v| v.event.id == id)
                .ok_or_else(|| Usage(format!("no demand-response event `{id}`")))?;
            if common.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", detail(&v));
            }
        }
        None => {
            if common.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "events": all }))?
                );
            } else {
                print!("{}", list(&all));
            }
        }
    }
    Ok(())
}

fn num(v: Option<f64>, prec: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.prec$}"))
}

fn list(all: &[Verification]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for v in all {
        let _ = writeln!(
            out,
            "{:<20} {} {}-{}  committed {:.1} kW  baseline {} kW  event max {} kW  reduction {} kW  {}",
            v.event.id,
            v.event.date,
            v.event.start,
            v.event.end,
            v.event.committed_kw,
            num(v.baseline_kw, 1),
            num(v.event_max_kw, 1),
            num(v.reduction_kw, 1),
            v.verdict
        );
    }
    if all.is_empty() {
        let _ = writeln!(out, "no demand-response events");
    }
    out
}

fn detail(v: &Verification) -> String {
    use std::fmt::Write;
    let mut out = list(std::slice::from_ref(v));
    let _ = writeln!(
        out,
        "reduction = baseline - event max, counted as 0 below {:.0} kW; below the baseline: \
         {} kWh, {} kW on average",
        v.minimum_kw,
        num(v.delivered_kwh, 2),
        num(v.average_reduction_kw, 1)
    );
    let days: Vec<String> = v.baseline_days.iter().map(|d| d.to_string()).collect();
    let _ = writeln!(out, "baseline days: {}", days.join(", "));
    for s in &v.skipped_days {
        let _ = writeln!(out, "  skipped {} ({})", s.date, s.reason);
    }
    if let Some(a) = v.adjustment_kw {
        let _ = writeln!(out, "additive adjustment: {a:.1} kW (capped at ±20 %)");
    }
    let _ = writeln!(
        out,
        "  {:<6} {:>10} {:>10} {:>10} {:>4}",
        "time", "CBL kW", "actual kW", "cut kW", "met"
    );
    for q in &v.quarters {
        let met = match q.met {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        let _ = writeln!(
            out,
            "  {:<6} {:>10} {:>10} {:>10} {:>4}",
            q.start,
            num(q.cbl_kw, 1),
            num(q.actual_kw, 1),
            num(q.reduction_kw, 1),
            met
        );
    }
    if let Some(r) = &v.reason {
        let _ = writeln!(out, "insufficient data: {r}");
    }
    out
}
