//! Savings from utility bills end to end: `mv --bills` on the demo plant's 2025 bills
//! (seeds/samples/utility-bill.csv) with a temperature file made here (nothing in a fresh store
//! covers 2025), the weighted fit cross-checked against statsmodels' WLS, the per-bill form
//! giving the same answer, and input errors.

use std::path::Path;
use std::process::Command;

use kilowatch_e2e::{bin, python, scratch};

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

fn sample_bills() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../seeds/samples/utility-bill.csv")
        .display()
        .to_string()
}

/// Hourly temperatures for 2025 in Taipei: a seasonal swing (hot July), a daily swing and a
/// deterministic wobble.
fn write_temps(path: &Path) {
    let mut s = String::from("time,oat\n");
    let start = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    for h in 0..365 * 24 {
        let t = start.and_time(Default::default()) + chrono::Duration::hours(h);
        let day = h as f64 / 24.0;
        let season = (std::f64::consts::TAU * (day - 196.0) / 365.0).cos();
        let daily = (std::f64::consts::TAU * ((h % 24) as f64 - 9.0) / 24.0).sin();
        let wobble = ((h * 7919) % 97) as f64 / 97.0 - 0.5;
        let v = 23.5 + 6.5 * season + 3.0 * daily + wobble;
        s.push_str(&format!("{},{v:.2}\n", t.format("%Y-%m-%d %H:%M")));
    }
    std::fs::write(path, s).unwrap();
}

const RANGES: [&str; 4] = [
    "--baseline",
    "2025-01-01..2025-06-30",
    "--reporting",
    "2025-07-01..2025-12-31",
];

/// statsmodels WLS of usage per day on the cooling degree days per day at the reported
/// balance point, weighted by days; the daily means of the hourly file as the tool takes them.
const CHECK: &str = r#"
import json, sys
import pandas as pd, statsmodels.api as sm
temps, report = sys.argv[1], json.load(open(sys.argv[2]))
t = pd.read_csv(temps, parse_dates=["time"])
daily = t.groupby(t.time.dt.date).oat.mean()
bp = report["model"]["balance_points"][0]
rows = [b for b in report["bills"] if not b["reporting"] and b["used"]]
y, x, w = [], [], []
for b in rows:
    d0, d1 = pd.Timestamp(b["from"][:10]).date(), pd.Timestamp(b["to"][:10]).date()
    days = daily[(daily.index >= d0) & (daily.index < d1)]
    x.append((days - bp).clip(lower=0).mean())
    y.append(b["usage"] / b["days"])
    w.append(b["days"])
fit = sm.WLS(y, sm.add_constant(x), weights=w).fit()
print(json.dumps({"params": list(fit.params), "bse": list(fit.bse), "pvalues": list(fit.pvalues), "r2": fit.rsquared}))
"#;

fn close(what: &str, got: f64, want: f64, rel: f64) {
    assert!(
        (got - want).abs() <= rel * want.abs().max(1e-12),
        "{what}: {got} vs {want}"
    );
}

#[test]
fn bills_are_verified_and_the_weighted_fit_matches_statsmodels() {
    let py = python();
    let dir = scratch("mv-bills");
    let temps = dir.join("oat.csv");
    write_temps(&temps);
    let t = temps.to_str().unwrap();
    let bills = sample_bills();
    let common = [
        "--bills",
        &bills,
        "--temp-csv",
        t,
        "--temp-col",
        "oat",
        "--tz",
        "Asia/Taipei",
    ];
    let (code, out, err) = mv(&[&common[..], &RANGES, &["--json"]].concat());
    assert_eq!(code, Some(0), "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["schema"], "kilowatch-mv-billing/1");
    assert_eq!(r["granularity"], "bill");
    assert_eq!(r["time_zone"], "Asia/Taipei");
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    // The register differences, exactly: 1 685 924 − 1 250 000 and 2 162 106 − 1 685 924.
    assert_eq!(f(&r["baseline"]["actual"]), 435_924.0);
    assert_eq!(f(&r["reporting"]["actual"]), 476_182.0);
    assert_eq!(r["baseline"]["n"], 6);
    assert_eq!(r["reporting"]["n"], 6);
    let m = &r["model"];
    // The plant's summer load follows cooling: a CDD model wins.
    assert_eq!(m["form"], "caltrack-cdd", "{}", m["candidates"]);
    assert_eq!(m["parameters"], 3);
    let s = &r["savings"];
    let adjusted = f(&r["reporting"]["adjusted_baseline"]);
    close("avoided", f(&s["avoided"]), adjusted - 476_182.0, 1e-12);
    let (avoided, u68, u90) = (
        f(&s["avoided"]),
        f(&s["uncertainty_68"]),
        f(&s["uncertainty_90"]),
    );
    let verified = avoided > u90 && u68 < 0.5 * avoided;
    assert_eq!(
        s["verified"].as_bool().unwrap(),
        verified,
        "{}",
        s["verdict"]
    );
    // The bills' modelled values add up to the adjusted baseline.
    let modelled: f64 = r["bills"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["reporting"].as_bool().unwrap())
        .map(|b| f(&b["modelled"]))
        .sum();
    close("modelled bills", modelled, adjusted, 1e-9);

    let path = dir.join("report.json");
    std::fs::write(&path, &out).unwrap();
    let check = Command::new(&py)
        .args(["-c", CHECK, t, path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let sm: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    for (i, name) in ["intercept", "cdd"].iter().enumerate() {
        close(name, f(&m["coefficients"][name]), f(&sm["params"][i]), 1e-7);
        close(name, f(&m["std_errors"][name]), f(&sm["bse"][i]), 1e-6);
        close(name, f(&m["p_values"][name]), f(&sm["pvalues"][i]), 1e-4);
    }
    close("R²", f(&m["r2"]), f(&sm["r2"]), 1e-9);

    // The same bills as `from,to,kwh` rows give the same savings.
    let rows = dir.join("bills.csv");
    std::fs::write(
        &rows,
        "from,to,kwh\n2025-01-01,2025-02-01,72281\n2025-02-01,2025-03-01,63580\n2025-03-01,2025-04-01,73354\n2025-04-01,2025-05-01,67418\n2025-05-01,2025-06-01,70949\n2025-06-01,2025-07-01,88342\n2025-07-01,2025-08-01,88022\n2025-08-01,2025-09-01,89840\n2025-09-01,2025-10-01,84594\n2025-10-01,2025-11-01,72019\n2025-11-01,2025-12-01,70095\n2025-12-01,2026-01-01,71612\n",
    )
    .unwrap();
    let rows = rows.to_str().unwrap();
    let mut alt = common;
    alt[1] = rows;
    let (code, out2, err) = mv(&[&alt[..], &RANGES, &["--json"]].concat());
    assert_eq!(code, Some(0), "{err}");
    let r2: serde_json::Value = serde_json::from_str(&out2).unwrap();
    close("per-bill form", f(&r2["savings"]["avoided"]), avoided, 1e-9);

    // The human summary carries the verdict.
    let (code, text, _) = mv(&[&common[..], &RANGES].concat());
    assert_eq!(code, Some(0));
    assert!(text.starts_with(s["verdict"].as_str().unwrap()), "{text}");
    assert!(text.contains("model caltrack-cdd on 6 bills"), "{text}");
}

#[test]
fn bill_input_errors_are_usage_errors() {
    let dir = scratch("mv-bills-errors");
    let bills = sample_bills();
    let temps = dir.join("t.csv");
    std::fs::write(&temps, "time,temp\n2025-01-01,20\n").unwrap();
    let t = temps.to_str().unwrap();
    let (code, _, err) = mv(&[
        &["--bills", &bills, "--temp-csv", t, "--temp-col", "oat"][..],
        &RANGES,
    ]
    .concat());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no column oat (--temp-col)"), "{err}");
    // Without any temperature the mean model is all there is, and the report says so.
    let (code, out, err) = mv(&[&["--bills", &bills][..], &RANGES].concat());
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("model mean on 6 bills") && out.contains("no temperature"),
        "{out}"
    );
    let (code, _, err) = mv(&[
        "--bills",
        &bills,
        "--baseline",
        "2025-01-01..2025-08-31",
        "--reporting",
        "2025-07-01..2025-12-31",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("overlap"), "{err}");
    let (code, _, err) = mv(&[
        &["--bills", &bills, "--config", "/nonexistent/site.toml"][..],
        &RANGES,
    ]
    .concat());
    assert_ne!(code, Some(0), "{err}");
}
