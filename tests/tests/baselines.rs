//! Energy baselines end to end on the demo plant: saved over the API and the command line,
//! tracked by month with the same SEnPI as `/api/v1/mv` over the same periods, listed,
//! refused twice under one name, deleted.

use std::process::Command;
use std::time::Duration;

use kilowatch_e2e::{
    bin, demo_plant_tz, demo_site, get_json, history_back_to, plant_midnight, plant_today, scratch,
    spawn_demo, url_time, wait_for,
};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into()
}

fn send(method: &str, url: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let a = agent();
    let mut res = match (method, body) {
        ("POST", Some(b)) => a
            .post(url)
            .header("Content-Type", "application/json")
            .send(b)
            .expect("POST"),
        ("DELETE", _) => a.delete(url).call().expect("DELETE"),
        _ => a.get(url).call().expect("GET"),
    };
    let status = res.status().as_u16();
    (status, res.body_mut().read_json().unwrap_or_default())
}

fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(bin("kilowatch-gateway"))
        .arg("baseline")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_baseline_saved_on_the_demo_plant_tracks_like_the_mv_engine_over_api_and_cli() {
    let dir = scratch("baselines-demo");
    let tz = demo_plant_tz();
    let today = plant_today(tz);
    let day = |back: i64| today - chrono::Duration::days(back);
    let (first, last) = (day(20), day(11));
    let (mut demo, addr) = spawn_demo(&dir, &history_back_to(tz, first));
    let base = format!("http://{addr}/api/v1");
    let up = wait_for(Duration::from_secs(60), || {
        get_json(&format!("{base}/enpi")).ok()
    });
    assert!(up.is_some(), "demo did not come up:\n{}", demo.log());
    let db = dir.join("data").join("kilowatch.db");
    let site = demo_site();
    let site_db = [
        "--config",
        site.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ];

    // Saved over the API (written by the gateway's store writer).
    let body = format!(
        r#"{{"name":"plant-e2e","asset":"plant","from":"{first}","to":"{last}","target":"percent:1.5","saved_by":"e2e"}}"#
    );
    let (status, rec) = send("POST", &format!("{base}/baselines"), Some(&body));
    assert_eq!(status, 201, "{rec}\n{}", demo.log());
    assert_eq!(rec["name"], "plant-e2e");
    assert_eq!(rec["fit"]["n"], 10, "{rec}");
    let form = rec["model"]["form"].as_str().unwrap().to_owned();
    assert!(rec["fit"]["cv_rmse_percent"].as_f64().is_some(), "{rec}");
    let (status, again) = send("POST", &format!("{base}/baselines"), Some(&body));
    assert_eq!(status, 409, "{again}");
    let (status, bad) = send(
        "POST",
        &format!("{base}/baselines"),
        Some(r#"{"name":"x","asset":"plant","from":"2020-01-02","to":"2020-01-01"}"#),
    );
    assert_eq!(status, 400, "{bad}");

    // Tracked to this morning's midnight (whole days), month by month.
    let to = url_time(&plant_midnight(tz, today));
    let (status, t) = send("GET", &format!("{base}/baselines/plant-e2e?to={to}"), None);
    assert_eq!(status, 200, "{t}");
    let months = t["months"].as_array().unwrap();
    let tracked: Vec<&serde_json::Value> =
        months.iter().filter(|m| m["baseline"] == false).collect();
    assert!(!tracked.is_empty(), "{t}");
    assert!(
        t["senpi_definition"]
            .as_str()
            .unwrap()
            .starts_with("actual / expected"),
        "{t}"
    );
    // The M&V engine over the same periods with the same form: the same SEnPI each month.
    let mv = get_json(&format!(
        "{base}/mv?asset=plant&baseline={first}..{last}&reporting={}..{}&model={form}&accept_extrapolation=true",
        day(10),
        day(1)
    ))
    .unwrap();
    let monthly = mv["monthly"].as_array().unwrap();
    assert_eq!(monthly.len(), tracked.len(), "{mv}\n{t}");
    for (m, r) in tracked.iter().zip(monthly) {
        assert_eq!(m["month"], r["month"]);
        let (a, b) = (m["senpi"].as_f64().unwrap(), r["senpi"].as_f64().unwrap());
        assert!((a - b).abs() < 1e-9, "{}: {a} vs {b}", m["month"]);
        assert!((m["actual"].as_f64().unwrap() - r["actual"].as_f64().unwrap()).abs() < 1e-6);
    }
    let p = &t["target"];
    assert_eq!(p["unit"], "SEnPI", "{p}");
    assert!(p["forecast"].as_f64().is_some(), "{p}");

    // The command line: its tracking of the same database equals the API's.
    let to_cli = plant_midnight(tz, today).to_rfc3339();
    let args = [
        &["show", "plant-e2e"][..],
        &site_db,
        &["--to", &to_cli, "--json"],
    ]
    .concat();
    let (code, out, err) = cli(&args);
    assert_eq!(code, Some(0), "{err}");
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(c["months"], t["months"]);
    let (code, out, err) =
        cli(&[&["show", "plant-e2e"][..], &site_db, &["--to", &to_cli]].concat());
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("SEnPI") && out.contains("year-end forecast"),
        "{out}"
    );

    // Saved from the command line, listed by both, deleted by both.
    let (code, out, err) = cli(&[
        &["save"][..],
        &site_db,
        &[
            "--asset",
            "plant",
            "--name",
            "plant-cli",
            "--from",
            &first.to_string(),
            "--to",
            &last.to_string(),
            "--target",
            "absolute:1000000",
            "--by",
            "e2e",
        ],
    ]
    .concat());
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("saved baseline `plant-cli`"), "{out}");
    let (code, _, err) = cli(&[
        &["save"][..],
        &site_db,
        &[
            "--asset",
            "plant",
            "--name",
            "plant-cli",
            "--from",
            &first.to_string(),
            "--to",
            &last.to_string(),
        ],
    ]
    .concat());
    assert_eq!(code, Some(2));
    assert!(err.contains("exists"), "{err}");
    let list = get_json(&format!("{base}/baselines")).unwrap();
    let names: Vec<&str> = list["baselines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["plant-cli", "plant-e2e"]);
    let (code, out, _) = cli(&[&["list"][..], &site_db].concat());
    assert_eq!(code, Some(0));
    assert!(
        out.contains("plant-cli") && out.contains("plant-e2e"),
        "{out}"
    );
    let (status, _) = send("DELETE", &format!("{base}/baselines/plant-cli"), None);
    assert_eq!(status, 204);
    let (status, _) = send("GET", &format!("{base}/baselines/plant-cli"), None);
    assert_eq!(status, 404);
    let (code, out, err) = cli(&[&["delete", "plant-e2e"][..], &site_db].concat());
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("deleted"), "{out}");
    let (code, _, err) = cli(&[&["delete", "plant-e2e"][..], &site_db].concat());
    assert_eq!(code, Some(2));
    assert!(err.contains("no baseline"), "{err}");

    let status = demo.interrupt(Duration::from_secs(20));
    assert!(status.is_some_and(|s| s.success()), "{}", demo.log());
}
