//! `contract optimise`: the contract capacities that minimise a year's demand charges.

use std::path::PathBuf;

use kilowatch_gateway::contract::{self, optimise::Optimum};
use kilowatch_gateway::enpi::Assets;
use kilowatch_gateway::store::Store;

use super::args::{require_db, SiteArgs, Usage};

#[derive(clap::Args)]
pub struct ContractArgs {
    #[command(subcommand)]
    command: ContractCommand,
}

#[derive(clap::Subcommand)]
enum ContractCommand {
    /// The capacities (regular, half_peak, saturday_half_peak, off_peak) minimising the basic
    /// plus over-contract charges of the twelve whole months before --to, from the plant
    /// asset's 15-minute demand in the store or from monthly bill maxima (--bills).
    ///
    /// Example: kilowatch-gateway contract optimise --config site.toml
    ///          kilowatch-gateway contract optimise --config site.toml --bills bills.csv
    #[command(verbatim_doc_comment)]
    Optimise(OptimiseArgs),
}

#[derive(clap::Args)]
struct OptimiseArgs {
    #[command(flatten)]
    site: SiteArgs,
    /// End of the year analysed (its month is excluded): plant-local date; default now.
    #[arg(long)]
    to: Option<String>,
    /// Monthly bill maxima instead of the store: CSV `month,peak,half_peak,...` (a column per
    /// tariff period, kW; `month` as YYYY-MM; an empty cell: no such period that month).
    #[arg(long, value_name = "FILE")]
    bills: Option<PathBuf>,
    /// Print the full answer as JSON (the API's format).
    #[arg(long)]
    json: bool,
}

pub fn run(a: ContractArgs) -> anyhow::Result<()> {
    let ContractCommand::Optimise(a) = a.command;
    let site = a.site.load()?;
    let assets = Assets::from_site(&site.config, &site.file)?;
    let Some(tariff) = &assets.tariff else {
        return Err(Usage(format!(
            "{}: site.tariff: needed to price contracts",
            site.file
        ))
        .into());
    };
    let months = match &a.bills {
        Some(path) => contract::months::from_bills_csv(path, tariff)?,
        None => {
            let tz = assets.timezone;
            let to = match &a.to {
                Some(t) => kilowatch_gateway::when::instant(t, tz)
                    .map_err(|e| Usage(format!("--to: {e}")))?
                    .timestamp_millis(),
                None => chrono::Utc::now().timestamp_millis(),
            };
            require_db(&site.db, "give --db, or --bills")?;
            let store = Store::open(&site.db)?;
            contract::months_from_store(&store, &assets, contract::last_year(tz, to))?.ok_or_else(
                || {
                    Usage(format!(
                        "{}: no plant asset (type = \"plant\") to read demand from",
                        site.file
                    ))
                },
            )?
        }
    };
    let o = contract::optimise(tariff, months, site.config.contracts().as_ref())
        .map_err(|e| Usage(e.to_string()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&o)?);
    } else {
        print!("{}", table(&o));
    }
    Ok(())
}

fn table(o: &Optimum) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let kinds = ["regular", "half_peak", "saturday_half_peak", "off_peak"];
    let caps = |c: &kilowatch_site::config::Contracts| {
        [c.regular, c.half_peak, c.saturday_half_peak, c.off_peak]
    };
    let _ = writeln!(
        out,
        "contract capacity over {} months ({} .. {}), {}",
        o.months.len(),
        o.months.first().map_or("", |m| m.month.as_str()),
        o.months.last().map_or("", |m| m.month.as_str()),
        o.currency
    );
    let _ = writeln!(
        out,
        "\n{:<20} {:>10} {:>10}",
        "kind (kW)", "current", "optimal"
    );
    let best = caps(&o.best.capacities);
    let cur = o.current.as_ref().map(|c| caps(&c.capacities));
    for (k, kind) in kinds.iter().enumerate() {
        let c = cur.map_or("-".to_owned(), |c| format!("{:.1}", c[k]));
        let _ = writeln!(out, "{kind:<20} {c:>10} {:>10.1}", best[k]);
    }
    let money = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0}"));
    for (name, cur, best) in [
        ("basic", o.current.as_ref().map(|c| c.basic), o.best.basic),
        (
            "over-contract",
            o.current.as_ref().map(|c| c.over_contract),
            o.best.over_contract,
        ),
        ("total", o.current.as_ref().map(|c| c.total), o.best.total),
    ] {
        let _ = writeln!(out, "{name:<20} {:>10} {:>10.0}", money(cur), best);
    }
    if let Some(s) = o.saving {
        let _ = writeln!(out, "\nsaving a year: {s:.0} {}", o.currency);
    }
    let _ = writeln!(out, "\nmonths exceeding the optimal contracts:");
    if o.exceeded.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for e in &o.exceeded {
        let _ = writeln!(
            out,
            "  {}  {:<20} demand {:>8.1} kW  allowed {:>8.1} kW  charge {:>10.0}",
            e.month, e.kind, e.demand_kw, e.allowed_kw, e.charge
        );
    }
    out
}
