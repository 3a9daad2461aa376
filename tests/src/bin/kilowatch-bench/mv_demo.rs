//! `kilowatch-bench mv-demo-data --out DIR`: the demo plant's simulated history with both
//! retrofits moved to 2026-07-25 (as in gateway's
//! `simulator_retrofit_savings_are_recovered_from_the_store` test), exported for
//! tests/bench/mv_compare.py: hourly and daily CSV (energy per asset, outdoor temperature,
//! production; plant-local times), the truth per day and measure, the site's holidays, and
//! kilowatch's own results read straight from the store (to check the CSV path against).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{ensure, Context as _};
use chrono::{NaiveDateTime, TimeZone as _, Timelike as _};
use kilowatch_gateway::enpi::Assets;
use kilowatch_gateway::mv;
use kilowatch_gateway::store::{Store, StoreSettings};
use kilowatch_site::config::SiteConfig;
use kilowatch_site::profile::ProfileLibrary;
use serde_json::json;

const BASELINE: &str = "2026-06-10..2026-07-24";
const REPORTING: &str = "2026-07-25..2026-09-07";
const END: &str = "2026-09-07T16:00:00Z";
const HISTORY_DAYS: u64 = 90;
/// The CSV column of each asset's energy.
const ASSETS: [(&str, &str); 2] = [("chiller", "chiller_kwh"), ("compressed-air", "air_kwh")];
const PRODUCTION: &str = "line-1/production_count";

/// Sums (energy per asset, production) and means (temperature) over quarter-hours; a period
/// missing any quarter's energy has none.
#[derive(Default)]
struct Acc {
    quarters: u32,
    energy: [Option<f64>; 2],
    temp: (f64, u32),
    production: Option<f64>,
}

impl Acc {
    fn add(&mut self, energy: [Option<f64>; 2], temp: Option<f64>, production: Option<f64>) {
        if self.quarters == 0 {
            self.energy = [Some(0.0); 2];
            self.production = Some(0.0);
        }
        self.quarters += 1;
        for (acc, e) in self.energy.iter_mut().zip(energy) {
            *acc = acc.zip(e).map(|(a, b)| a + b);
        }
        if let Some(t) = temp {
            self.temp = (self.temp.0 + t, self.temp.1 + 1);
        }
        self.production = self.production.zip(production).map(|(a, b)| a + b);
    }

    fn row(&self, time: &str, full: u32) -> String {
        let cell = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
        let complete = self.quarters == full;
        let energy = self.energy.map(|e| cell(e.filter(|_| complete)));
        let temp = (self.temp.1 > 0).then(|| self.temp.0 / f64::from(self.temp.1));
        format!(
            "{time},{},{},{},{}\n",
            energy[0],
            energy[1],
            cell(temp),
            cell(self.production.filter(|_| complete))
        )
    }
}

pub fn mv_demo_data(args: &[String]) -> anyhow::Result<()> {
    let out = PathBuf::from(crate::flag(args, "--out").context("give --out DIR")?);
    std::fs::create_dir_all(&out)?;
    let text = kilowatch_gateway::DEMO_SITE
        .replace("date = \"2026-10-15\"", "date = \"2026-07-25\"")
        .replace("date = \"2026-11-01\"", "date = \"2026-07-25\"");
    ensure!(
        text.matches("date = \"2026-07-25\"").count() == 2,
        "the demo site's retrofit dates changed: update mv_demo.rs"
    );
    let profiles = ProfileLibrary::builtin();
    let config = SiteConfig::parse(&text, "demo-site.toml", &profiles)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let assets =
        Assets::from_site(&config, "demo-site.toml").map_err(|e| anyhow::anyhow!("{e}"))?;
    let dir = std::env::temp_dir().join(format!("kw-mv-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let result = export(&config, &assets, &dir, &out);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn export(
    config: &SiteConfig,
    assets: &Assets,
    dir: &std::path::Path,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let profiles = ProfileLibrary::builtin();
    let mut store = Store::open(&dir.join("demo.db"))?
        .with_settings(StoreSettings::for_site(config, &profiles));
    let end: chrono::DateTime<chrono::Utc> = END.parse()?;
    let (_, _, report) = kilowatch_gateway::backfill::backfill(
        config,
        "demo-site.toml",
        &mut store,
        std::time::Duration::from_secs(HISTORY_DAYS * 86_400),
        end,
        false,
    )?;
    let (from, to) = (report.from.timestamp_millis(), report.to.timestamp_millis());
    let tz = assets.timezone;
    // Each asset's quarter-hours with the production counter as the driver (temperature and
    // production are the same series for both).
    let mut raws = Vec::new();
    for (asset, _) in ASSETS {
        let q = mv::input::StoreQuery {
            asset: Some(asset.into()),
            vars: vec![PRODUCTION.into()],
            ..Default::default()
        };
        let (raw, _) =
            mv::input::read_store(&store, assets, &q, from, to).map_err(|e| anyhow::anyhow!(e))?;
        ensure!(raw.has_temp, "no outdoor temperature in the demo store");
        raws.push(raw);
    }
    ensure!(raws[0].obs.len() == raws[1].obs.len());
    let mut hours: BTreeMap<NaiveDateTime, Acc> = BTreeMap::new();
    let mut days: BTreeMap<chrono::NaiveDate, Acc> = BTreeMap::new();
    for (a, b) in raws[0].obs.iter().zip(&raws[1].obs) {
        ensure!(a.ts == b.ts);
        let local = tz
            .timestamp_millis_opt(a.ts)
            .single()
            .context("bad instant")?
            .naive_local();
        let hour = local
            .date()
            .and_hms_opt(local.hour(), 0, 0)
            .context("hour")?;
        let energy = [a.energy, b.energy];
        let production = a.vars.first().copied().flatten();
        hours
            .entry(hour)
            .or_default()
            .add(energy, a.temp, production);
        days.entry(local.date())
            .or_default()
            .add(energy, a.temp, production);
    }
    let header = format!("time,{},{},temp_c,production\n", ASSETS[0].1, ASSETS[1].1);
    let mut hourly = header.clone();
    for (t, acc) in &hours {
        hourly.push_str(&acc.row(&t.format("%Y-%m-%d %H:%M").to_string(), 4));
    }
    let mut daily = header;
    for (d, acc) in &days {
        daily.push_str(&acc.row(&d.format("%Y-%m-%d").to_string(), 96));
    }
    let mut truth = String::from("date,measure,kwh\n");
    for (d, measure, kwh) in &report.truth {
        writeln!(truth, "{d},{measure},{kwh:.4}")?;
    }
    std::fs::write(out.join("hourly.csv"), hourly)?;
    std::fs::write(out.join("daily.csv"), daily)?;
    std::fs::write(out.join("truth.csv"), truth)?;
    let holidays: Vec<String> = assets.holidays.iter().map(|d| d.to_string()).collect();
    // kilowatch on the store itself, for the comparison to check its CSV runs against (an
    // asset with a production counter, the compressor room, uses it either way).
    let mut from_store = Vec::new();
    for (asset, _) in ASSETS {
        for production in [false, true] {
            for g in ["day", "hour"] {
                let q = mv::input::StoreQuery {
                    asset: Some(asset.into()),
                    vars: if production {
                        vec![PRODUCTION.into()]
                    } else {
                        vec![]
                    },
                    ..Default::default()
                };
                let o = mv::Options {
                    baseline: BASELINE.into(),
                    reporting: REPORTING.into(),
                    granularity: Some(g.into()),
                    ..Default::default()
                };
                let r = mv::from_store(&store, assets, &q, &o)
                    .map_err(|e| anyhow::anyhow!("{asset} by {g}: {e}"))?;
                from_store.push(json!({
                    "asset": asset, "granularity": g, "source": r.source,
                    "form": r.model.form, "avoided": r.savings.avoided,
                    "uncertainty_90": r.savings.uncertainty_90, "verified": r.savings.verified,
                }));
            }
        }
    }
    let meta = json!({
        "baseline": BASELINE, "reporting": REPORTING, "time_zone": tz.name(),
        "holidays": holidays, "energy_columns": ASSETS.iter().map(|(a, c)| json!({"asset": a, "column": c})).collect::<Vec<_>>(),
        "production": PRODUCTION, "from_store": from_store,
    });
    std::fs::write(out.join("meta.json"), serde_json::to_string_pretty(&meta)?)?;
    eprintln!(
        "wrote {} hours and {} days of the demo plant to {}",
        hours.len(),
        days.len(),
        out.display()
    );
    Ok(())
}
