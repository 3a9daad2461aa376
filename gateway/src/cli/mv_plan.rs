//! `mv-plan`: the site's M&V plans evaluated on the store now.

use std::path::{Path, PathBuf};

use kilowatch_gateway::enpi::Assets;
use kilowatch_gateway::mv::{guarantee, plan_eval, plan_html};
use kilowatch_gateway::store::Store;

use kilowatch_gateway::i18n::{self, Language};

use super::args::{require_db, SiteArgs, Usage};
use super::lang;

#[derive(clap::Args)]
pub struct MvPlanArgs {
    #[command(flatten)]
    site: SiteArgs,
    /// Only this plan (its id in the site file).
    #[arg(long, value_name = "ID")]
    plan: Option<String>,
    /// Write the plan's self-contained HTML report here (needs --plan when the site has
    /// several plans).
    #[arg(long, value_name = "OUT")]
    html: Option<PathBuf>,
    /// Print the result as JSON (the API's format).
    #[arg(long)]
    json: bool,
}

pub fn run(a: MvPlanArgs) -> anyhow::Result<()> {
    let site = a.site.load()?;
    let assets = Assets::from_site(&site.config, &site.file)?;
    let lang = lang::of(Some(&site.config));
    evaluate(&assets, &site.file, &site.db, a.plan, a.html, a.json, lang)
}

/// `mv-plan`: evaluates the plans now and prints them.
fn evaluate(
    assets: &Assets,
    file: &str,
    db: &Path,
    only: Option<String>,
    html: Option<PathBuf>,
    json: bool,
    lang: Language,
) -> anyhow::Result<()> {
    let ids: Vec<&str> = assets.plans.iter().map(|p| p.id.as_str()).collect();
    let plans: Vec<_> = match &only {
        Some(id) => match assets.plans.iter().find(|p| &p.id == id) {
            Some(p) => vec![p],
            None => {
                return Err(Usage(format!(
                    "--plan: no plan `{id}` in {file} (plans: {})",
                    if ids.is_empty() {
                        "none: add [[mv_plans]]".to_owned()
                    } else {
                        ids.join(", ")
                    }
                ))
                .into())
            }
        },
        None => assets.plans.iter().collect(),
    };
    if plans.is_empty() {
        return Err(Usage(format!("{file} defines no [[mv_plans]]")).into());
    }
    if html.is_some() && plans.len() > 1 {
        return Err(Usage(format!(
            "--html: name one plan with --plan ({})",
            ids.join(", ")
        ))
        .into());
    }
    require_db(db, "or give --db")?;
    let mut store = Store::open(db)?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut out = Vec::new();
    for p in plans {
        let o = plan_eval::evaluate(&mut store, assets, p, now, usize::MAX)?;
        eprintln!(
            "{}: {} periods computed, {} reused",
            p.id, o.computed, o.reused
        );
        out.push(guarantee::plan_status(&store, p)?);
    }
    if let (Some(path), [one]) = (&html, out.as_slice()) {
        std::fs::write(path, plan_html::render(one, lang))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        let path = path.display().to_string();
        eprintln!(
            "{}",
            i18n::tr(lang, "cli-report-written", &[("path", &path)])
        );
    }
    if json {
        let text = match (&only, out.as_slice()) {
            (Some(_), [one]) => serde_json::to_string_pretty(one)?,
            _ => serde_json::to_string_pretty(&out)?,
        };
        println!("{text}");
    } else {
        for p in &out {
            print!("{}", plan_html::text(p, lang));
        }
    }
    Ok(())
}
