//! The energy review end to end: the demo's history through `/api/v1/review`, then the
//! `review` command on the same database, against what the demo plant's simulator draws.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use chrono::NaiveDate;
use kilowatch_e2e::{
    bin, demo_plant_tz, demo_site, demo_working_days, get_json, history_back_to, plant_midnight,
    plant_today, scratch, spawn_demo, wait_for,
};
use kilowatch_gateway::sim::plant::Plant;
use kilowatch_site::config::SiteConfig;
use kilowatch_site::profile::ProfileLibrary;

fn review_cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(bin("kilowatch-gateway"))
        .arg("review")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// GET with the status of an error answer kept.
fn get_status(url: &str) -> (u16, serde_json::Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(15)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut res = agent.get(url).call().expect("GET");
    let status = res.status().as_u16();
    (status, res.body_mut().read_json().unwrap_or_default())
}

/// What the demo's simulated plant draws over plant-local `day` (kWh per meter, and the
/// incomer's remainder), run as the demo runs it: the demo's site with its dates moved to
/// today. The simulator's noise runs on its own here, so sums agree to noise, not exactly.
/// The first minute of the demo's history, from the line it prints ("history: N samples from
/// YYYY-MM-DD HH:MM (UTC) to …").
fn history_start(log: &str) -> chrono::DateTime<chrono::Utc> {
    let from = log
        .lines()
        .find_map(|l| l.strip_prefix("history: ")?.split(" from ").nth(1))
        .and_then(|r| r.get(..16))
        .unwrap_or_else(|| panic!("no history line in the demo's log:\n{log}"));
    chrono::NaiveDateTime::parse_from_str(from, "%Y-%m-%d %H:%M")
        .unwrap_or_else(|e| panic!("{from}: {e}"))
        .and_utc()
}

/// What the simulator drew on `day`, run as the demo's history ran it: from `start` after the
/// same 300 s of warm-up (gateway/src/backfill.rs), one-second steps. The plant's state (air
/// demand, compressor cycles) carries over from where the history began, so starting anywhere
/// else gives a different day by a few percent for the VSD compressor.
fn simulated(
    tz: chrono_tz::Tz,
    day: NaiveDate,
    start: chrono::DateTime<chrono::Utc>,
) -> HashMap<String, f64> {
    let mut config = SiteConfig::parse(
        kilowatch_gateway::DEMO_SITE,
        "demo-site.toml",
        &ProfileLibrary::builtin(),
    )
    .unwrap();
    kilowatch_gateway::demo_dates::move_to(&mut config, plant_today(tz));
    let settings = kilowatch_gateway::sim::plant_settings(&config, "demo-site.toml").unwrap();
    let mut plant = Plant::new(settings, tz);
    let from = plant_midnight(tz, day).with_timezone(&chrono::Utc);
    let to = plant_midnight(tz, day + chrono::Duration::days(1)).with_timezone(&chrono::Utc);
    let mut kwh: HashMap<String, f64> = HashMap::new();
    for k in (1..=300).rev() {
        plant.step(start - chrono::Duration::seconds(k), 1.0);
    }
    let mut t = start;
    while t < to {
        plant.step(t, 1.0);
        if t >= from {
            let s = plant.snapshot();
            let u = &s.utilities;
            for (id, kw) in [
                ("incomer", s.incomer_kw),
                ("compressor-1", s.fixed_kw),
                ("compressor-2", s.vsd_kw),
                ("chiller-1", s.chiller_kw),
                ("chw-pump", u.chw_pump_kw),
                ("cw-pump", u.cw_pump_kw),
                ("tower-fan", u.tower_fan_kw),
                ("exhaust-fan", u.exhaust_kw),
            ] {
                *kwh.entry(id.to_owned()).or_default() += kw / 3600.0;
            }
        }
        t += chrono::Duration::seconds(1);
    }
    let fed: f64 = kwh
        .iter()
        .filter(|(k, _)| *k != "incomer")
        .map(|(_, v)| v)
        .sum();
    let rest = kwh["incomer"] - fed;
    kwh.insert("incomer (unmetered)".into(), rest);
    kwh
}

#[test]
fn demo_review_over_the_api_and_the_cli_ranks_uses_as_the_simulator_draws_them() {
    let dir = scratch("review-demo");
    // The latest whole working day: the line, both compressors and the chiller run.
    let tz = demo_plant_tz();
    let day = demo_working_days(tz).next().expect("a working day");
    let next = day + chrono::Duration::days(1);
    let (mut demo, addr) = spawn_demo(&dir, &history_back_to(tz, day));
    let base = format!("http://{addr}/api/v1/review");
    // Plant-local dates, as the CLI takes them.
    let url = format!("{base}?from={day}&to={next}");
    let api = wait_for(Duration::from_secs(60), || {
        let r = get_json(&url).ok()?;
        r["meters"]
            .as_array()?
            .iter()
            .all(|m| m["kwh"].is_number())
            .then_some(r)
    })
    .unwrap_or_else(|| panic!("no review: {:?}\n{}", get_json(&url), demo.log()));
    assert_eq!(
        api["from"],
        plant_midnight(tz, day)
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "{api}"
    );

    // The uses add up to the total, shares and the cumulative line follow from the energy.
    let uses = api["uses"].as_array().unwrap();
    let total = api["total_kwh"].as_f64().unwrap();
    let sum: f64 = uses.iter().map(|u| u["kwh"].as_f64().unwrap()).sum();
    assert!(
        (sum - total).abs() < 1e-6 * total,
        "{sum} vs {total}: {api}"
    );
    let incomer = api["meters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "incomer")
        .unwrap()["kwh"]
        .as_f64()
        .unwrap();
    assert!((incomer - total).abs() < 1e-6 * total, "{api}");
    // Significant by the rule: within the first 80 % (the use crossing it included), at least
    // 5 % each, never a remainder.
    let (rule_cum, rule_min) = (
        api["rule"]["cumulative_percent"].as_f64().unwrap(),
        api["rule"]["min_percent"].as_f64().unwrap(),
    );
    assert_eq!((rule_cum, rule_min), (80.0, 5.0));
    let mut before = 0.0;
    let mut last = f64::INFINITY;
    for (i, u) in uses.iter().enumerate() {
        let kwh = u["kwh"].as_f64().unwrap();
        let percent = u["percent"].as_f64().unwrap();
        assert_eq!(u["rank"], i + 1, "{u}");
        assert!(kwh <= last, "not ranked by energy: {api}");
        last = kwh;
        assert!((percent - 100.0 * kwh / total).abs() < 1e-9, "{u}");
        let want = u["kind"] == "meter" && before < rule_cum && percent >= rule_min && kwh > 0.0;
        assert_eq!(u["significant"], want, "{u} (cumulative before: {before})");
        before += percent;
        assert!(
            (u["cumulative_percent"].as_f64().unwrap() - before).abs() < 1e-9,
            "{u}"
        );
    }
    assert!((before - 100.0).abs() < 1e-6, "{api}");

    // Against the simulator: each use within 1 % of what it drew (0.3 % seen: the history is
    // sampled at the pollers' intervals), ranked as it implies where the
    // difference is more than the noise.
    let truth = simulated(tz, day, history_start(&demo.log()));
    let get = |id: &str| uses.iter().find(|u| u["id"] == id).unwrap();
    let ids: Vec<&str> = uses.iter().map(|u| u["id"].as_str().unwrap()).collect();
    let mut want: Vec<&str> = truth
        .keys()
        .filter(|k| *k != "incomer")
        .map(String::as_str)
        .collect();
    want.sort_by_key(|k| ids.iter().position(|i| i == k));
    assert_eq!(ids, want, "the review's uses are the simulator's meters");
    for u in uses {
        let id = u["id"].as_str().unwrap();
        let (got, drew) = (u["kwh"].as_f64().unwrap(), truth[id]);
        assert!(
            (got - drew).abs() < 0.01 * drew.max(5.0),
            "{id}: {got} kWh, the simulator drew {drew}"
        );
    }
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            if truth[*a] < 0.9 * truth[*b] {
                panic!("{a} ranked above {b}, the simulator drew {truth:?}");
            }
        }
    }
    // The compressors and the chiller: their shares as the simulator implies, the chiller and
    // the fixed-speed compressor significant, with their drivers and indicators.
    for id in ["compressor-1", "compressor-2", "chiller-1"] {
        let u = get(id);
        let share = 100.0 * truth[id] / truth["incomer"];
        assert!(
            (u["percent"].as_f64().unwrap() - share).abs() < 1.5,
            "{id}: {u}, the simulator: {share:.1} %"
        );
        assert!(!u["enpis"].as_array().unwrap().is_empty(), "{u}");
    }
    for id in ["compressor-1", "chiller-1"] {
        assert_eq!(get(id)["significant"], true, "{api}");
    }
    assert_eq!(get("incomer (unmetered)")["significant"], false);
    assert!(get("chiller-1")["drivers"]
        .as_array()
        .unwrap()
        .contains(&"chw/water_flow".into()));

    // A bad parameter is a 400 naming it.
    let (status, body) = get_status(&format!("{base}?from=last-friday&to={next}"));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().starts_with("`from`:"),
        "{body}"
    );
    let (status, body) = get_status(&format!("{base}?from={next}&to={day}"));
    assert_eq!(status, 400, "{body}");
    assert!(demo
        .interrupt(Duration::from_secs(10))
        .is_some_and(|s| s.success()));

    // The CLI on the same database says the same.
    let db = dir.join("data/kilowatch.db");
    let site = demo_site();
    let (day, next) = (day.to_string(), next.to_string());
    let args = [
        "--config",
        site.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--from",
        &day,
        "--to",
        &next,
    ];
    let (code, out, err) = review_cli(&[&args[..], &["--json"]].concat());
    assert_eq!(code, Some(0), "{err}");
    let cli: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cli, api, "the CLI and the API differ");
    let (code, out, err) = review_cli(&args);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("rank") && out.contains("cum %"), "{out}");
    for u in uses {
        // `rank  use  kWh …`: an unmetered remainder shows as `incomer: unmetered`.
        let label = match u["kind"].as_str() {
            Some("unmetered") => format!("{}: unmetered", u["parent"].as_str().unwrap()),
            _ => u["id"].as_str().unwrap().to_owned(),
        };
        let id = format!("{label}  ");
        let line = out
            .lines()
            .find(|l| {
                l.trim_start()
                    .split_once(' ')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with(&id))
            })
            .unwrap_or_else(|| panic!("{u} not in\n{out}"));
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[0], u["rank"].to_string(), "{line}");
        let kwh: f64 = line[line.find(&id).unwrap() + id.len()..]
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{line}"));
        assert!((kwh - u["kwh"].as_f64().unwrap()).abs() <= 0.05, "{line}");
        assert_eq!(
            cells.contains(&"SEU"),
            u["significant"] == true,
            "{line}\n{out}"
        );
    }
    // A bad date is a usage error (exit 2) naming the flag.
    let (code, _, err) = review_cli(&[
        "--config",
        site.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--from",
        "soon",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--from"), "{err}");
}
