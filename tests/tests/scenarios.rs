//! Demo scenarios end to end: `kilowatch-gateway demo --scenario …` runs the whole stack on the
//! simulated plant with a fault, and the matching alarm appears in `GET /api/v1/alarms`
//! within a bounded wait.

use std::time::Duration;

use kilowatch_e2e::{bin, get_json, scratch, wait_for, wait_printed_addr, Proc};

fn demo(name: &str, scenario: &str) -> (Proc, String) {
    let dir = scratch(name);
    let mut demo = Proc::spawn(
        "demo",
        &bin("kilowatch-gateway"),
        &["demo", "--http", "127.0.0.1:0", "--scenario", scenario],
        &dir,
    );
    let addr = wait_printed_addr(&mut demo, "open http://", Duration::from_secs(30));
    assert!(!addr.is_empty(), "the demo did not start:\n{}", demo.log());
    (demo, format!("http://{addr}"))
}

fn active(base: &str, id: &str) -> Option<serde_json::Value> {
    let list = get_json(&format!("{base}/api/v1/alarms?state=active")).ok()?;
    list["alarms"]
        .as_array()?
        .iter()
        .find(|a| a["id"] == id)
        .cloned()
}

#[test]
fn demand_peak_raises_the_demand_alarm_while_its_window_is_open() {
    let (demo, base) = demo("scenario-demand", "demand-peak");
    assert!(
        demo.log().contains("scenario demand-peak: expect"),
        "{}",
        demo.log()
    );
    // The plant tops up to 110 % of its 450 kW contract from the start: the projection
    // passes 427.5 kW with the first incomer readings.
    let raised = wait_for(Duration::from_secs(60), || active(&base, "demand"))
        .unwrap_or_else(|| panic!("no demand alarm:\n{}", demo.log()));
    assert_eq!(raised["state"], "raised");
    let ev = &raised["evidence"];
    assert_eq!(ev["contract_kw"], 450.0);
    assert_eq!(ev["warn_kw"], 427.5);
    assert!(ev["projected_kw"].as_f64().unwrap() > 427.5, "{ev}");
    assert!(ev["shed_kw"].as_f64().unwrap() > 0.0, "{ev}");
    let at =
        |v: &serde_json::Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let (raised_at, start, end) = (
        at(&raised["raised_at"]),
        at(&ev["window_start"]),
        at(&ev["window_end"]),
    );
    assert!(
        start <= raised_at && raised_at < end,
        "raised at {raised_at}, window {start}..{end}"
    );
    // Only the demand: every meter answers.
    assert!(active(&base, "device_silent.compressor-2").is_none());
}

#[test]
fn meter_silent_raises_device_silent_and_no_demand_alarm() {
    let (demo, base) = demo("scenario-silent", "meter-silent");
    // compressor-2 polls every second: silent past 3 s, and its polls time out.
    let silent = wait_for(Duration::from_secs(60), || {
        active(&base, "device_silent.compressor-2")
    })
    .unwrap_or_else(|| panic!("no device_silent alarm:\n{}", demo.log()));
    assert_eq!(silent["rule"], "device_silent");
    assert_eq!(silent["subject"], "compressor-2");
    assert!(silent["evidence"]["value"].as_f64().unwrap() >= 3.0);
    // The other meters answer: the incomer is stored and is not silent.
    let latest = wait_for(Duration::from_secs(20), || {
        let v = get_json(&format!("{base}/api/v1/latest")).ok()?;
        let r = v["readings"].as_array()?;
        r.iter()
            .any(|r| r["device"] == "incomer" && r["quantity"] == "active_power")
            .then_some(v)
    });
    assert!(latest.is_some(), "incomer readings:\n{}", demo.log());
    assert!(active(&base, "device_silent.incomer").is_none());
    assert!(
        active(&base, "demand").is_none(),
        "the normal plant stays under its contract"
    );
}
