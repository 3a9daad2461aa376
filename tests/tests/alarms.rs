//! Alarms end to end: the real gateway on a real mosquitto, readings published as an agent
//! would. The demand alarm is raised while its 15-minute window is still open, served by the
//! API and retained on MQTT, acknowledged through the API (with the access token), cleared
//! when the load drops; a meter that stops publishing raises a data alarm.

use std::time::Duration;

use kilowatch_e2e::alarm_rig::DemandRig;
use kilowatch_e2e::{free_port, get_text, wait_for, Subscriber};

const TOKEN: &str = "al4rm-t0ken";

/// The retained state of alarm `id` as a fresh subscriber receives it.
fn retained(port: u16, id: &str, state: &str) -> Option<serde_json::Value> {
    let sub = Subscriber::start(
        port,
        &format!("e2e-alarms-check-{}", free_port()),
        &format!("kilowatch/v1/e2e-alarms/alarm/{id}"),
    );
    wait_for(Duration::from_secs(5), || {
        sub.snapshot().iter().rev().find_map(|m| {
            let v: serde_json::Value = serde_json::from_slice(&m.payload).ok()?;
            (v["state"] == state).then_some(v)
        })
    })
}

fn post(url: &str, body: &str) -> (u16, serde_json::Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(15)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut res = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)
        .expect("POST");
    let status = res.status().as_u16();
    let json = res.body_mut().read_json().unwrap_or_default();
    (status, json)
}

#[test]
fn demand_alarm_is_raised_in_its_window_acknowledged_and_cleared_and_silence_is_an_alarm() {
    let mut rig = DemandRig::start("alarms", "e2e-alarms", TOKEN);
    let (base, gateway, port) = (rig.base.clone(), &rig.gateway, rig.mq.port);
    // The API's token guards the alarms like every other route.
    let (status, _) = post(&format!("{base}/api/v1/alarms/demand/ack"), r#"{"by":"x"}"#);
    assert_eq!(status, 401);
    assert!(rig.alarm("active", "demand").is_none());

    // 2 MW against a 100 kW contract: the projection passes 95 kW at once with 43 s or more
    // left in the window, and a few seconds of it are far below 95 kW averaged over the
    // quarter-hour (each second adds 2.2 kW), so it clears when the load drops. Not in the
    // last minute of a window.
    let raised = rig.raise_demand(2000.0, 60);
    assert_eq!(raised["state"], "raised");
    assert_eq!(raised["severity"], "critical");
    assert_eq!(raised["link"], "/dashboard/#/plant");
    let ev = &raised["evidence"];
    assert_eq!(ev["contract_kw"], 100.0);
    assert_eq!(ev["warn_kw"], 95.0);
    assert_eq!(ev["unit"], "kW");
    assert!(ev["projected_kw"].as_f64().unwrap() > 95.0, "{ev}");
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
    assert_eq!((end - start).num_minutes(), 15);
    let on_mqtt = retained(port, "demand", "raised").expect("retained raised state");
    assert_eq!(on_mqtt["evidence"]["contract_kw"], 100.0);

    // Acknowledged, with who and when; twice is a conflict.
    let ack_url = format!("{base}/api/v1/alarms/demand/ack?token={TOKEN}");
    let (status, acked) = post(&ack_url, r#"{"by":"shift lead","note":"chiller 2 off"}"#);
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["state"], "acknowledged");
    assert_eq!(acked["acked_by"], "shift lead");
    assert_eq!(acked["ack_note"], "chiller 2 off");
    assert!(at(&acked["acked_at"]) >= raised_at);
    let (status, _) = post(&ack_url, r#"{"by":"shift lead"}"#);
    assert_eq!(status, 409);
    let (status, _) = post(&ack_url, r#"{"note":"nobody"}"#);
    assert_eq!(status, 400);
    let (status, _) = post(
        &format!("{base}/api/v1/alarms/nope/ack?token={TOKEN}"),
        r#"{"by":"x"}"#,
    );
    assert_eq!(status, 404);
    assert!(retained(port, "demand", "acknowledged").is_some());

    // The load drops: a few seconds at 2 MW are little energy in a quarter-hour.
    rig.set_kw(0.0);
    let cleared = wait_for(Duration::from_secs(30), || rig.alarm("cleared", "demand"))
        .unwrap_or_else(|| panic!("demand alarm not cleared:\n{}", gateway.log()));
    assert_eq!(cleared["acked_by"], "shift lead");
    assert!(
        cleared["cleared_evidence"]["projected_kw"]
            .as_f64()
            .unwrap()
            < 95.0
    );
    assert!(retained(port, "demand", "cleared").is_some());
    let metrics = get_text(&format!("{base}/metrics?token={TOKEN}")).unwrap();
    assert!(
        metrics.contains(
            "kilowatch_gateway_alarms_raised_total{rule=\"demand\",severity=\"critical\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics
        .contains("kilowatch_gateway_alarms_active{rule=\"demand\",severity=\"critical\"} 0"));

    // The meter goes silent: after 3 poll intervals of 1 s, a data alarm.
    rig.stop_meter();
    let silent = wait_for(Duration::from_secs(20), || {
        rig.alarm("active", "device_silent.incomer")
    })
    .unwrap_or_else(|| panic!("no silence alarm:\n{}", rig.gateway.log()));
    assert_eq!(silent["rule"], "device_silent");
    assert_eq!(silent["subject"], "incomer");
    assert_eq!(silent["link"], "/dashboard/#/health");
    assert!(silent["evidence"]["value"].as_f64().unwrap() >= 3.0);
    assert!(retained(port, "device_silent.incomer", "raised").is_some());
}
