//! `baseline`: save a fitted model as a named energy baseline, list, track and delete them.

use kilowatch_gateway::baseline::{self, BaselineError, Record, SaveRequest, Tracking};
use kilowatch_gateway::enpi::Assets;
use kilowatch_gateway::i18n::{self, Language};
use kilowatch_gateway::store::Store;
use kilowatch_gateway::when;

use super::args::{require_db, Site, SiteArgs, Usage};
use super::lang;
use super::table::{Align, Table};

#[derive(clap::Args)]
pub struct BaselineArgs {
    #[command(subcommand)]
    pub command: BaselineCommand,
}

#[derive(clap::Subcommand)]
pub enum BaselineCommand {
    /// Fit the baseline model (the `mv` command's selection) over a period and save it.
    Save(Box<SaveArgs>),
    /// The saved baselines with their model and fit.
    List {
        #[command(flatten)]
        site: SiteArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Track a baseline month by month: actual, expected, SEnPI, CUSUM, year over year, and
    /// the target's progress with the forecast of the year's end.
    Show {
        name: String,
        #[command(flatten)]
        site: SiteArgs,
        /// Track up to this date or time (exclusive; default now).
        #[arg(long)]
        to: Option<String>,
        /// The target's calendar year (default: the last one tracked).
        #[arg(long)]
        year: Option<i32>,
        /// Print the whole tracking as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a saved baseline.
    Delete {
        name: String,
        #[command(flatten)]
        site: SiteArgs,
    },
}

#[derive(clap::Args)]
pub struct SaveArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// The baseline's name (letters, digits, `-`, `_`, `.`).
    #[arg(long)]
    pub name: String,
    /// Asset id from the site file: its meters' energy, its production counter as a driver.
    #[arg(long, value_name = "NAME")]
    pub asset: Option<String>,
    /// A device whose energy counts (repeatable; added to the asset's).
    #[arg(long, value_name = "DEVICE")]
    pub energy: Vec<String>,
    /// Outdoor temperature `device/quantity` (default: the site's only `outdoor_temp`).
    #[arg(long, value_name = "SERIES")]
    pub temp: Option<String>,
    /// Do not use a temperature driver.
    #[arg(long, conflicts_with = "temp")]
    pub no_temp: bool,
    /// Another driver `device/quantity` (repeatable).
    #[arg(long = "var", value_name = "SERIES")]
    pub vars: Vec<String>,
    /// First day of the baseline period (plant-local date or RFC 3339).
    #[arg(long)]
    pub from: String,
    /// Last day of the baseline period, included.
    #[arg(long)]
    pub to: String,
    /// Period of the model: hour, day, week or month.
    #[arg(long, default_value = "day")]
    pub granularity: String,
    /// Use this model form instead of selecting (see `mv --model`).
    #[arg(long, value_name = "FORM")]
    pub model: Option<String>,
    /// absolute:KWH_PER_YEAR, intensity:KWH_PER_UNIT or percent:PER_YEAR (e.g. percent:1.5).
    #[arg(long, value_name = "KIND:VALUE")]
    pub target: Option<String>,
    /// Who saves it (default: $USER).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// Replace a baseline of the same name.
    #[arg(long)]
    pub replace: bool,
    /// Print the saved record as JSON.
    #[arg(long)]
    pub json: bool,
}

fn open(site: SiteArgs) -> anyhow::Result<(Site, Assets)> {
    let site = site.load()?;
    let assets = Assets::from_site(&site.config, &site.file)?;
    Ok((site, assets))
}

fn usage(e: BaselineError) -> anyhow::Error {
    match e {
        BaselineError::Input(m) => Usage(m).into(),
        BaselineError::Invalid(m) => Usage(m.render(lang::of_error(None))).into(),
        other => other.into(),
    }
}

pub fn run(args: BaselineArgs) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    match args.command {
        BaselineCommand::Save(a) => {
            let a = *a;
            let (site, assets) = open(a.site)?;
            require_db(&site.db, "or give --db")?;
            let mut store = Store::open(&site.db)?;
            let req = SaveRequest {
                name: a.name,
                asset: a.asset,
                energy: a.energy,
                vars: a.vars,
                temp: a.temp,
                no_temp: a.no_temp,
                from: a.from,
                to: a.to,
                granularity: Some(a.granularity),
                model: a.model,
                target: a.target,
                saved_by: a.by.or_else(|| std::env::var("USER").ok()),
                replace: a.replace,
            };
            let rec =
                baseline::fit(&store, &assets, &req, now.timestamp_millis()).map_err(usage)?;
            if !store.put_baseline(&rec.to_row(now.timestamp_millis()), req.replace)? {
                let lang = lang::of(Some(&site.config));
                return Err(Usage(i18n::tr(lang, "cli-bl-exists", &[("name", &rec.name)])).into());
            }
            if a.json {
                println!("{}", serde_json::to_string_pretty(&rec)?);
            } else {
                let lang = lang::of(Some(&site.config));
                println!("{}", i18n::tr(lang, "cli-bl-saved", &[("name", &rec.name)]));
                print_record(&rec, lang);
            }
        }
        BaselineCommand::List { site, json } => {
            let (site, _) = open(site)?;
            require_db(&site.db, "or give --db")?;
            let store = Store::open_read_only(&site.db)?;
            let recs = store
                .baselines()?
                .iter()
                .map(Record::from_row)
                .collect::<Result<Vec<_>, _>>()
                .map_err(usage)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&recs)?);
            } else if recs.is_empty() {
                println!("{}", i18n::t(lang::of(Some(&site.config)), "cli-bl-none"));
            } else {
                for r in &recs {
                    print_record(r, lang::of(Some(&site.config)));
                }
            }
        }
        BaselineCommand::Show {
            name,
            site,
            to,
            year,
            json,
        } => {
            let (site, assets) = open(site)?;
            require_db(&site.db, "or give --db")?;
            let store = Store::open_read_only(&site.db)?;
            let rec = find(&store, &name)?;
            let to = match to {
                Some(t) => when::instant(&t, assets.timezone)
                    .map_err(|e| Usage(format!("--to: {e}")))?
                    .timestamp_millis(),
                None => now.timestamp_millis(),
            };
            let t = baseline::track(&store, &assets, &rec, to, year).map_err(usage)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else {
                print!("{}", tracking_text(&t, lang::of(Some(&site.config))));
            }
        }
        BaselineCommand::Delete { name, site } => {
            let (site, _) = open(site)?;
            require_db(&site.db, "or give --db")?;
            let mut store = Store::open(&site.db)?;
            if !store.delete_baseline(&name)? {
                let lang = lang::of(Some(&site.config));
                return Err(
                    Usage(i18n::tr(lang, "cli-bl-missing-none", &[("name", &name)])).into(),
                );
            }
            let lang = lang::of(Some(&site.config));
            println!("{}", i18n::tr(lang, "cli-bl-deleted", &[("name", &name)]));
        }
    }
    Ok(())
}

fn find(store: &Store, name: &str) -> anyhow::Result<Record> {
    let row = store.baseline(name)?.ok_or_else(|| {
        let known: Vec<String> = store
            .baselines()
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.name)
            .collect();
        let lang = lang::of_error(None);
        if known.is_empty() {
            Usage(i18n::tr(lang, "cli-bl-missing-none", &[("name", name)]))
        } else {
            let known = known.join(&i18n::t(lang, "id-separator"));
            Usage(i18n::tr(
                lang,
                "cli-bl-missing",
                &[("name", name), ("known", &known)],
            ))
        }
    })?;
    Record::from_row(&row).map_err(usage)
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1} %")).unwrap_or("—".into())
}

fn print_record(r: &Record, lang: Language) {
    let steps = match r.model.granularity.as_str() {
        "hour" => "mv-steps-hour",
        "week" => "mv-steps-week",
        "month" => "mv-steps-month",
        _ => "mv-steps-day",
    };
    let what = r
        .asset
        .clone()
        .unwrap_or_else(|| i18n::t(lang, "cli-bl-meters"));
    println!(
        "{}",
        i18n::tr(
            lang,
            "cli-bl-record",
            &[
                ("name", &r.name),
                ("what", &what),
                ("from", &r.from[..10.min(r.from.len())]),
                ("to", &r.to[..10.min(r.to.len())]),
                ("source", &r.source),
                ("form", &r.model.form),
                ("vars", &r.model.variables.join(", ")),
                ("n", &r.fit.n.to_string()),
                ("steps", &i18n::t(lang, steps)),
                ("r2", &format!("{:.3}", r.fit.r2)),
                ("cv", &pct(r.fit.cv_rmse_percent)),
                ("nmbe", &pct(r.fit.nmbe_percent)),
                (
                    "invalid",
                    &if r.fit.valid {
                        String::new()
                    } else {
                        i18n::t(lang, "cli-mv-invalid")
                    },
                ),
                ("by", &r.saved_by),
                ("at", &r.saved_at),
            ],
        )
    );
}

/// The tracking as text: the definition, a table by month, the target, the warnings.
fn tracking_text(t: &Tracking, lang: Language) -> String {
    use std::fmt::Write;
    let u = &t.energy_unit;
    let unit = [("unit", u.as_str())];
    let mut out = i18n::tr(
        lang,
        "cli-bl-head",
        &[
            ("name", &t.baseline.name),
            ("definition", &i18n::t(lang, "bl-senpi-definition")),
        ],
    );
    out.push('\n');
    let mut table = Table::new(vec![
        (i18n::t(lang, "bl-axis-month"), Align::Left),
        (i18n::t(lang, "bl-phase"), Align::Right),
        (i18n::tr(lang, "bl-series-actual", &unit), Align::Right),
        (i18n::tr(lang, "bl-series-expected", &unit), Align::Right),
        ("SEnPI".into(), Align::Right),
        (i18n::t(lang, "bl-improvement"), Align::Right),
        (format!("CUSUM ({u})"), Align::Right),
        (i18n::t(lang, "bl-yoy"), Align::Right),
    ]);
    for m in &t.months {
        table.row(vec![
            m.month.clone(),
            i18n::t(
                lang,
                if m.baseline {
                    "bl-phase-baseline"
                } else {
                    "bl-phase-tracked"
                },
            ),
            format!("{:.0}", m.actual),
            format!("{:.0}", m.expected),
            m.senpi.map(|s| format!("{s:.3}")).unwrap_or("—".into()),
            pct(m.improvement_percent),
            format!("{:.0}", m.cusum),
            pct(m.yoy_improvement_percent),
        ]);
    }
    out.push_str(&table.render());
    if let Some(p) = &t.target {
        let f = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or("—".into());
        let kind = match p.target {
            baseline::Target::Absolute { .. } => "cli-bl-kind-absolute",
            baseline::Target::Intensity { .. } => "cli-bl-kind-intensity",
            baseline::Target::Percent { .. } => "cli-bl-kind-percent",
        };
        let status = match p.on_track {
            Some(true) => "bl-on-track",
            Some(false) => "bl-off-track",
            None => "cli-bl-unknown",
        };
        let _ = writeln!(
            out,
            "{}",
            i18n::tr(
                lang,
                "cli-bl-target",
                &[
                    ("kind", &i18n::t(lang, kind)),
                    ("value", &f(Some(p.target_value))),
                    ("unit", p.unit),
                    ("year", &p.year.to_string()),
                    ("achieved", &f(p.achieved)),
                    ("forecast", &f(p.forecast)),
                    ("status", &i18n::t(lang, status)),
                ],
            )
        );
        if let Some(n) = &p.note_message {
            let text = n.render(lang);
            let _ = writeln!(out, "{}", i18n::tr(lang, "cli-note", &[("text", &text)]));
        }
    }
    for w in &t.warning_messages {
        let text = w.render(lang);
        let _ = writeln!(out, "{}", i18n::tr(lang, "cli-warning", &[("text", &text)]));
    }
    out
}
