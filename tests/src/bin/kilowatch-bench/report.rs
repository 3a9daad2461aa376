//! `kilowatch-bench report-suite [--repeat 10] [--pdf-repeat 3]`: the monthly
//! energy-management report of the demo plant (last month, from two months of its history)
//! timed as HTML (gather from the store + render; goal < 1 s) and as PDF (the same plus
//! headless Chromium's print; goal < 5 s), in both languages.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use kilowatch_gateway::enpi::Assets;
use kilowatch_gateway::i18n::Language;
use kilowatch_gateway::report::{self, Format, Kind, Request};
use kilowatch_gateway::review::ReviewSite;
use kilowatch_gateway::store::{Store, StoreSettings};
use kilowatch_site::config::SiteConfig;
use kilowatch_site::profile::ProfileLibrary;

use super::flag;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn report_suite(args: &[String]) -> anyhow::Result<()> {
    let repeat: usize = flag(args, "--repeat").unwrap_or("10").parse()?;
    let pdf_repeat: usize = flag(args, "--pdf-repeat").unwrap_or("3").parse()?;
    anyhow::ensure!(
        repeat > 0 && pdf_repeat > 0,
        "--repeat and --pdf-repeat: at least 1"
    );
    let dir = std::env::temp_dir().join(format!("kilowatch-bench-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("demo.db");
    let _ = std::fs::remove_file(&db);
    // Last month whole: up to 62 days back.
    super::api::prefill(&db, Duration::from_secs(62 * 86_400))?;
    let profiles = ProfileLibrary::builtin();
    let config = SiteConfig::parse(kilowatch_gateway::DEMO_SITE, "demo-site.toml", &profiles)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let assets =
        Assets::from_site(&config, "demo-site.toml").map_err(|e| anyhow::anyhow!("{e}"))?;
    let review = ReviewSite::for_site(&config);
    let store = Store::open(&db)?.with_settings(StoreSettings::for_site(&config, &profiles));
    let month = report::previous_month(chrono::Utc::now(), assets.timezone);
    let period = month.format("%Y-%m").to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!(
        "monthly report of the demo plant, {period}; load average at the start: {}",
        loadavg()
    );
    println!(
        "\n| language | HTML median | HTML max | PDF median | PDF max | size HTML | size PDF |"
    );
    println!("|---|---|---|---|---|---|---|");
    for lang in Language::ALL {
        let req = Request {
            kind: Kind::Monthly,
            period: period.clone(),
            lang,
            format: Format::Html,
        };
        let mut html_s = Vec::new();
        let mut html = String::new();
        for _ in 0..repeat {
            let t = Instant::now();
            html = report::html(
                &store,
                &assets,
                &review,
                "Demo plant",
                &req,
                chrono::Utc::now(),
            )
            .context("the monthly report")?;
            html_s.push(t.elapsed().as_secs_f64());
        }
        let mut pdf_s = Vec::new();
        let mut pdf = Vec::new();
        for _ in 0..pdf_repeat {
            let t = Instant::now();
            let h = report::html(
                &store,
                &assets,
                &review,
                "Demo plant",
                &req,
                chrono::Utc::now(),
            )?;
            pdf = runtime.block_on(report::pdf::print(&h, report::pdf::TIMEOUT))?;
            pdf_s.push(t.elapsed().as_secs_f64());
        }
        println!(
            "| {} | {:.3} s | {:.3} s | {:.2} s | {:.2} s | {} kB | {} kB |",
            lang.tag(),
            median(html_s.clone()),
            html_s.iter().copied().fold(0.0, f64::max),
            median(pdf_s.clone()),
            pdf_s.iter().copied().fold(0.0, f64::max),
            html.len() / 1024,
            pdf.len() / 1024
        );
    }
    println!("\nload average at the end: {}", loadavg());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
