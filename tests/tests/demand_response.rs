//! Demand-response verification end to end on the demo plant's history: events entered through
//! the API, the baseline (CBL, Taipower's rule) checked against the mean this test computes
//! from the API's own quarter-hour demand over the eligible days it works out itself (weekdays
//! that are not tariff holidays nor the earlier event's day), a future event reported as
//! insufficient data, malformed events refused naming the field or the file and key, and the
//! `demand-response` command on the same database answering as the API does.

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, Weekday};
use kilowatch_e2e::{bin, demo_plant_tz, demo_site, history_back_to, plant_today, wait_for};
use kilowatch_e2e::{get_json, get_status_json, num, post_status_json, scratch, spawn_demo};

/// The holidays of the demo site's tariff file (billed off-peak: not baseline days).
fn tariff_holidays() -> HashSet<NaiveDate> {
    let site: toml::Value = toml::from_str(&std::fs::read_to_string(demo_site()).unwrap()).unwrap();
    let file = site["site"]["tariff"].as_str().expect("site.tariff");
    let path = demo_site().parent().unwrap().join(file);
    let tariff: toml::Value = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    tariff["holidays"]
        .as_array()
        .expect("holidays")
        .iter()
        .map(|d| d.as_str().unwrap().parse().unwrap())
        .collect()
}

fn weekday(d: NaiveDate, holidays: &HashSet<NaiveDate>) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !holidays.contains(&d)
}

#[test]
fn demo_demand_response_baseline_verdict_and_errors() {
    let dir = scratch("dr-demo");
    let tz = demo_plant_tz();
    let today = plant_today(tz);
    let holidays = tariff_holidays();
    // The event: the last weekday before today; an earlier event on the weekday before it.
    let before = |d: NaiveDate| {
        (1..30)
            .map(|k| d - chrono::Duration::days(k))
            .find(|&d| weekday(d, &holidays))
            .unwrap()
    };
    let event_day = before(today);
    let earlier_day = before(event_day);
    // The five baseline days this test expects: the weekdays before the event, not the
    // earlier event's day.
    let mut expected = Vec::new();
    let mut d = earlier_day;
    while expected.len() < 5 {
        d = before(d);
        expected.push(d);
    }
    // Two days' margin: the history need not start at a plant midnight.
    let first = *expected.last().unwrap() - chrono::Duration::days(2);
    let (mut demo, addr) = spawn_demo(&dir, &history_back_to(tz, first));
    let up = wait_for(Duration::from_secs(240), || {
        let r = get_json(&format!("http://{addr}/api/v1/enpi?asset=plant&step=1d")).ok()?;
        (r["computing"] == false).then_some(())
    });
    assert!(up.is_some(), "indicators not computed:\n{}", demo.log());
    let events = format!("http://{addr}/api/v1/demand-response/events");

    let (status, e) = post_status_json(
        &events,
        &format!(
            r#"{{"id":"earlier","date":"{earlier_day}","start":"10:00","end":"11:00","committed_kw":5}}"#
        ),
    );
    assert_eq!(status, 201, "{e}\n{}", demo.log());
    let (status, v) = post_status_json(
        &events,
        &format!(
            r#"{{"id":"main","date":"{event_day}","start":"10:00","end":"11:00","committed_kw":1}}"#
        ),
    );
    assert_eq!(status, 201, "{v}");
    let days: Vec<NaiveDate> = v["baseline_days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(days, expected, "{v}");
    assert!(v["skipped_days"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["date"] == earlier_day.to_string() && s["reason"] == "dr_event"));
    let quarters = v["quarters"].as_array().unwrap();
    assert_eq!(quarters.len(), 4, "{v}");
    // A whole past weekday of the demo has every quarter-hour: a verdict, not missing data.
    assert!(
        ["pass", "fail"].contains(&v["verdict"].as_str().unwrap()),
        "{v}"
    );

    // The CBL of 10:15, from the API's quarter-hour demand of the five days.
    let demand_at = |d: NaiveDate, hhmm: &str| -> f64 {
        let (status, r) = get_status_json(&format!(
            "http://{addr}/api/v1/enpi?asset=plant&step=15m&from={d}&to={}",
            d + chrono::Duration::days(1)
        ));
        assert_eq!(status, 200, "{r}");
        let row = r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| {
                let ts = chrono::DateTime::parse_from_rfc3339(row["ts"].as_str().unwrap())
                    .unwrap()
                    .with_timezone(&tz);
                ts.format("%H:%M").to_string() == hhmm
            })
            .unwrap_or_else(|| panic!("no {d} {hhmm} row: {r}"));
        num(&row["values"]["demand_kw"])
    };
    // Taipower's rule: the baseline is the mean of each baseline day's highest quarter-hour
    // in 10:00-11:00; the reduction, the baseline minus the event's highest, 0 below 50 kW.
    const WINDOW: [&str; 4] = ["10:00", "10:15", "10:30", "10:45"];
    let highest = |d: NaiveDate| {
        WINDOW
            .iter()
            .map(|q| demand_at(d, q))
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let mean = expected.iter().map(|&d| highest(d)).sum::<f64>() / 5.0;
    let cbl = num(&v["baseline_kw"]);
    assert!((cbl - mean).abs() < 1e-6, "API baseline {cbl}, mean {mean}");
    let top = highest(event_day);
    assert!((num(&v["event_max_kw"]) - top).abs() < 1e-6);
    let counted = if mean - top < 50.0 { 0.0 } else { mean - top };
    assert!((num(&v["reduction_kw"]) - counted).abs() < 1e-6, "{v}");
    assert_eq!(v["verdict"], if counted >= 1.0 { "pass" } else { "fail" });
    // Each quarter-hour against the baseline.
    let q = &quarters[1];
    assert_eq!(q["start"], "10:15");
    assert!((num(&q["cbl_kw"]) - mean).abs() < 1e-6);
    let actual = demand_at(event_day, "10:15");
    assert!((num(&q["actual_kw"]) - actual).abs() < 1e-6);
    assert!((num(&q["reduction_kw"]) - (mean - actual)).abs() < 1e-6);
    let r: Vec<f64> = quarters.iter().map(|q| num(&q["reduction_kw"])).collect();
    let avg = r.iter().sum::<f64>() / 4.0;
    assert!((num(&v["average_reduction_kw"]) - avg).abs() < 1e-9);
    assert!(
        (num(&v["delivered_kwh"]) - avg).abs() < 1e-9,
        "1 h at avg kW"
    );

    // An event not yet held: insufficient data, never a verdict. At 00:00–00:30, so that its
    // baseline (which may use today's first half hour) is the same for the API and the
    // command below unless the test straddles 00:30 at the plant.
    let tomorrow = today + chrono::Duration::days(1);
    let (status, fut) = post_status_json(
        &events,
        &format!(
            r#"{{"id":"future","date":"{tomorrow}","start":"00:00","end":"00:30","committed_kw":10}}"#
        ),
    );
    assert_eq!(status, 201, "{fut}");
    assert_eq!(fut["verdict"], "insufficient_data", "{fut}");
    assert_eq!(
        fut["missing_quarters"],
        serde_json::json!(["00:00", "00:15"])
    );
    assert!(fut["reason"].as_str().unwrap().contains("00:15"), "{fut}");
    assert_eq!(fut["average_reduction_kw"], serde_json::Value::Null);
    assert_eq!(fut["reduction_kw"], serde_json::Value::Null);

    // Malformed events: 400 naming the field; a taken id: 409.
    for (body, field) in [
        (
            r#"{"id":"x","date":"2026-02-30","start":"10:00","end":"11:00","committed_kw":1}"#,
            "`date`",
        ),
        (
            r#"{"id":"x","date":"2026-02-03","start":"10:10","end":"11:00","committed_kw":1}"#,
            "`start`",
        ),
        (
            r#"{"id":"x","date":"2026-02-03","start":"10:00","end":"11:00","committed_kw":-4}"#,
            "`committed_kw`",
        ),
        (
            r#"{"id":"x","date":"2026-02-03","start":"10:00","end":"11:00","committed_kw":1,"kw":2}"#,
            "kw",
        ),
        (r#"{"id":"x"}"#, "date"),
    ] {
        let (status, e) = post_status_json(&events, body);
        assert_eq!(status, 400, "{body}: {e}");
        let msg = e["error"].as_str().unwrap();
        assert!(msg.contains(field), "{body}: {msg}");
    }
    let (status, e) = post_status_json(
        &events,
        &format!(
            r#"{{"id":"main","date":"{event_day}","start":"10:00","end":"11:00","committed_kw":1}}"#
        ),
    );
    assert_eq!(status, 409, "{e}");
    let (status, _) = get_status_json(&format!("{events}/nope"));
    assert_eq!(status, 404);

    let (status, list) = get_status_json(&events);
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["earlier", "main", "future"]);
    let (status, one) = get_status_json(&format!("{events}/main"));
    assert_eq!(status, 200);
    assert_eq!(one, v);
    assert!(demo
        .interrupt(Duration::from_secs(10))
        .is_some_and(|s| s.success()));

    // The command on the same database answers as the API did.
    let db = dir.join("data/kilowatch.db");
    let cli = |site: &std::path::Path, args: &[&str]| {
        Command::new(bin("kilowatch-gateway"))
            .arg("demand-response")
            .args(args)
            .args([
                "--config",
                site.to_str().unwrap(),
                "--db",
                db.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let json = |out: std::process::Output| -> serde_json::Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(json(cli(&demo_site(), &["list", "--json"])), list);
    assert_eq!(json(cli(&demo_site(), &["show", "main", "--json"])), v);
    let table = cli(&demo_site(), &["show", "main"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains(&format!("{cbl:.1}")), "{table}");

    // A malformed event in a site file: the error names the file and the key.
    let text = std::fs::read_to_string(demo_site()).unwrap();
    let bad = dir.join("bad-site.toml");
    // The seeds it names (tariff, emission factors) are built into the binary.
    std::fs::write(
        &bad,
        text + "\n[[demand_response]]\nid = \"s1\"\ndate = \"2026-07-01\"\nstart = \"13:00\"\n\
               end = \"14:00\"\ncommitted_kw = 0\n",
    )
    .unwrap();
    let out = cli(&bad, &["list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad-site.toml") && err.contains("demand_response[0].committed_kw"),
        "{err}"
    );
    // A good one is listed with the stored ones, as `site`.
    std::fs::write(
        &bad,
        std::fs::read_to_string(&bad)
            .unwrap()
            .replace("committed_kw = 0", "committed_kw = 3"),
    )
    .unwrap();
    let listed = json(cli(&bad, &["list", "--json"]));
    let site_event = listed["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "s1")
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(site_event["source"], "site");
    let _ = std::fs::remove_dir_all(&dir);
}
