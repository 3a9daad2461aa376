//! `review`: the energy review of a period (uses ranked, significant uses flagged).

use kilowatch_gateway::enpi::Assets;
use kilowatch_gateway::review::{self, Review, ReviewSite};
use kilowatch_gateway::store::{Store, StoreSettings};

use kilowatch_gateway::i18n::{self, Language};

use super::args::{require_db, RangeArgs, SiteArgs, Usage};
use super::lang;

#[derive(clap::Args)]
pub struct ReviewArgs {
    #[command(flatten)]
    site: SiteArgs,
    #[command(flatten)]
    range: RangeArgs,
    /// Print the full answer as JSON (the API's format).
    #[arg(long)]
    json: bool,
}

pub fn run(a: ReviewArgs) -> anyhow::Result<()> {
    let site = a.site.load()?;
    let assets = Assets::from_site(&site.config, &site.file)?;
    let (from, to) = a
        .range
        .resolve(site.config.timezone(), chrono::Utc::now())?;
    if from >= to {
        return Err(Usage("--from must be before --to".into()).into());
    }
    require_db(&site.db, "or give --db")?;
    let store =
        Store::open(&site.db)?.with_settings(StoreSettings::for_site(&site.config, &site.profiles));
    let r = review::review(
        &store,
        &ReviewSite::for_site(&site.config),
        &assets,
        from.timestamp_millis(),
        to.timestamp_millis(),
    )?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!(
            "{}",
            table(&r, site.config.timezone(), lang::of(Some(&site.config)))
        );
    }
    Ok(())
}

/// The review as a table, largest use first, then the notes.
fn table(r: &Review, tz: chrono_tz::Tz, lang: Language) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let when = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M");
    let head = i18n::tr(
        lang,
        "cli-review-head",
        &[
            ("from", &when(r.from).to_string()),
            ("to", &when(r.to).to_string()),
            ("zone", &tz.to_string()),
            ("total", &i18n::number_fixed(lang, r.total_kwh, 1)),
            ("unit", r.unit),
            ("cumulative", &r.rule.cumulative_percent.to_string()),
            ("min", &r.rule.min_percent.to_string()),
        ],
    );
    let _ = writeln!(out, "{head}");
    let width = r
        .uses
        .iter()
        .map(|u| u.id.chars().count())
        .max()
        .unwrap_or(0)
        .max(3);
    let _ = writeln!(
        out,
        "\n{:>4}  {:<width$}  {:>12}  {:>6}  {:>6}  {:<11}  drivers",
        "rank", "use", "kWh", "%", "cum %", "significant"
    );
    for u in &r.uses {
        let row = format!(
            "{:>4}  {:<width$}  {:>12.1}  {:>6.1}  {:>6.1}  {:<11}  {}",
            u.rank,
            u.id,
            u.kwh,
            u.percent,
            u.cumulative_percent,
            if u.significant { "SEU" } else { "" },
            u.drivers.join(", ")
        );
        let _ = writeln!(out, "{}", row.trim_end());
    }
    if !r.note_messages.is_empty() {
        let _ = writeln!(out, "\n{}", i18n::t(lang, "cli-review-notes"));
        for n in &r.note_messages {
            let _ = writeln!(out, "  {}", n.render(lang));
        }
    }
    out
}
