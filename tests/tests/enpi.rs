//! Energy-performance indicators end to end: the demo's history through the gateway's
//! continuous computation to `/api/v1/enpi`, then the `enpi` command on the same database.

use std::process::Command;
use std::time::Duration;

use kilowatch_e2e::{
    bin, demo_plant_tz, demo_site, demo_working_days, get_json, history_back_to, plant_midnight,
    scratch, spawn_demo, url_time, wait_for,
};

fn enpi(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(bin("kilowatch-gateway"))
        .arg("enpi")
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
fn demo_history_gives_indicators_over_the_api_and_the_cli() {
    let dir = scratch("enpi-demo");
    // The latest whole plant-local working day (production, so specific energy), computed by
    // the running gateway from a history that reaches back to it.
    let tz = demo_plant_tz();
    let day = demo_working_days(tz).next().expect("a working day");
    let next = day + chrono::Duration::days(1);
    let (mut demo, addr) = spawn_demo(&dir, &history_back_to(tz, day));
    let data = dir.join("data");
    let base = format!("http://{addr}/api/v1/enpi");
    let list = wait_for(Duration::from_secs(60), || get_json(&base).ok());
    let list = list.unwrap_or_else(|| panic!("demo did not come up:\n{}", demo.log()));
    let ids: Vec<&str> = list["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "compressed-air",
            "chiller",
            "chw-pump",
            "cw-pump",
            "cooling-tower",
            "chw-plant",
            "boiler",
            "exhaust-fan",
            "plant"
        ]
    );

    let from = url_time(&plant_midnight(tz, day));
    let to = url_time(&plant_midnight(tz, next));
    let url = format!("{base}?asset=plant&from={from}&to={to}&step=1h");
    let report = wait_for(Duration::from_secs(60), || {
        let r = get_json(&url).ok()?;
        (r["rows"].as_array()?.len() == 24 && r["rows"][23]["values"]["energy_kwh"].is_number())
            .then_some(r)
    })
    .unwrap_or_else(|| {
        panic!(
            "no hourly plant indicators: {:?}\n{}",
            get_json(&url),
            demo.log()
        )
    });
    for row in report["rows"].as_array().unwrap() {
        let v = &row["values"];
        let kwh = v["energy_kwh"].as_f64().unwrap();
        // Base load 10 kW plus production, compressors, chiller, pumps and fans: 60-500 kWh
        // in an hour.
        assert!((60.0..500.0).contains(&kwh), "{row}");
        assert!(v["demand_kw"].as_f64().unwrap() >= kwh, "{row}");
        let pf = v["power_factor"]
            .as_f64()
            .unwrap_or_else(|| panic!("{row}"));
        assert!((0.85..0.95).contains(&pf), "{row}");
        assert!(v["energy_cost"].as_f64().unwrap() > 0.0, "{row}");
        assert!(v["co2e_kg"].as_f64().unwrap() > 0.0, "{row}");
        // Hourly rows never pretend to be a bill.
        assert!(row["missing"]["basic_charge"]
            .as_str()
            .unwrap()
            .contains("1mo"));
    }
    let s = &report["summary"]["values"];
    assert!(s["sec"].as_f64().unwrap() > 0.0, "{report}");
    // Errors are answered, not guessed.
    assert!(get_json(&format!("{base}?asset=no-such-asset")).is_err());
    assert!(get_json(&format!("{base}?asset=plant&step=2h")).is_err());
    assert!(demo
        .interrupt(Duration::from_secs(10))
        .is_some_and(|s| s.success()));

    // The CLI on the same database.
    let db = data.join("kilowatch.db");
    let site = demo_site();
    let (day, next) = (day.to_string(), next.to_string());
    let common = [
        "--config",
        site.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ];
    let mut args = common.to_vec();
    args.extend([
        "--asset",
        "compressed-air",
        "--from",
        &day,
        "--to",
        &next,
        "--step",
        "1h",
        "--csv",
    ]);
    let (code, out, err) = enpi(&args);
    assert_eq!(code, Some(0), "{err}");
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "ts");
    let sp = header
        .iter()
        .position(|h| h.starts_with("specific_power"))
        .expect("specific_power column");
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), 24, "{out}");
    for r in &rows {
        let v: f64 = r[sp].parse().unwrap_or_else(|_| panic!("{r:?}"));
        // Loaded at full production; at night leaks alone leave the fixed compressor mostly
        // unloaded, so the air costs more per m³.
        assert!((4.0..40.0).contains(&v), "specific power {v} kW/(m³/min)");
    }
    // JSON: the day as a whole, with the reason for what the demo cannot show.
    let mut args = common.to_vec();
    args.extend([
        "--asset",
        "compressed-air",
        "--from",
        &day,
        "--to",
        &next,
        "--step",
        "1d",
        "--json",
    ]);
    let (code, out, err) = enpi(&args);
    assert_eq!(code, Some(0), "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["rows"].as_array().unwrap().len(), 1);
    let day_sp = j["summary"]["values"]["specific_power"].as_f64().unwrap();
    assert!(
        (5.0..12.0).contains(&day_sp),
        "daily specific power {day_sp}"
    );
    assert!(j["summary"]["missing"]["cycles_per_hour"]
        .as_str()
        .unwrap()
        .contains("load_state"));
    // Recompute with a visible summary line.
    let mut args = common.to_vec();
    args.extend(["--from", &day, "--to", &next, "--recompute"]);
    let (code, _, err) = enpi(&args);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("recomputed"), "{err}");
    // Wrong asset and step: exit 2 with one line saying what to use.
    let mut args = common.to_vec();
    args.extend(["--asset", "no-such-asset"]);
    let (code, _, err) = enpi(&args);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("compressed-air, chiller, chw-pump, cw-pump, cooling-tower, chw-plant, boiler, exhaust-fan, plant"),
        "{err}"
    );
    let mut args = common.to_vec();
    args.extend(["--asset", "plant", "--step", "2h"]);
    let (code, _, err) = enpi(&args);
    assert_eq!(code, Some(2));
    assert!(err.contains("--step") && err.contains("1mo"), "{err}");
}
