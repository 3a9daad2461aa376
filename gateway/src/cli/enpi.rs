//! `enpi`: energy-performance indicators of an asset, or the list of assets.

use kilowatch_gateway::enpi::{self, Assets, Step};
use kilowatch_gateway::i18n::{self, Language};
use kilowatch_gateway::store::{Store, StoreSettings};

use super::args::{require_db, RangeArgs, SiteArgs, Usage};
use super::lang;

#[derive(clap::Args)]
pub struct EnpiArgs {
    #[command(flatten)]
    site: SiteArgs,
    /// Asset id from the site file.
    #[arg(long, value_name = "NAME")]
    asset: Option<String>,
    #[command(flatten)]
    range: RangeArgs,
    /// 15m, 1h, 1d or 1mo (billing month); default from the span.
    #[arg(long)]
    step: Option<String>,
    /// Print the full answer as JSON (the API's format).
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print one CSV row per interval (empty cells where an input is missing; reasons in `notes`).
    #[arg(long)]
    csv: bool,
    /// Recompute and store the indicators of every asset over the range first (after a
    /// backfill, an import or a change of assets, tariff or emission factors).
    #[arg(long)]
    recompute: bool,
}

pub fn run(a: EnpiArgs) -> anyhow::Result<()> {
    let site = a.site.load()?;
    let file = &site.file;
    let lang = lang::of(Some(&site.config));
    let assets = Assets::from_site(&site.config, file)?;
    let now = chrono::Utc::now();
    let (from, to) = a.range.resolve(site.config.timezone(), now)?;
    if from >= to {
        return Err(Usage("--from must be before --to".into()).into());
    }
    let span = (to - from).num_milliseconds();
    let step = a
        .step
        .map(|s| Step::parse(&s).map_err(|e| Usage(format!("--step: {e}"))))
        .transpose()?
        .unwrap_or(Step::for_span(span));
    step.check_span(span)
        .map_err(|e| Usage(format!("--step: {e}")))?;
    require_db(&site.db, "or give --db")?;
    let mut store =
        Store::open(&site.db)?.with_settings(StoreSettings::for_site(&site.config, &site.profiles));
    if a.recompute {
        // Months before the first stored data have nothing to compute: a range
        // from year 1 costs no more than one from the start of the data.
        let first = store
            .rollup_span()?
            .map_or(to.timestamp_millis(), |(lo, _)| lo);
        let from = from.timestamp_millis().max(first);
        let units = enpi::recompute_units(&assets, from, to.timestamp_millis());
        let bar = progress_bar(units, "asset-months");
        let started = std::time::Instant::now();
        let rows = enpi::recompute(
            &mut store,
            &assets,
            from,
            to.timestamp_millis(),
            now.timestamp_millis(),
            || bar.inc(1),
        )?;
        bar.finish_and_clear();
        let (n, seconds) = (
            assets.list.len().to_string(),
            format!("{:.2}", started.elapsed().as_secs_f64()),
        );
        eprintln!(
            "{}",
            i18n::tr(
                lang,
                "cli-enpi-recomputed",
                &[
                    ("rows", &rows.to_string()),
                    ("assets", &n),
                    ("seconds", &seconds)
                ],
            )
        );
    }
    let Some(asset) = a.asset else {
        if a.json {
            println!("{}", serde_json::to_string_pretty(&enpi::list(&assets))?);
        } else if !a.recompute {
            print_assets(&assets, file, lang);
        }
        return Ok(());
    };
    let Some(report) = enpi::read(
        &store,
        &assets,
        &asset,
        step,
        from.timestamp_millis(),
        to.timestamp_millis(),
    )?
    else {
        let known: Vec<&str> = assets.list.iter().map(|a| a.id()).collect();
        return Err(Usage(format!(
            "--asset: no asset `{asset}` in {file} (assets: {})",
            if known.is_empty() {
                "none: add [[assets]]".to_owned()
            } else {
                known.join(", ")
            }
        ))
        .into());
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if a.csv {
        print!("{}", enpi::to_csv(&report));
    } else {
        print_report(&report, lang);
    }
    for w in &report.warning_messages {
        let text = w.render(lang);
        eprintln!("{}", i18n::tr(lang, "cli-warning", &[("text", &text)]));
    }
    Ok(())
}

fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {what}, {{eta}} left"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

fn print_assets(assets: &Assets, file: &str, lang: Language) {
    if assets.list.is_empty() {
        println!(
            "{}",
            i18n::tr(lang, "cli-enpi-no-assets", &[("file", file)])
        );
        return;
    }
    for info in enpi::list(assets) {
        println!(
            "{} ({}){}",
            info.id,
            info.kind,
            info.name.map_or(String::new(), |n| format!(": {n}"))
        );
        for d in info.indicators {
            println!(
                "  {:<24} {:<14} {}",
                d.name,
                d.unit,
                d.describe(lang, info.kind)
            );
        }
    }
}

fn fmt_value(v: f64) -> String {
    let a = v.abs();
    if (v.fract() == 0.0 && a < 1e15) || a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn print_report(r: &enpi::Report, lang: Language) {
    let head = i18n::tr(
        lang,
        "cli-enpi-head",
        &[
            ("asset", &r.asset),
            ("kind", r.kind),
            ("from", &r.from.format("%Y-%m-%d %H:%M UTC").to_string()),
            ("to", &r.to.format("%Y-%m-%d %H:%M UTC").to_string()),
            ("step", r.step),
            ("n", &r.rows.len().to_string()),
            ("zone", &r.timezone.to_string()),
        ],
    );
    println!("{head}");
    println!("\n{}", i18n::t(lang, "cli-enpi-whole"));
    for d in &r.indicators {
        match (
            r.summary.values.get(&d.name),
            r.summary.missing.get(&d.name),
        ) {
            (Some(v), _) => println!("  {:<24} {:>14} {}", d.name, fmt_value(*v), d.unit),
            (None, Some(why)) => println!(
                "  {:<24} {:>14} ({})",
                d.name,
                "-",
                enpi::why::render(lang, why)
            ),
            (None, None) => {}
        }
    }
    if !r.rows.is_empty() {
        println!("\n{}", i18n::t(lang, "cli-enpi-per-interval"));
    }
}
