//! Whole-run tests: injected savings recovered within the reported uncertainty, degenerate
//! inputs as warnings or errors, never NaN.

use chrono::{Datelike, NaiveDate};

use super::analysis::Request;
use super::frame::{parse_range, Granularity, Obs, Raw, VarSpec, Zone};
use super::model::{Spec, TempUnit};
use super::savings::Adjustment;
use super::verify::analyse;
use crate::sim::rng::Rng;

const TZ: Zone = Zone::Named(chrono_tz::Asia::Taipei);

/// Daily observations from 2025-01-01: temperature, production and energy from `f`, with the
/// measure saving `saving` (a fraction) from `retrofit` on.
fn plant(
    days: usize,
    retrofit: NaiveDate,
    saving: f64,
    noise: f64,
    f: impl Fn(f64, f64) -> f64,
) -> Raw {
    let mut rng = Rng::new(5);
    let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let obs = (0..days)
        .map(|i| {
            let day = start + chrono::Duration::days(i as i64);
            let season = (2.0 * std::f64::consts::PI * (i as f64 - 200.0) / 365.0).cos();
            let t = 22.0 + 9.0 * season + 2.0 * rng.gauss();
            let p = if day.weekday().num_days_from_monday() >= 5 {
                2000.0 + 300.0 * rng.uniform()
            } else {
                9000.0 + 1500.0 * rng.uniform()
            };
            let mut e = f(t, p) + noise * rng.gauss();
            if day >= retrofit {
                e *= 1.0 - saving;
            }
            Obs {
                ts: TZ.instant(day.and_time(Default::default())),
                energy: Some(e),
                temp: Some(t),
                vars: vec![Some(p)],
            }
        })
        .collect();
    Raw {
        zone: TZ,
        interval: 86_400_000,
        obs,
        has_temp: true,
        vars: vec![VarSpec::parse("units").unwrap()],
    }
}

fn request(baseline: &str, reporting: &str) -> Request {
    Request {
        source: "synthetic".into(),
        energy_unit: "kWh".into(),
        temp_unit: TempUnit::C,
        granularity: Granularity::Day,
        baseline: parse_range(baseline, TZ).unwrap(),
        reporting: parse_range(reporting, TZ).unwrap(),
        model: None,
        adjustments: vec![],
        holidays: vec![],
        accept_extrapolation: false,
        placebo: false,
    }
}

fn energy(t: f64, p: f64) -> f64 {
    900.0 + 45.0 * (t - 19.0).max(0.0) + 0.06 * p
}

#[test]
fn injected_savings_are_recovered_within_the_reported_uncertainty() {
    let retrofit = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let raw = plant(365 + 181, retrofit, 0.08, 40.0, energy);
    let req = request("2025-01-01..2025-12-31", "2026-01-01..2026-06-30");
    let r = analyse(&raw, &req).unwrap();
    assert_eq!(r.model.form, "3p-cooling", "{:#?}", r.model.candidates);
    assert!(r.model.valid, "{:#?}", r.model.checks);
    // The truth: 8 % of what the plant would have used.
    let adjusted = r.reporting.adjusted_baseline.unwrap();
    let truth = r.reporting.actual / 0.92 * 0.08;
    let s = &r.savings;
    let u90 = s.uncertainty_90.unwrap();
    assert!(
        (s.avoided - truth).abs() <= u90,
        "avoided {:.0} vs truth {truth:.0} ± {u90:.0}",
        s.avoided
    );
    assert!(s.verified, "{}", s.verdict);
    assert!(s.verdict.starts_with("savings verified: "));
    assert!((s.percent.unwrap() - 8.0).abs() < 1.0);
    assert!((s.senpi.unwrap() - r.reporting.actual / adjusted).abs() < 1e-12);
    assert_eq!(r.baseline.n, 365);
    assert_eq!(r.reporting.n, 181);
    assert_eq!(r.monthly.len(), 6);
    let last = r.monthly.last().unwrap();
    assert!((last.cumulative_savings - s.avoided).abs() < 1e-6);
    // CUSUM ends at −savings (actual − adjusted), having started near zero over the baseline.
    let end = r.series.last().unwrap().cusum;
    let base_end = r.series[364].cusum;
    assert!(
        base_end.abs() < 1e-6,
        "OLS residuals sum to zero: {base_end}"
    );
    assert!((end + s.avoided).abs() < 1e-6);
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("NaN") && !json.contains("null,\"uncertainty"));
}

#[test]
fn no_savings_is_not_distinguishable_from_zero() {
    let retrofit = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
    let raw = plant(365 + 90, retrofit, 0.0, 40.0, energy);
    let r = analyse(
        &raw,
        &request("2025-01-01..2025-12-31", "2026-01-01..2026-03-31"),
    )
    .unwrap();
    assert!(!r.savings.verified);
    assert!(
        r.savings
            .verdict
            .starts_with("not verified: savings not distinguishable from zero"),
        "{}",
        r.savings.verdict
    );
    assert!(r.savings.avoided.abs() <= r.savings.uncertainty_90.unwrap());
}

#[test]
fn a_non_routine_adjustment_raises_the_adjusted_baseline() {
    let retrofit = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let raw = plant(365 + 31, retrofit, 0.05, 30.0, energy);
    let mut req = request("2025-01-01..2025-12-31", "2026-01-01..2026-01-31");
    let plain = analyse(&raw, &req).unwrap();
    req.adjustments =
        vec![Adjustment::parse("2026-01-16..2026-01-31=+3100:second shift on line 2", TZ).unwrap()];
    let adj = analyse(&raw, &req).unwrap();
    let diff =
        adj.reporting.adjusted_baseline.unwrap() - plain.reporting.adjusted_baseline.unwrap();
    assert!((diff - 3100.0).abs() < 1e-6, "{diff}");
    assert!((adj.savings.avoided - plain.savings.avoided - 3100.0).abs() < 1e-6);
    assert_eq!(adj.reporting.non_routine_adjustments.len(), 1);
}

#[test]
fn degenerate_inputs_give_errors_or_warnings_never_nan() {
    let retrofit = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
    // All-zero energy.
    let mut raw = plant(60, retrofit, 0.0, 0.0, |_, _| 0.0);
    let req = request("2025-01-01..2025-01-31", "2025-02-01..2025-02-28");
    let e = analyse(&raw, &req).unwrap_err().to_string();
    assert!(e.contains("zero"), "{e}");
    // Too few points: three baseline days cannot carry even a 2P model's checks.
    raw = plant(40, retrofit, 0.0, 5.0, energy);
    let r = analyse(
        &raw,
        &request("2025-01-01..2025-01-02", "2025-01-10..2025-01-20"),
    );
    match r {
        Err(e) => assert!(e.to_string().contains("points"), "{e}"),
        Ok(r) => {
            assert_eq!(r.model.form, "mean");
            let json = serde_json::to_string(&r).unwrap();
            assert!(!json.contains("NaN"));
        }
    }
    // Constant temperature: no temperature model qualifies; the others still run.
    raw = plant(120, retrofit, 0.0, 5.0, energy);
    for o in &mut raw.obs {
        o.temp = Some(25.0);
    }
    let r = analyse(
        &raw,
        &request("2025-01-01..2025-03-31", "2025-04-01..2025-04-30"),
    )
    .unwrap();
    assert!(
        r.model.form.starts_with("linear"),
        "{:#?}",
        r.model.candidates
    );
    assert!(r
        .model
        .candidates
        .iter()
        .any(|c| c.form == "3p-cooling" && !c.qualified));
    // Reporting temperatures outside the baseline range: an extrapolation warning.
    raw = plant(365, retrofit, 0.0, 5.0, energy);
    let r = analyse(
        &raw,
        &request("2025-01-01..2025-03-31", "2025-07-01..2025-08-31"),
    )
    .unwrap();
    assert!(!r.savings.verified);
    assert!(
        r.savings
            .reasons
            .iter()
            .any(|w| w.starts_with("extrapolation: reporting mean temperature")),
        "{} {:#?}",
        r.model.form,
        r.savings.reasons
    );
    assert!(r.warnings.iter().any(|w| w.contains("covers 90 days")));
    // Accepted, the extrapolation is a warning and its added uncertainty is counted.
    let mut req = request("2025-01-01..2025-03-31", "2025-07-01..2025-08-31");
    req.accept_extrapolation = true;
    let a = analyse(&raw, &req).unwrap();
    assert!(
        a.savings
            .reasons
            .iter()
            .all(|w| !w.contains("extrapolation")),
        "{:#?}",
        a.savings.reasons
    );
    assert!(a
        .warnings
        .iter()
        .any(|w| w.starts_with("accepted extrapolation")));
    let extra = a.savings.extrapolation_uncertainty_90.unwrap();
    assert!(extra > 0.0 && a.savings.uncertainty_90.unwrap() > extra);
    assert!(
        a.savings.extrapolated_periods > 31,
        "{}",
        a.savings.extrapolated_periods
    );
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("NaN"));
    // Overlapping periods and a forced model that does not qualify are errors.
    let e = analyse(
        &raw,
        &request("2025-01-01..2025-03-31", "2025-03-01..2025-04-30"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("overlap"));
    let mut req = request("2025-01-01..2025-06-30", "2025-07-01..2025-08-31");
    req.model = Some(Spec::parse("3p-heating").unwrap());
    let e = analyse(&raw, &req).unwrap_err().to_string();
    assert!(
        e.contains("3p-heating") && e.contains("does not qualify"),
        "{e}"
    );
}

#[test]
fn missing_days_are_left_out_and_reported() {
    let retrofit = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
    let mut raw = plant(365 + 31, retrofit, 0.0, 20.0, energy);
    // February 2025 lost entirely; a week of temperatures lost in March.
    raw.obs.retain(|o| {
        let d = TZ.date(o.ts);
        !(d.month() == 2 && d.year() == 2025)
    });
    for o in raw.obs.iter_mut().filter(|o| {
        let d = TZ.date(o.ts);
        d.year() == 2025 && d.month() == 3 && d.day() <= 7
    }) {
        o.temp = None;
    }
    let r = analyse(
        &raw,
        &request("2025-01-01..2025-12-31", "2026-01-01..2026-01-31"),
    )
    .unwrap();
    assert_eq!(r.baseline.expected, 365);
    assert_eq!(r.baseline.n, 365 - 28 - 7);
    let feb = r
        .baseline
        .coverage
        .iter()
        .find(|c| c.month == "2025-02")
        .unwrap();
    assert_eq!((feb.expected, feb.complete), (28, 0));
    assert!(
        r.warnings.iter().any(|w| w.contains("2025-02 (0 %)")),
        "{:#?}",
        r.warnings
    );
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("7 days lack temperature")));
}

#[test]
fn html_report_is_self_contained_with_four_charts() {
    let retrofit = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let raw = plant(365 + 90, retrofit, 0.08, 40.0, energy);
    let r = analyse(
        &raw,
        &request("2025-01-01..2025-12-31", "2026-01-01..2026-03-31"),
    )
    .unwrap();
    let html = super::html::render(&r);
    assert_eq!(html.matches("<svg").count(), 4);
    assert!(html.contains("savings verified: "));
    assert!(!html.contains("src=\"http") && !html.contains("<script"));
    assert!(!html.contains("NaN"));
    // The same report in Traditional Chinese: the seeds' terms, no English heading left.
    let zh = super::html::render_in(&r, crate::i18n::Language::TraditionalChinese);
    assert!(zh.contains("<html lang=\"zh-TW\">"));
    assert_eq!(zh.matches("<svg").count(), 4);
    for want in [
        "節約能源量",
        "調整後能源基線",
        "能源基線模型",
        "殘差",
        "報告期間",
    ] {
        assert!(zh.contains(want), "zh-TW report lacks {want}");
    }
    for gone in [
        "Avoided energy",
        "<h2>Savings</h2>",
        "Residuals",
        "Baseline model",
    ] {
        assert!(html.contains(gone) && !zh.contains(gone), "{gone}");
    }
}

/// The demo plant's physics: both retrofits moved to the summer peak so the reporting weather
/// matches the baseline's; savings computed from the metered store against the simulator's
/// counterfactual twins.
#[test]
fn simulator_retrofit_savings_are_recovered_from_the_store() {
    use crate::enpi::Assets;
    use crate::store::{Store, StoreSettings};
    use kilowatch_site::config::SiteConfig;
    use kilowatch_site::profile::ProfileLibrary;

    let text = crate::DEMO_SITE
        .replace("date = \"2026-10-15\"", "date = \"2026-07-25\"")
        .replace("date = \"2026-11-01\"", "date = \"2026-07-25\"");
    let profiles = ProfileLibrary::builtin();
    let config = SiteConfig::parse(&text, "demo-site.toml", &profiles).unwrap();
    let assets = Assets::from_site(&config, "demo-site.toml").unwrap();
    let dir = std::env::temp_dir().join(format!("kw-mv-sim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut store = Store::open(&dir.join("t.db"))
        .unwrap()
        .with_settings(StoreSettings::for_site(&config, &profiles));
    let end: chrono::DateTime<chrono::Utc> = "2026-09-07T16:00:00Z".parse().unwrap();
    let (_, _, report) = crate::backfill::backfill(
        &config,
        "demo-site.toml",
        &mut store,
        std::time::Duration::from_secs(90 * 86_400),
        end,
        false,
    )
    .unwrap();
    let options = |g: &str| super::Options {
        baseline: "2026-06-10..2026-07-24".into(),
        reporting: "2026-07-25..2026-09-07".into(),
        granularity: Some(g.into()),
        ..Default::default()
    };
    // The truth over the days the reporting periods used (whole weeks leave days out).
    let truth = |measure: &str, r: &super::Report, g: &str| -> f64 {
        let days: std::collections::BTreeSet<chrono::NaiveDate> = r
            .series
            .iter()
            .filter(|p| p.reporting)
            .flat_map(|p| {
                let first = r.zone.date(p.ms);
                let n = if g == "week" { 7 } else { 1 };
                (0..n).map(move |i| first + chrono::Duration::days(i))
            })
            .collect();
        report
            .truth
            .iter()
            .filter(|(d, m, _)| *m == measure && days.contains(d))
            .map(|(_, _, kwh)| kwh)
            .sum()
    };
    let production = || vec!["line-1/production_count".to_owned()];
    let cases = [
        ("chiller", production(), "chiller_retrofit"),
        ("chiller", vec![], "chiller_retrofit"),
        ("compressed-air", vec![], "leak_repair"),
        ("compressed-air", production(), "leak_repair"),
    ];
    let (mut runs, mut inside) = (0, 0);
    for (asset, vars, measure) in cases {
        for g in ["day", "hour", "week"] {
            let q = super::input::StoreQuery {
                asset: Some(asset.into()),
                vars: vars.clone(),
                ..Default::default()
            };
            let r = super::from_store(&store, &assets, &q, &options(g)).unwrap();
            let want = truth(measure, &r, g);
            let s = &r.savings;
            let u90 = s.uncertainty_90.unwrap();
            let case = format!(
                "{asset} by {g}, {} variables: avoided {:.0} ± {u90:.0} kWh, truth {want:.0} kWh ({}; {})",
                vars.len(),
                s.avoided,
                r.model.form,
                s.verdict
            );
            eprintln!("{case}");
            assert!(want > 0.0);
            runs += 1;
            // The truth file and the metered registers differ by register rounding: a near-
            // deterministic simulated load can leave an interval narrower than that.
            let within = (s.avoided - want).abs() <= u90 + 5e-4 * want;
            inside += usize::from(within);
            // A verdict is never claimed with the truth outside its interval.
            assert!(within || !s.verified, "{case}");
            // Daily: both measures verified, with and without production.
            if g == "day" {
                assert!(s.verified && within, "{case}");
                assert_eq!(r.reporting.n, 45, "{asset}: {:?}", r.warnings);
                // Priced at the site's tariff: the energy charge saved, CO2e at the latest
                // published factor; a sub-metered asset's peak is not the billed demand.
                let p = r.priced.as_ref().expect("the demo site has a tariff");
                assert!(p.energy_cost > 0.0 && p.total > 0.0, "{asset}: {p:#?}");
                assert_eq!(p.demand_cost, None, "{asset}");
                assert!(p.assumptions.iter().any(|a| a.contains("incomer")));
                let kwh: f64 = p.by_period.iter().map(|b| b.kwh).sum();
                assert!((kwh - s.avoided).abs() < 1e-6 * s.avoided.abs().max(1.0));
                assert!((p.co2e_kg.unwrap() - kwh * 0.494).abs() < 1e-6 * kwh.abs().max(1.0));
                assert!(r.normalized.is_some());
            }
            if !s.verified {
                assert!(!s.reasons.is_empty(), "{case}");
            }
        }
    }
    assert!(
        inside >= 11,
        "truth inside the 90 % interval in {inside} of {runs}"
    );
    // The plant (the incomer) prices demand against the contract with its measured power factor.
    let q = super::input::StoreQuery {
        asset: Some("plant".into()),
        ..Default::default()
    };
    let r = super::from_store(&store, &assets, &q, &options("day")).unwrap();
    let page = super::html::render(&r);
    assert!(page.contains("<h2>Avoided cost and emissions</h2>") && page.contains("over-contract"));
    assert!(page.contains("<h2>Normalized savings</h2>"));
    // In Traditional Chinese the time-of-use periods are the tariff's own words.
    let zh = super::html::render_in(&r, crate::i18n::Language::TraditionalChinese);
    for want in [
        "<h2>節省電費與碳排放</h2>",
        "尖峰",
        "離峰",
        "契約容量（kW）",
        "<h2>標準化節能量</h2>",
    ] {
        assert!(zh.contains(want), "zh-TW report lacks {want}");
    }
    assert!(!zh.contains("<td>off_peak</td>"));
    let p = r.priced.unwrap();
    assert_eq!(
        p.demand
            .iter()
            .map(|d| d.month.as_str())
            .collect::<Vec<_>>(),
        ["2026-07", "2026-08", "2026-09"],
        "{p:#?}"
    );
    assert!(p
        .demand
        .iter()
        .all(|d| d.contract_kw == 500.0 && d.basic_rate == 236.2));
    assert!(p.demand_cost.is_some());
    assert!(
        p.assumptions
            .iter()
            .any(|a| a.contains("measured power factor (kWh ÷ kVAh)")),
        "{:#?}",
        p.assumptions
    );
    let _ = std::fs::remove_dir_all(&dir);
}
