//! `demand profile|events|shave`: demand management (需量抑低) on the plant's 15-minute demand.

use kilowatch_gateway::demand::{self, Event, Profile, Shave};
use kilowatch_gateway::enpi::Assets;
use kilowatch_gateway::store::Store;

use super::args::{require_db, SiteArgs, Usage};

#[derive(clap::Args)]
pub struct DemandArgs {
    #[command(subcommand)]
    command: DemandCommand,
}

#[derive(clap::Subcommand)]
enum DemandCommand {
    /// Mean and highest 15-minute demand at each quarter-hour of the day, per tariff period
    /// and day type (weekday, Saturday, Sunday or holiday).
    ///
    /// Example: kilowatch-gateway demand profile --config site.toml --from 2026-10-01
    #[command(verbatim_doc_comment)]
    Profile(Common),
    /// The highest quarter-hours (at most one a day) with each sub-meter's kW and share and
    /// the unmetered remainder.
    ///
    /// Example: kilowatch-gateway demand events --config site.toml --top 5
    #[command(verbatim_doc_comment)]
    Events {
        #[command(flatten)]
        common: Common,
        /// How many events.
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
    /// The load that would have to move to cut the peak by --cut-kw: the energy above
    /// peak − X per day and in total, the quarter-hours and days above it, the longest run.
    ///
    /// Example: kilowatch-gateway demand shave --config site.toml --cut-kw 50
    #[command(verbatim_doc_comment)]
    Shave {
        #[command(flatten)]
        common: Common,
        /// kW to take off the peak.
        #[arg(long)]
        cut_kw: f64,
    },
}

#[derive(clap::Args)]
struct Common {
    #[command(flatten)]
    site: SiteArgs,
    /// Start: plant-local date or RFC 3339; default 30 days before --to.
    #[arg(long)]
    from: Option<String>,
    /// End, exclusive: plant-local date or RFC 3339; default now.
    #[arg(long)]
    to: Option<String>,
    /// Print the API's JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: DemandArgs) -> anyhow::Result<()> {
    let (common, what) = match a.command {
        DemandCommand::Profile(c) => (c, What::Profile),
        DemandCommand::Events { common, top } => (common, What::Events(top)),
        DemandCommand::Shave { common, cut_kw } => (common, What::Shave(cut_kw)),
    };
    let site = common.site.load()?;
    let assets = Assets::from_site(&site.config, &site.file)?;
    let tz = assets.timezone;
    let time = |name: &str, v: &Option<String>| {
        v.as_deref()
            .map(|t| {
                kilowatch_gateway::when::instant(t, tz)
                    .map(|t| t.timestamp_millis())
                    .map_err(|e| Usage(format!("--{name}: {e}")))
            })
            .transpose()
    };
    let to = time("to", &common.to)?.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    let from = time("from", &common.from)?.unwrap_or(to - demand::DEFAULT_SPAN_MS);
    if from >= to {
        return Err(Usage("--from must be before --to".into()).into());
    }
    let (Some(tariff), Some(_)) = (&assets.tariff, demand::incomers(&assets)) else {
        return Err(Usage(format!(
            "{}: needs site.tariff and a plant asset (type = \"plant\")",
            site.file
        ))
        .into());
    };
    require_db(&site.db, "or give --db")?;
    let store = Store::open(&site.db)?;
    let quarters = || -> anyhow::Result<Vec<demand::Quarter>> {
        Ok(demand::plant_quarters(&store, &assets, (from, to))?.unwrap_or_default())
    };
    match what {
        What::Profile => {
            let p = demand::profile(tariff, tz, &quarters()?);
            if common.json {
                json(&p)?;
            } else {
                print!("{}", profile_table(&p));
            }
        }
        What::Events(n) => {
            let tree = site.config.meter_tree();
            let e = demand::events_from_store(&store, &assets, &tree, (from, to), n)?
                .unwrap_or_default();
            if common.json {
                json(&e)?;
            } else {
                print!("{}", events_table(&e));
            }
        }
        What::Shave(x) => {
            let s = demand::shave(tz, &quarters()?, x).ok_or_else(|| {
                Usage("--cut-kw must be a positive number, and the range needs demand data".into())
            })?;
            if common.json {
                json(&s)?;
            } else {
                print!("{}", shave_table(&s));
            }
        }
    }
    Ok(())
}

enum What {
    Profile,
    Events(usize),
    Shave(f64),
}

fn json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn profile_table(p: &Profile) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for g in &p.groups {
        let _ = writeln!(out, "{} / {}", g.day_type, g.period);
        let _ = writeln!(
            out,
            "  {:<6} {:>10} {:>10} {:>5}",
            "time", "mean kW", "max kW", "days"
        );
        for s in &g.slots {
            let _ = writeln!(
                out,
                "  {:<6} {:>10.1} {:>10.1} {:>5}",
                s.time, s.mean_kw, s.max_kw, s.count
            );
        }
    }
    if p.groups.is_empty() {
        let _ = writeln!(out, "no demand in the range");
    }
    out
}

fn events_table(events: &[Event]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for (i, e) in events.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>2}. {}  {:>9.1} kW  {} / {}",
            i + 1,
            e.start,
            e.demand_kw,
            e.day_type,
            e.period
        );
        for m in &e.meters {
            match (m.kw, m.share) {
                (Some(kw), Some(s)) => {
                    let _ = writeln!(out, "      {:<24} {kw:>9.1} kW {:>5.1} %", m.id, s * 100.0);
                }
                _ => {
                    let _ = writeln!(out, "      {:<24} {:>9} (no data)", m.id, "-");
                }
            }
        }
        let _ = writeln!(
            out,
            "      {:<24} {:>9.1} kW {:>5.1} %",
            "(unmetered)",
            e.unmetered_kw,
            e.unmetered_share * 100.0
        );
    }
    if events.is_empty() {
        let _ = writeln!(out, "no demand in the range");
    }
    out
}

fn shave_table(s: &Shave) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "peak {:.1} kW, cut {:.1} kW, level {:.1} kW",
        s.peak_kw, s.cut_kw, s.level_kw
    );
    let _ = writeln!(
        out,
        "energy above the level: {:.2} kWh in {} quarter-hours on {} days; longest run {} quarter-hours",
        s.energy_kwh,
        s.quarters,
        s.days.len(),
        s.longest_run
    );
    for d in &s.days {
        let _ = writeln!(
            out,
            "  {}  {:>9.2} kWh  {:>3} quarter-hours  max {:.1} kW",
            d.date, d.energy_kwh, d.quarters, d.max_kw
        );
    }
    out
}
