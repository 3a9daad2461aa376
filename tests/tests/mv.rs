//! Savings verification end to end: the `mv` command on a CSV file cross-checked against
//! statsmodels (an independent OLS) and the Guideline 14 formula computed in Python; then
//! `/api/v1/mv` and the command on the demo's stored history.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kilowatch_e2e::{
    bin, demo_plant_tz, demo_site, demo_working_days, get_json, get_text, history_back_to, python,
    scratch, spawn_demo, wait_for,
};

/// `mv --csv CSV --time time --energy kwh ARGS…`: the columns of the test files.
fn mv_csv(csv: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let csv = csv.to_str().unwrap();
    mv(&[&["--csv", csv, "--time", "time", "--energy", "kwh"], args].concat())
}

/// [`mv_csv`] with the weather file's temperature (°F) and production columns.
fn mv_weather_csv(csv: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let weather = ["--temp", "oat_f", "--temp-unit", "F", "--var", "units"];
    mv_csv(csv, &[&weather, args].concat())
}

fn mv(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(bin("kilowatch-gateway"))
        .arg("mv")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// 2016-2017 daily data in US Central time (offsets like `-0600`), temperatures in °F, a
/// production count, and 10 % savings from 2017-01-01. Deterministic pseudo-noise.
fn write_csv(path: &Path) {
    let mut text = String::from("time,kwh,oat_f,units\n");
    let mut seed: u64 = 42;
    let mut noise = || {
        // Sum of uniforms: roughly normal, mean 0, sd 1.
        (0..12)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 11) as f64 / (1u64 << 53) as f64
            })
            .sum::<f64>()
            - 6.0
    };
    let start = chrono::NaiveDate::from_ymd_opt(2016, 1, 1).unwrap();
    for i in 0..(366 + 181) {
        let day = start + chrono::Duration::days(i);
        let season = (std::f64::consts::TAU * (i as f64 - 200.0) / 365.0).cos();
        let t = 62.0 + 18.0 * season + 4.0 * noise();
        let units = 5000.0 + 800.0 * noise();
        let mut kwh = 2000.0 + 35.0 * (t - 65.0).max(0.0) + 0.12 * units + 60.0 * noise();
        if day >= chrono::NaiveDate::from_ymd_opt(2017, 1, 1).unwrap() {
            kwh *= 0.9;
        }
        // Central time: -0600 in winter, -0500 in summer (the offset each row carries).
        // Midnight is daylight time after the second Sunday of March, up to and including the
        // first Sunday of November.
        let sunday = |month: u32, nth: u8| {
            chrono::NaiveDate::from_weekday_of_month_opt(
                day.year(),
                month,
                chrono::Weekday::Sun,
                nth,
            )
            .unwrap()
        };
        let dst = day > sunday(3, 2) && day <= sunday(11, 1);
        let off = if dst { "-0500" } else { "-0600" };
        text.push_str(&format!(
            "{}T00:00:00{off},{kwh:.3},{t:.2},{units:.1}\n",
            day.format("%Y-%m-%d")
        ));
    }
    std::fs::write(path, text).unwrap();
}

use chrono::Datelike;

const CHECK: &str = r#"
import json, sys
import numpy as np, statsmodels.api as sm
from scipy import stats
csv, report = sys.argv[1], json.load(open(sys.argv[2]))
rows = [l.strip().split(',') for l in open(csv).read().splitlines()[1:]]
base = [r for r in rows if r[0] < '2017-01-01']
rep = [r for r in rows if r[0] >= '2017-01-01' and r[0] < '2017-07-01']
m = report['model']
bp = m['balance_points']
def design(rs):
    t = np.array([float(r[2]) for r in rs]); u = np.array([float(r[3]) for r in rs])
    cols = ([np.maximum(t - bp[0], 0)] if bp else []) + [u]
    return sm.add_constant(np.column_stack(cols))
y = np.array([float(r[1]) for r in base])
fit = sm.OLS(y, design(base)).fit()
n, k = len(y), fit.params.size + len(bp)
adj = 1 - (1 - fit.rsquared) * (n - 1) / (n - k)
resid = fit.resid
rho = float(np.sum(resid[1:] * resid[:-1]) / np.sum(resid ** 2))
cv = np.sqrt(np.sum(resid ** 2) / (n - k)) / y.mean()
pred = fit.predict(design(rep)).sum()
actual = sum(float(r[1]) for r in rep)
nn = n * (1 - rho) / (1 + rho) if rho > 0 else n
root = np.sqrt((n / nn) * (1 + 2 / nn) / len(rep))
u90 = 1.26 * stats.t.ppf(0.95, n - k) * cv * root * pred
print(json.dumps({
  'params': fit.params.tolist(), 'bse': fit.bse.tolist(), 'pvalues': fit.pvalues.tolist(),
  'r2': fit.rsquared, 'adj_r2': adj, 'f_p': fit.f_pvalue, 'n': n, 'rho': rho, 'cv': cv,
  'avoided': pred - actual, 'u90': u90,
}))
"#;

fn close(what: &str, got: f64, want: f64, rel: f64) {
    let tol = rel * want.abs().max(1e-12);
    assert!(
        (got - want).abs() <= tol,
        "{what}: kilowatch {got:e}, statsmodels {want:e}"
    );
}

#[test]
fn regressions_match_statsmodels_and_savings_match_the_guideline_formula() {
    let py = python();
    let dir = scratch("mv-csv");
    let csv = dir.join("meter.csv");
    write_csv(&csv);
    for form in ["linear", "3p-cooling"] {
        let (code, out, err) = mv_weather_csv(
            &csv,
            &[
                "--tz",
                "America/Chicago",
                "--model",
                form,
                "--baseline",
                "2016-01-01..2016-12-31",
                "--reporting",
                "2017-01-01..2017-06-30",
                "--json",
            ],
        );
        assert_eq!(code, Some(0), "{form}: {err}");
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        let path = dir.join(format!("{form}.json"));
        std::fs::write(&path, &out).unwrap();
        let check = Command::new(&py)
            .args(["-c", CHECK, csv.to_str().unwrap(), path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
        let sm: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
        let m = &report["model"];
        assert_eq!(m["form"], form);
        assert_eq!(report["time_zone"], "America/Chicago");
        assert_eq!(m["n"], sm["n"], "every 2016 day is a baseline point");
        // statsmodels' column order; the JSON object is keyed by name.
        let names: Vec<&str> = if form == "linear" {
            vec!["intercept", "units"]
        } else {
            vec!["intercept", "cooling_slope", "units"]
        };
        assert_eq!(m["coefficients"].as_object().unwrap().len(), names.len());
        let get = |obj: &str, name: &str| m[obj][name].as_f64().unwrap();
        let arr = |key: &str, i: usize| sm[key][i].as_f64().unwrap();
        for (i, name) in names.iter().enumerate() {
            close(
                &format!("{form} coefficient {name}"),
                get("coefficients", name),
                arr("params", i),
                1e-7,
            );
            close(
                &format!("{form} std error {name}"),
                get("std_errors", name),
                arr("bse", i),
                1e-6,
            );
            let (p, want) = (get("p_values", name), arr("pvalues", i));
            // p-values this small are below double precision's meaning in both.
            if want > 1e-12 {
                close(&format!("{form} p-value {name}"), p, want, 1e-4);
            } else {
                assert!(p < 1e-10, "{form} p-value {name}: {p} vs {want}");
            }
        }
        let f = |v: &serde_json::Value| v.as_f64().unwrap();
        close("R²", f(&m["r2"]), f(&sm["r2"]), 1e-9);
        close("adjusted R²", f(&m["adj_r2"]), f(&sm["adj_r2"]), 1e-9);
        close(
            "lag-1 autocorrelation",
            f(&m["autocorrelation"]),
            f(&sm["rho"]),
            1e-7,
        );
        close("CV(RMSE)", f(&m["cv_rmse"]) / 100.0, f(&sm["cv"]), 1e-7);
        let s = &report["savings"];
        close("avoided energy", f(&s["avoided"]), f(&sm["avoided"]), 1e-7);
        close(
            "90 % uncertainty",
            f(&s["uncertainty_90"]),
            f(&sm["u90"]),
            1e-4,
        );
        if form == "linear" {
            // Production alone leaves the weather unexplained: the model is not valid, and
            // the verdict says so instead of "verified".
            assert_eq!(s["verified"], false, "{}", s["verdict"]);
            assert!(
                s["reasons"][0]
                    .as_str()
                    .unwrap()
                    .starts_with("model not valid: R² 0.1"),
                "{}",
                s["reasons"]
            );
            continue;
        }
        // 10 % savings, verified, and the truth within the 90 % interval.
        let actual = f(&report["reporting"]["actual"]);
        let truth = actual / 0.9 * 0.1;
        assert!(
            (f(&s["avoided"]) - truth).abs() <= f(&s["uncertainty_90"]),
            "{form}: {} vs truth {truth}",
            s["verdict"]
        );
        assert_eq!(s["verified"], true, "{}", s["verdict"]);
    }
    // Selection on the same data picks a temperature model with production.
    let html = dir.join("report.html");
    let (code, _, err) = mv_weather_csv(
        &csv,
        &[
            "--baseline",
            "2016-01-01..2016-12-31",
            "--reporting",
            "2017-01-01..2017-06-30",
            "--html",
            html.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("meter.csv:75: the offset changes from -06:00 to -05:00")
            && err.contains("--tz"),
        "{err}"
    );
    let (code, out, err) = mv_weather_csv(
        &csv,
        &[
            "--tz",
            "America/Chicago",
            "--baseline",
            "2016-01-01..2016-12-31",
            "--reporting",
            "2017-01-01..2017-06-30",
            "--html",
            html.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("savings verified: "), "{out}");
    assert!(
        out.contains("model 3p-cooling") || out.contains("model 4p"),
        "{out}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<svg").count(), 4);
    // A bad cell is named by file, line and column; bad arguments exit 2.
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "time,kwh\n2016-01-01,5\n2016-01-02,five\n").unwrap();
    let (code, _, err) = mv_csv(
        &bad,
        &[
            "--baseline",
            "2016-01-01..2016-01-01",
            "--reporting",
            "2016-01-02..2016-01-02",
        ],
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("bad.csv:3: column `kwh`: `five` is not a number"),
        "{err}"
    );
    let (code, _, err) = mv_csv(
        &csv,
        &[
            "--baseline",
            "2016-01-01..2016-12-31",
            "--reporting",
            "2017-01-01..2017-06-30",
            "--tz",
            "America/Chicago",
            "--granularity",
            "fortnight",
        ],
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("granularity"), "{err}");
}

#[test]
fn demo_history_is_verified_over_the_api_and_the_cli() {
    let dir = scratch("mv-demo");
    // Hourly: the latest plant-local working day as reporting, the one before as baseline
    // (days with production, so the model has something to fit).
    let tz = demo_plant_tz();
    let mut working = demo_working_days(tz);
    let (d1, d2) = (working.next().unwrap(), working.next().unwrap());
    let (mut demo, addr) = spawn_demo(&dir, &history_back_to(tz, d2));
    let data = dir.join("data");
    let up = wait_for(Duration::from_secs(60), || {
        get_json(&format!("http://{addr}/api/v1/enpi")).ok()
    });
    assert!(up.is_some(), "demo did not come up:\n{}", demo.log());
    let url = format!(
        "http://{addr}/api/v1/mv?asset=plant&baseline={d2}..{d2}&reporting={d1}..{d1}&granularity=hour"
    );
    let r = get_json(&url).unwrap_or_else(|e| panic!("{e}\n{}", demo.log()));
    assert_eq!(r["schema"], "kilowatch-mv/1");
    assert_eq!(r["baseline"]["n"], 24, "{}", r["warnings"]);
    assert_eq!(r["reporting"]["n"], 24, "{}", r["warnings"]);
    assert!(r["model"]["r2"].as_f64().unwrap() > 0.5, "{}", r["model"]);
    assert!(r["savings"]["verdict"].as_str().unwrap().contains("kWh"));
    assert!(r["source"].as_str().unwrap().contains("incomer"));
    for key in ["avoided", "uncertainty_90", "fsu_90", "verified"] {
        assert!(!r["savings"][key].is_null(), "{key}: {}", r["savings"]);
    }
    // The site's tariff prices the result and the Taipei normals normalize it (or say why not).
    assert_eq!(r["priced"]["currency"], "TWD", "{}", r["priced"]);
    assert!(
        r["normalized"]["note"].as_str().is_some(),
        "{}",
        r["normalized"]
    );
    // A known saving: a non-routine adjustment of 20 % of the day's energy raises the adjusted
    // baseline, so the plant "saved" it; it is priced at the day's TOU rates.
    let actual = r["reporting"]["actual"].as_f64().unwrap();
    let adjusted = r["reporting"]["adjusted_baseline"].as_f64().unwrap();
    let extra = (0.2 * actual).round() + (actual - adjusted).max(0.0).ceil();
    let saved = get_json(&format!("{url}&adjust={d1}..{d1}=%2B{extra}:e2e")).unwrap();
    let p = &saved["priced"];
    let avoided = saved["savings"]["avoided"].as_f64().unwrap();
    assert!(avoided > 0.0, "{}", saved["savings"]);
    let kwh: f64 = p["by_period"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["kwh"].as_f64().unwrap())
        .sum();
    assert!((kwh - avoided).abs() < 1e-6 * avoided, "{p}");
    assert!(p["energy_cost"].as_f64().unwrap() > 0.0, "{p}");
    assert!(p["total"].as_f64().unwrap() > 0.0, "{p}");
    assert!(p["co2e_kg"].as_f64().unwrap() > 0.0, "{p}");
    assert!(
        !p["demand"].as_array().unwrap().is_empty(),
        "the plant's demand is priced: {p}"
    );
    let page = get_text(&format!("{url}&format=html")).unwrap();
    assert!(page.starts_with("<!doctype html>") && page.contains("<svg"));
    // The verdict carries its reasons; the placebo back-test runs on request.
    let status = r["savings"]["status"].as_str().unwrap();
    assert_eq!(
        r["savings"]["verified"] == true,
        status == "verified",
        "{}",
        r["savings"]
    );
    assert_eq!(
        r["savings"]["reasons"].as_array().unwrap().is_empty(),
        status == "verified"
    );
    let p = get_json(&format!("{url}&placebo=true")).unwrap();
    let windows = p["placebo"]["windows"].as_u64().unwrap();
    assert!(windows >= 2, "{}", p["placebo"]);
    assert_eq!(
        p["placebo"]["results"].as_array().unwrap().len() as u64,
        windows
    );
    assert!(p["placebo"]["false_positive_percent"].as_f64().is_some());
    assert!(page.contains("Avoided cost and emissions") && page.contains("Normalized savings"));
    let bad = get_json(&format!(
        "http://{addr}/api/v1/mv?asset=plant&baseline={d1}..{d2}&reporting={d1}..{d1}"
    ));
    assert!(bad.is_err(), "a reversed range is a 400");

    // The command on the same database (the demo keeps running: SQLite allows the reader).
    let out = dir.join("plant.html");
    let (code, text, err) = mv(&[
        "--config",
        demo_site().to_str().unwrap(),
        "--db",
        data.join("kilowatch.db").to_str().unwrap(),
        "--asset",
        "plant",
        "--granularity",
        "hour",
        "--baseline",
        &format!("{d2}..{d2}"),
        "--reporting",
        &format!("{d1}..{d1}"),
        "--html",
        out.to_str().unwrap(),
        "--placebo",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(text.contains("model "), "{text}");
    assert!(text.contains("placebo back-test: "), "{text}");
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("Placebo back-test"));
    assert!(
        text.contains("avoided cost NT$ ") && text.contains("CO2e "),
        "{text}"
    );
    assert!(text.contains("normalized savings"), "{text}");
    assert!(out.exists());
    let (code, _, err) = mv(&[
        "--config",
        demo_site().to_str().unwrap(),
        "--db",
        data.join("kilowatch.db").to_str().unwrap(),
        "--asset",
        "no-such-asset",
        "--baseline",
        &format!("{d2}..{d2}"),
        "--reporting",
        &format!("{d1}..{d1}"),
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("no such asset") && err.contains("compressed-air"),
        "{err}"
    );
    // The boiler is metered by its gas alone: it says so rather than asking for an asset.
    let (code, _, err) = mv(&[
        "--config",
        demo_site().to_str().unwrap(),
        "--db",
        data.join("kilowatch.db").to_str().unwrap(),
        "--asset",
        "boiler",
        "--baseline",
        &format!("{d2}..{d2}"),
        "--reporting",
        &format!("{d1}..{d1}"),
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("`boiler` has no electricity meter"), "{err}");
    let status = demo.interrupt(Duration::from_secs(20));
    assert!(status.is_some_and(|s| s.success()), "{}", demo.log());
}

#[test]
fn csv_runs_are_priced_at_a_given_tariff_and_normalized_on_given_normals() {
    let dir = scratch("mv-price");
    let csv = dir.join("meter.csv");
    write_csv(&csv);
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds");
    let seed = |name: &str| seeds.join(name).to_str().unwrap().to_owned();
    let run = |extra: &[&str]| {
        let args = [
            "--tz",
            "America/Chicago",
            "--model",
            "3p-cooling",
            "--baseline",
            "2016-01-01..2016-12-31",
            "--reporting",
            "2017-01-01..2017-06-30",
        ];
        mv_weather_csv(&csv, &[&args[..], extra].concat())
    };
    let tariff = seed("tariffs/example-hv-three-period.toml");
    let factors = seed("emission-factors.toml");
    let (code, out, err) = run(&[
        "--tariff",
        &tariff,
        "--emission-factors",
        &factors,
        "--json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let p = &r["priced"];
    let avoided = r["savings"]["avoided"].as_f64().unwrap();
    assert!(avoided > 0.0);
    let rows = p["by_period"].as_array().unwrap();
    let kwh: f64 = rows.iter().map(|b| b["kwh"].as_f64().unwrap()).sum();
    assert!((kwh - avoided).abs() < 1e-6 * avoided, "{p}");
    // January to June 2017 is non-summer and (from June) summer: both seasons are billed.
    assert!(
        rows.iter().any(|b| b["season"] == "summer")
            && rows.iter().any(|b| b["season"] == "non_summer")
    );
    let cost: f64 = rows
        .iter()
        .map(|b| b["kwh"].as_f64().unwrap() * b["rate"].as_f64().unwrap())
        .sum();
    assert!(
        (p["energy_cost"].as_f64().unwrap() - cost).abs() < 1e-6 * cost,
        "{p}"
    );
    assert!(p["total"].as_f64().unwrap() > 0.0);
    // Daily rows cannot give a 15-minute demand; 2017 is priced at the 2017 factor.
    assert!(p["demand_cost"].is_null(), "{p}");
    let said = p["assumptions"].to_string();
    assert!(
        said.contains("181 of 181 days split by the hours") && !said.contains("shaped like"),
        "{said}"
    );
    assert_eq!(p["emission_factors"][0]["year"], 2017);
    assert!((p["co2e_kg"].as_f64().unwrap() - avoided * 0.554).abs() < 1e-6 * avoided);
    // Chicago data gets no Taipei normals by default, only on request.
    let note = r["normalized"]["note"].as_str().unwrap();
    assert!(
        r["normalized"]["savings"].is_null() && note.contains("--normal-weather"),
        "{note}"
    );
    let normals = seed("weather/taipei-normals.csv");
    let (code, out, err) = run(&["--tariff", &tariff, "--normal-weather", &normals]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("avoided cost NT$ ") && out.contains("CO2e — (no emission factors)"),
        "{out}"
    );
    // 10 % less energy for the same weather: about 10 % on the typical year too.
    let line = out
        .lines()
        .find(|l| l.starts_with("normalized savings (Taipei"))
        .unwrap_or_else(|| panic!("{out}"));
    let pct: f64 = line
        .split(", ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!((pct - 10.0).abs() < 3.0, "{line}");
    // A tariff file that does not parse is named.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "name = 1").unwrap();
    let (code, _, err) = run(&["--tariff", bad.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--tariff") && err.contains("bad.toml"),
        "{err}"
    );
    // The same summary in Traditional Chinese, figures grouped as the language writes them;
    // the HTML report too. A language without a catalogue is a usage error.
    let html = dir.join("zh.html");
    let (code, out, err) = run(&[
        "--tariff",
        &tariff,
        "--normal-weather",
        &normals,
        "--lang",
        "zh-TW",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    for want in [
        "報告期間：實際 ",
        "調整後能源基線",
        "節省費用 NT$ ",
        "標準化節能量",
    ] {
        assert!(out.contains(want), "zh-TW summary lacks `{want}`: {out}");
    }
    assert!(err.contains("報告已寫入"), "{err}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<html lang=\"zh-TW\">") && page.contains("節約能源量"));
    let (code, _, err) = run(&["--lang", "fr"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("unknown language `fr`"), "{err}");
}
