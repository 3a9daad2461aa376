//! Demand management end to end on the demo plant's history: the top event's sub-meter kW plus
//! the unmetered remainder make its demand, the shave's energy is bounded by the profile, and
//! the `demand` command on the same database answers as the API does.

use std::process::Command;
use std::time::Duration;

use kilowatch_e2e::{bin, demo_plant_tz, demo_site, history_back_to, plant_today};
use kilowatch_e2e::{get_status_json, num, scratch, spawn_demo};

#[test]
fn demo_demand_events_shares_and_shave_against_the_profile() {
    let dir = scratch("demand-demo");
    let tz = demo_plant_tz();
    let today = plant_today(tz);
    // Two whole past days of simulated history (today, live, is left out).
    let from = today - chrono::Duration::days(2);
    let (mut demo, addr) = spawn_demo(&dir, &history_back_to(tz, from));
    let range = format!("from={from}&to={today}");
    let api = |path: &str, extra: &str| {
        get_status_json(&format!(
            "http://{addr}/api/v1/demand/{path}?{range}{extra}"
        ))
    };

    let (status, profile) = api("profile", "");
    assert_eq!(status, 200, "{profile}\n{}", demo.log());
    let slots: Vec<&serde_json::Value> = profile["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["slots"].as_array().unwrap())
        .collect();
    // Two days of quarter-hours, each in exactly one (day type, period, time) slot.
    let counted: u64 = slots.iter().map(|s| s["count"].as_u64().unwrap()).sum();
    assert!(counted > 96 && counted <= 192, "{counted} quarter-hours");
    let peak = slots
        .iter()
        .map(|s| num(&s["max_kw"]))
        .fold(f64::MIN, f64::max);

    let (status, events) = api("events", "&top=5");
    assert_eq!(status, 200, "{events}");
    let events = events.as_array().unwrap();
    // At most one a day: two days.
    assert_eq!(events.len(), 2, "{events:?}");
    let top = &events[0];
    let demand = num(&top["demand_kw"]);
    assert!(
        (demand - peak).abs() < 1e-9,
        "top {demand} != profile peak {peak}"
    );
    assert!(num(&events[1]["demand_kw"]) <= demand);
    assert_ne!(
        top["start"].as_str().unwrap()[..10],
        events[1]["start"].as_str().unwrap()[..10]
    );
    let meters = top["meters"].as_array().unwrap();
    let ids: Vec<&str> = meters.iter().map(|m| m["id"].as_str().unwrap()).collect();
    for id in ["compressor-1", "compressor-2", "chiller-1"] {
        assert!(ids.contains(&id), "{id} not among {ids:?}");
    }
    // The demo's sub-meters all report: each has kW, and they plus the remainder are the demand.
    let metered: f64 = meters.iter().map(|m| num(&m["kw"])).sum();
    let unmetered = num(&top["unmetered_kw"]);
    assert!(metered > 0.0, "{top}");
    // The incomer carries the sub-meters' load: they cannot draw more than it.
    assert!(unmetered > -1e-6, "{top}");
    assert!((metered + unmetered - demand).abs() < 1e-6, "{top}");
    let shares: f64 =
        meters.iter().map(|m| num(&m["share"])).sum::<f64>() + num(&top["unmetered_share"]);
    assert!((shares - 1.0).abs() < 1e-9, "shares sum to {shares}: {top}");

    let cut = 20.0;
    let (status, shave) = api("shave", &format!("&cut_kw={cut}"));
    assert_eq!(status, 200, "{shave}");
    assert!((num(&shave["peak_kw"]) - peak).abs() < 1e-9, "{shave}");
    let level = peak - cut;
    let energy = num(&shave["energy_kwh"]);
    // The peak quarter-hour alone is X kW above the level for 0.25 h; no quarter-hour is more
    // above it than its profile slot's maximum.
    let upper: f64 = slots
        .iter()
        .map(|s| (num(&s["max_kw"]) - level).max(0.0) * 0.25 * s["count"].as_u64().unwrap() as f64)
        .sum();
    assert!(
        energy >= cut * 0.25 - 1e-9 && energy <= upper + 1e-9,
        "{energy} not in [{}, {upper}]",
        cut * 0.25
    );
    // Each slot whose maximum is above the level holds at least one quarter-hour above it.
    let quarters = shave["quarters"].as_u64().unwrap();
    let slots_above = slots.iter().filter(|s| num(&s["max_kw"]) > level).count() as u64;
    let counted_above: u64 = slots
        .iter()
        .filter(|s| num(&s["max_kw"]) > level)
        .map(|s| s["count"].as_u64().unwrap())
        .sum();
    assert!(
        quarters >= slots_above && quarters <= counted_above,
        "{shave}"
    );
    let days = shave["days"].as_array().unwrap();
    let by_day: f64 = days.iter().map(|d| num(&d["energy_kwh"])).sum();
    assert!((by_day - energy).abs() < 1e-9);
    let run = shave["longest_run"].as_u64().unwrap();
    assert!(run >= 1 && run <= quarters, "{shave}");

    let (status, e) = api("shave", "");
    assert_eq!(status, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("cut_kw"), "{e}");
    assert!(demo
        .interrupt(Duration::from_secs(10))
        .is_some_and(|s| s.success()));

    // The command on the same database answers as the API did.
    let db = dir.join("data/kilowatch.db");
    let site = demo_site();
    let cli = |args: &[&str]| {
        let out = Command::new(bin("kilowatch-gateway"))
            .arg("demand")
            .args(args)
            .args([
                "--config",
                site.to_str().unwrap(),
                "--db",
                db.to_str().unwrap(),
            ])
            .args(["--from", &from.to_string(), "--to", &today.to_string()])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let json = |s: String| -> serde_json::Value { serde_json::from_str(&s).unwrap() };
    assert_eq!(json(cli(&["shave", "--cut-kw", "20", "--json"])), shave);
    assert_eq!(
        json(cli(&["events", "--top", "5", "--json"])),
        serde_json::Value::Array(events.clone())
    );
    let table = cli(&["shave", "--cut-kw", "20"]);
    assert!(table.contains(&format!("{energy:.2} kWh")), "{table}");
}
