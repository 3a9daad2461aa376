//! Contract-capacity optimisation end to end: the demo plant's history through
//! `/api/v1/contract/optimise` and the monthly report's contract section, then the
//! `contract optimise` command on the same database (JSON equal to the API's, and the table),
//! and from a CSV of monthly bill maxima against a bill worked by hand.

use std::process::Command;
use std::time::Duration;

use chrono::{Datelike, Months, NaiveDate};
use kilowatch_e2e::{bin, demo_plant_tz, demo_site, history_back_to, plant_today};
use kilowatch_e2e::{scratch, spawn_demo};
use kilowatch_gateway::contract::optimise::year_cost;
use kilowatch_gateway::contract::MonthDemand;
use kilowatch_gateway::enpi::tariff::Tariff;
use kilowatch_gateway::i18n::{self, Language};

const HV: &str = include_str!("../../seeds/tariffs/example-hv-three-period.toml");

fn contract_cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(bin("kilowatch-gateway"))
        .args(["contract", "optimise"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn get_status(url: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(120)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut res = agent.get(url).call().expect("GET");
    let status = res.status().as_u16();
    (status, res.body_mut().read_to_string().unwrap_or_default())
}

fn caps(v: &serde_json::Value) -> [f64; 4] {
    ["regular", "half_peak", "saturday_half_peak", "off_peak"]
        .map(|k| v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}")))
}

/// The API's months as the optimiser's input (the season is the tariff's for the month).
fn months_of(t: &Tariff, api: &serde_json::Value) -> Vec<MonthDemand> {
    api["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let month = m["month"].as_str().unwrap().to_owned();
            let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").unwrap();
            let d = &m["demand_kw"];
            MonthDemand {
                month,
                season: t.season(first),
                demand_kw: std::array::from_fn(|k| d[k].as_f64()),
            }
        })
        .collect()
}

#[test]
fn demo_contract_optimum_over_the_api_the_report_and_the_cli() {
    let dir = scratch("contract-demo");
    let tz = demo_plant_tz();
    let this_month = plant_today(tz).with_day(1).unwrap();
    let last = this_month - Months::new(1);
    // The last three days of last month: the year analysed ends with it (the current month,
    // live, is not billed yet and is left out).
    let start = this_month - chrono::Duration::days(3);
    let (mut demo, addr) = spawn_demo(&dir, &history_back_to(tz, start));
    let to = this_month.to_string();
    let url = format!("http://{addr}/api/v1/contract/optimise?to={to}");
    // A year of quarter-hours read from the store: on a loaded machine this takes longer than
    // the helpers' 15 s timeout.
    let (status, body) = get_status(&url);
    assert_eq!(status, 200, "{url}: {body}\n{}", demo.log());
    let api: serde_json::Value = serde_json::from_str(&body).unwrap();
    let last_key = format!("{}-{:02}", last.year(), last.month());
    let months = api["months"].as_array().unwrap();
    assert_eq!(months.len(), 1, "{api}");
    assert_eq!(months[0]["month"], last_key.as_str());
    // Nights and Sundays are off-peak: the plant's base load sets an off-peak maximum.
    assert!(months[0]["demand_kw"][3].as_f64().unwrap() > 0.0, "{api}");

    let t = Tariff::parse(HV).unwrap();
    let input = months_of(&t, &api);
    let best = caps(&api["best"]["capacities"]);
    let total = api["best"]["total"].as_f64().unwrap();
    // The answer's total is the bill of its capacities, and no capacities within ±60 kW
    // (a 5 kW grid) of it cost less.
    let bill = year_cost(&t, &input, &best).unwrap().total;
    assert!((bill - total).abs() < 1e-6, "{bill} != {total}");
    let steps: Vec<f64> = (-12..=12).map(|i| 5.0 * f64::from(i)).collect();
    for a in &steps {
        for b in &steps {
            for c in &steps {
                for d in &steps {
                    let x = [best[0] + a, best[1] + b, best[2] + c, best[3] + d];
                    if x[0] < 1.0 || x[1..].iter().any(|v| *v < 0.0) {
                        continue;
                    }
                    let cost = year_cost(&t, &input, &x).unwrap().total;
                    assert!(cost >= total - 1e-6, "{x:?} costs {cost} < {total}");
                }
            }
        }
    }
    // The demo's contract_kw is the regular contract; the saving is against it.
    let current = &api["current"];
    assert_eq!(caps(&current["capacities"]), [500.0, 0.0, 0.0, 0.0]);
    let saving = api["saving"].as_f64().unwrap();
    assert!(
        (saving - (current["total"].as_f64().unwrap() - total)).abs() < 1e-6,
        "{api}"
    );
    assert!(
        saving >= -1e-6,
        "the optimum costs more than the contract: {api}"
    );
    // Each curve's lowest point is the optimum's cost.
    for c in api["curves"].as_array().unwrap() {
        let low = c["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[1].as_f64().unwrap())
            .fold(f64::INFINITY, f64::min);
        assert!((low - total).abs() < 1e-6, "{c}");
    }
    let (status, body) = get_status(&format!("http://{addr}/api/v1/contract/optimise?to=soon"));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("`to`"), "{body}");

    // The monthly report of last month shows the same optimum and saving, in both languages.
    for (lang, tag, title) in [
        (Language::English, "en", "Contract capacity: the optimum"),
        (
            Language::TraditionalChinese,
            "zh-TW",
            "契約容量：近十二個月的最適值",
        ),
    ] {
        let url = format!("http://{addr}/api/v1/reports/monthly?month={last_key}&lang={tag}");
        let (status, html) = get_status(&url);
        assert_eq!(status, 200, "{url}: {html}");
        let section = &html[html
            .find(title)
            .unwrap_or_else(|| panic!("{tag}: no contract section in\n{html}"))..];
        for v in [saving, total, best[0]] {
            let shown = i18n::number_fixed(lang, v, 0);
            assert!(
                section.contains(&shown),
                "{tag}: {shown} missing in\n{section}"
            );
        }
    }
    assert!(demo
        .interrupt(Duration::from_secs(10))
        .is_some_and(|s| s.success()));

    // The command on the same database gives the API's answer.
    let db = dir.join("data/kilowatch.db");
    let site = demo_site();
    let args = [
        "--config",
        site.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--to",
        &to,
    ];
    let (code, out, err) = contract_cli(&[&args[..], &["--json"]].concat());
    assert_eq!(code, Some(0), "{err}");
    let cli: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cli, api, "the CLI and the API differ");
    let (code, out, err) = contract_cli(&args);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(&format!("saving a year: {saving:.0}")),
        "{out}"
    );
    let regular = out
        .lines()
        .find(|l| l.starts_with("regular "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        regular.ends_with(&format!("{:.1}", best[0])),
        "{regular} (optimum {})",
        best[0]
    );
}

/// Bill maxima instead of meter history. One July with 1 000 kW in the peak period only, by
/// hand (summer regular rate 236.20, the demo's 500 kW regular contract):
/// optimum: regular 1 000 kW (below it each kW saves 236.20 and costs 2 × 236.20), the other
/// kinds 0; 1 000 × 236.20 = 236 200.
/// current: basic 500 × 236.20 = 118 100; 500 kW over, 10 % (50 kW) × 2 × 236.20 = 23 620 and
/// 450 × 3 × 236.20 = 318 870; total 460 590. Saving 224 390.
#[test]
fn bill_maxima_from_a_csv_against_a_hand_computed_optimum() {
    let dir = scratch("contract-bills");
    let csv = dir.join("bills.csv");
    std::fs::write(
        &csv,
        "month,peak,half_peak,saturday_half_peak,off_peak\n2026-07,1000,,,\n",
    )
    .unwrap();
    let site = demo_site();
    let (code, out, err) = contract_cli(&[
        "--config",
        site.to_str().unwrap(),
        "--bills",
        csv.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let o: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        caps(&o["best"]["capacities"]),
        [1000.0, 0.0, 0.0, 0.0],
        "{o}"
    );
    let close = |v: &serde_json::Value, want: f64| {
        let v = v.as_f64().unwrap();
        assert!((v - want).abs() < 1e-6, "{v} != {want}");
    };
    close(&o["best"]["total"], 236_200.0);
    close(&o["current"]["total"], 460_590.0);
    close(&o["saving"], 224_390.0);
    assert_eq!(o["exceeded"].as_array().unwrap().len(), 0, "{o}");

    // A bad cell is an error naming the file, line and column.
    std::fs::write(&csv, "month,peak\n2026-07,lots\n").unwrap();
    let (code, _, err) = contract_cli(&[
        "--config",
        site.to_str().unwrap(),
        "--bills",
        csv.to_str().unwrap(),
    ]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains(&format!("{}:2: column `peak`", csv.display())),
        "{err}"
    );
}
