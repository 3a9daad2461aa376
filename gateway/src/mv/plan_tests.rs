//! M&V plans: config errors naming file and key; billing months; evaluation of two contract
//! years on a real SQLite store with known savings, and reuse of stored results.

use kilowatch_site::config::SiteConfig;
use kilowatch_site::profile::ProfileLibrary;

use crate::enpi::Assets;
use crate::mv::guarantee::{normal_cdf, plan_status};
use crate::mv::plan::{Guarantee, Plan};
use crate::mv::plan_eval::{due_periods, evaluate, PeriodResult};
use crate::rollup::Agg;
use crate::store::Store;

const SITE: &str = r#"
[site]
id = "s"
timezone = "Asia/Taipei"

[[devices]]
id = "m"
profile = "eastron-sdm630"
tcp = "127.0.0.1:5020"

[[assets]]
id = "line"
type = "plant"
power = ["m"]
"#;

const PLAN: &str = r#"
[[mv_plans]]
id = "retrofit"
name = "Lighting retrofit"
measure = "LED lighting"
meters = ["m"]
baseline = "2024-01-01..2024-06-30"
reporting_start = "2024-07-01"
no_temp = true
guarantee = { percent = 10 }
contract_years = 2
"#;

fn load(text: &str) -> Result<Assets, String> {
    let profiles = ProfileLibrary::builtin();
    let config = SiteConfig::parse(text, "site.toml", &profiles).map_err(|e| e.to_string())?;
    Assets::from_site(&config, "site.toml").map_err(|e| e.to_string())
}

#[test]
fn a_good_plan_loads_with_its_defaults() {
    let assets = load(&format!("{SITE}{PLAN}")).unwrap();
    let p = &assets.plans[0];
    assert_eq!(p.id, "retrofit");
    assert_eq!(p.billing_day, 1);
    assert!(p.price);
    assert_eq!(p.guarantee, Guarantee::Percent(10.0));
    assert_eq!(p.boundary(), "meters m");
    // A TOML date works as well as a string.
    let assets = load(&format!(
        "{SITE}{}",
        PLAN.replace("\"2024-07-01\"", "2024-07-01")
            .replace("meters = [\"m\"]", "asset = \"line\"")
    ))
    .unwrap();
    assert_eq!(assets.plans[0].reporting_start.to_string(), "2024-07-01");
    assert_eq!(assets.plans[0].boundary(), "asset line");
}

#[test]
fn bad_plans_are_config_errors_naming_file_and_key() {
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "unknown asset",
            PLAN.replace("meters = [\"m\"]", "asset = \"boiler\""),
            "mv_plans[0].asset",
            "no asset `boiler`",
        ),
        (
            "unknown meter",
            PLAN.replace("[\"m\"]", "[\"m\", \"ghost\"]"),
            "mv_plans[0].meters[1]",
            "no device `ghost`",
        ),
        (
            "no boundary",
            PLAN.replace("meters = [\"m\"]\n", ""),
            "mv_plans[0]",
            "no boundary",
        ),
        (
            "overlap",
            PLAN.replace("\"2024-07-01\"", "\"2024-06-15\""),
            "mv_plans[0].reporting_start",
            "overlap",
        ),
        (
            "reporting before baseline",
            PLAN.replace("\"2024-07-01\"", "\"2023-12-01\""),
            "mv_plans[0].reporting_start",
            "not after the baseline",
        ),
        (
            "guarantee without unit",
            PLAN.replace("{ percent = 10 }", "{}"),
            "mv_plans[0].guarantee",
            "no unit",
        ),
        (
            "guarantee with both",
            PLAN.replace("{ percent = 10 }", "{ percent = 10, kwh_per_year = 5000 }"),
            "mv_plans[0].guarantee",
            "not both",
        ),
        (
            "guarantee unknown unit",
            PLAN.replace("{ percent = 10 }", "{ percnt = 10 }"),
            "mv_plans[0].guarantee.percnt",
            "unknown field",
        ),
        (
            "contract 0",
            PLAN.replace("contract_years = 2", "contract_years = 0"),
            "mv_plans[0].contract_years",
            "1 to 30",
        ),
        (
            "contract 31",
            PLAN.replace("contract_years = 2", "contract_years = 31"),
            "mv_plans[0].contract_years",
            "1 to 30",
        ),
        (
            "duplicate id",
            format!("{PLAN}{PLAN}"),
            "mv_plans[1].id",
            "used by two plans",
        ),
        (
            "unknown key",
            PLAN.replace("name =", "colour = \"red\"\nname ="),
            "mv_plans[0].colour",
            "unknown field",
        ),
        (
            "billing day",
            PLAN.replace("contract_years", "billing_day = 29\ncontract_years"),
            "mv_plans[0].billing_day",
            "1 to 28",
        ),
        (
            "adjustment",
            PLAN.replace(
                "contract_years",
                "adjustments = [\"2024-08-01..2024-08-31=lots\"]\ncontract_years",
            ),
            "mv_plans[0].adjustments[0]",
            "reason",
        ),
        (
            "schedule",
            PLAN.replace("contract_years", "schedule = \"weekly\"\ncontract_years"),
            "mv_plans[0].schedule",
            "monthly",
        ),
    ];
    for (name, plan, key, what) in cases {
        let e = load(&format!("{SITE}{plan}")).unwrap_err();
        assert!(
            e.starts_with(&format!("site.toml: {key}: ")) && e.contains(what),
            "{name}: {e}"
        );
    }
}

#[test]
fn billing_months_are_cut_at_contract_years() {
    let text = PLAN
        .replace("\"2024-07-01\"", "\"2024-07-10\"")
        .replace("contract_years", "billing_day = 15\ncontract_years");
    let assets = load(&format!("{SITE}{text}")).unwrap();
    let p = &assets.plans[0];
    let segs = p.segments();
    let show = |i: usize| format!("{}..{} y{}", segs[i].from, segs[i].to, segs[i].year);
    assert_eq!(show(0), "2024-07-10..2024-07-15 y1");
    assert_eq!(show(1), "2024-07-15..2024-08-15 y1");
    assert_eq!(show(12), "2025-06-15..2025-07-10 y1");
    assert_eq!(show(13), "2025-07-10..2025-07-15 y2");
    assert_eq!(segs.last().unwrap().to.to_string(), "2026-07-10");
    assert_eq!(segs.len(), 26);
    // Completed by 2024-08-20 (Taipei): July's stub and July-August, with their years to date.
    let now = p.instant("2024-08-20".parse().unwrap());
    let due: Vec<String> = due_periods(p, now)
        .iter()
        .map(|(a, b)| format!("{a}..{b}"))
        .collect();
    assert_eq!(
        due,
        [
            "2024-07-10..2024-07-15",
            "2024-07-15..2024-08-15",
            "2024-07-10..2024-08-15"
        ]
    );
}

#[test]
fn normal_cdf_matches_tables() {
    for (z, p) in [
        (0.0, 0.5),
        (1.0, 0.841_344_7),
        (-1.644_854, 0.05),
        (3.0, 0.998_650_1),
    ] {
        assert!(
            (normal_cdf(z) - p).abs() < 1e-6,
            "Φ({z}) = {}",
            normal_cdf(z)
        );
    }
}

/// Daily kWh of the synthetic meter: 1000 kWh ± 5 % (a fixed pseudo-random day factor), 12 %
/// less from the reporting start.
fn day_kwh(day: i64, retrofit: bool) -> (f64, f64) {
    let mut x = (day as u64)
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    x ^= x >> 33;
    let u = (x % 10_000) as f64 / 10_000.0;
    let used = 1000.0 * (1.0 + 0.1 * (u - 0.5));
    if retrofit {
        (0.88 * used, 0.12 * used)
    } else {
        (used, 0.0)
    }
}

/// Writes quarter-hour energy rollups for device `m` from `from` for `days` days (what a
/// backfill loads); returns the true savings per day start.
fn fill(store: &mut Store, plan: &Plan, from: &str, days: i64, scale: f64) -> Vec<(i64, f64)> {
    let id = store
        .ensure_series("s", "m", "active_energy_import", "kWh")
        .unwrap();
    let start = plan.instant(from.parse().unwrap());
    let retrofit_at = plan.instant(plan.reporting_start);
    let mut rollups = Vec::new();
    let mut truth = Vec::new();
    let mut counter = 0.0;
    for d in 0..days {
        let day0 = start + d * 86_400_000;
        let (used, saved) = day_kwh(day0 / 86_400_000, day0 >= retrofit_at);
        truth.push((day0, saved));
        for q in 0..96 {
            let e = scale * used / 96.0;
            counter += e;
            let agg = Agg {
                count: 1,
                avg: Some(counter),
                min: Some(counter),
                max: Some(counter),
                delta: Some(e),
                ..Agg::default()
            };
            rollups.push((id, 900, day0 + q * 900_000, agg));
        }
    }
    store.bulk_load(&[], &rollups).unwrap();
    truth
}

#[test]
fn two_contract_years_are_evaluated_stored_and_reused() {
    let assets = load(&format!("{SITE}{PLAN}")).unwrap();
    let plan = &assets.plans[0];
    let dir = std::env::temp_dir().join(format!("kw-mv-plan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut store = Store::open(&dir.join("t.db")).unwrap();
    let truth = fill(&mut store, plan, "2024-01-01", 182 + 730, 1.0);
    let now = plan.instant("2026-07-02".parse().unwrap());
    let first = evaluate(&mut store, &assets, plan, now, usize::MAX).unwrap();
    // 24 months and 22 years-to-date (a year's first month is its own year to date).
    assert_eq!((first.computed, first.reused, first.pending), (46, 0, 0));
    let status = plan_status(&store, plan).unwrap();
    assert_eq!(status.months.len(), 24);
    assert_eq!(status.years.len(), 2);
    for y in &status.years {
        let (a, b) = (
            plan.instant(y.from.parse().unwrap()),
            plan.instant(y.to.parse().unwrap()),
        );
        let true_savings: f64 = truth
            .iter()
            .filter(|(t, _)| *t >= a && *t < b)
            .map(|(_, s)| s)
            .sum();
        let s = y.avoided_kwh.unwrap();
        let u90 = y.standard_error_kwh.unwrap() * crate::mv::dist::t_quantile(0.95, 181.0);
        assert!(y.complete, "{y:?}");
        assert!(
            (s - true_savings).abs() <= u90,
            "year {}: {s:.0} kWh saved, truly {true_savings:.0} ± {u90:.0}",
            y.year
        );
        let g = y.guarantee_kwh.unwrap();
        assert!((g - 0.1 * y.adjusted_baseline_kwh.unwrap()).abs() < 1e-6);
        assert!(y.verified, "{y:?}");
        assert_eq!(y.status, "met", "{y:?}");
        assert!(y.confidence.unwrap() > 0.99, "{y:?}");
        assert_eq!(y.shortfall_kwh, Some(0.0));
        assert!(y.explanation.contains("confidence"), "{}", y.explanation);
    }
    assert_eq!(status.status, "met");
    assert!(
        status.explanation.starts_with("year 2: "),
        "{}",
        status.explanation
    );
    // The report in Chinese: its labels, the status and the engine's sentences, no English.
    let zh = crate::i18n::Language::TraditionalChinese;
    let page = crate::mv::plan_html::render(&status, zh);
    for want in [
        "lang=\"zh-TW\"",
        "依合約年度",
        "達成",
        "第 2 年：節能量",
        "節能量通過查證",
    ] {
        assert!(page.contains(want), "lacks {want}: {page}");
    }
    for english in [
        "By contract year",
        "savings verified",
        "guarantee of",
        "Year 2:",
    ] {
        assert!(!page.contains(english), "{english} in {page}");
    }
    let en = crate::mv::plan_html::render(&status, crate::i18n::Language::English);
    assert!(en.contains("By contract year") && en.contains("savings verified"));
    // Each month saves about 12 %.
    for m in &status.months {
        let pct = m.result.percent.unwrap();
        assert!((10.0..14.0).contains(&pct), "{}: {pct}", m.result.from);
    }

    // Nothing changed: everything is reused.
    let again = evaluate(&mut store, &assets, plan, now, usize::MAX).unwrap();
    assert_eq!((again.computed, again.reused), (0, 46));
    // Data repaired in year 2's third month: that month and the years to date from it.
    fill(&mut store, plan, "2025-09-10", 1, 1.01);
    let after = evaluate(&mut store, &assets, plan, now, usize::MAX).unwrap();
    assert_eq!((after.computed, after.reused), (11, 35));
    // A budget leaves the rest for later.
    fill(&mut store, plan, "2025-09-10", 1, 1.02);
    let part = evaluate(&mut store, &assets, plan, now, 4).unwrap();
    assert_eq!((part.computed, part.pending), (4, 7));

    // The same results against a guarantee of 60 000 kWh a year: a verified shortfall.
    let mut strict = plan.clone();
    strict.guarantee = Guarantee::KwhPerYear(60_000.0);
    let status = plan_status(&store, &strict).unwrap();
    let y1 = &status.years[0];
    assert_eq!(y1.status, "shortfall", "{y1:?}");
    assert_eq!(y1.guarantee_kwh, Some(60_000.0));
    let short = y1.shortfall_kwh.unwrap();
    assert!((short - (60_000.0 - y1.avoided_kwh.unwrap())).abs() < 1e-6);
    assert!(short > 10_000.0 && y1.confidence.unwrap() < 0.01, "{y1:?}");
    assert_eq!(y1.shortfall_money, None, "no priced savings in the report");
}

#[test]
fn unverified_savings_never_claim_the_guarantee() {
    let assets = load(&format!("{SITE}{PLAN}")).unwrap();
    let plan = &assets.plans[0];
    let ytd = PeriodResult {
        from: "2024-07-01".into(),
        to: "2025-07-01".into(),
        avoided: 50_000.0,
        adjusted_baseline: Some(365_000.0),
        uncertainty_90: Some(60_000.0),
        df: Some(181.0),
        verified: false,
        verdict: "savings not distinguishable from zero at 90% confidence".into(),
        priced_total: Some(150_000.0),
        currency: Some("TWD".into()),
        ..PeriodResult::default()
    };
    let y = crate::mv::guarantee::year_status(plan, 1, Some(&ytd));
    assert_eq!(y.status, "not established");
    assert!(
        y.explanation.contains("not distinguishable"),
        "{}",
        y.explanation
    );
    // The figures are still given: 50 000 kWh against 36 500, shortfall none.
    assert_eq!(y.shortfall_kwh, Some(0.0));
    // Priced: the shortfall's money follows the report's price per kWh.
    let short = PeriodResult {
        avoided: 30_000.0,
        verified: true,
        uncertainty_90: Some(3_000.0),
        ..ytd
    };
    let y = crate::mv::guarantee::year_status(plan, 1, Some(&short));
    assert_eq!(y.status, "shortfall");
    let money = y.shortfall_money.unwrap();
    assert!(
        (money - 6_500.0 * 150_000.0 / 30_000.0).abs() < 1e-6,
        "{money}"
    );
    assert_eq!(y.currency.as_deref(), Some("TWD"));
}
