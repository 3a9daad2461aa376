//! Alarms end to end: the real gateway on a real mosquitto, readings published as an agent
//! would. The demand alarm is raised while its 15-minute window is still open, served by the
//! API and retained on MQTT, acknowledged through the API (with the access token), cleared
//! when the load drops; a meter that stops publishing raises a data alarm.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kilowatch_e2e::{
    alarm_rig, bin, free_port, get_json, get_text, scratch, wait_for, wait_health_subscribed,
    Mosquitto, Proc, Subscriber,
};

const TOKEN: &str = "al4rm-t0ken";

fn alarm(base: &str, state: &str, id: &str) -> Option<serde_json::Value> {
    alarm_rig::alarm(base, TOKEN, state, id)
}

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
    let dir = scratch("alarms");
    let mq = Mosquitto::start(&dir);
    let http = free_port();
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let config = dir.join("site.toml");
    std::fs::write(
        &config,
        format!(
            "[site]\nid = \"e2e-alarms\"\ntimezone = \"Asia/Taipei\"\ncontract_kw = 100.0\n\n\
             [mqtt]\nbroker = \"127.0.0.1:{}\"\n\n\
             [gateway]\nhttp = \"127.0.0.1:{http}\"\ndatabase = \"{}\"\naccess_token_file = \"{}\"\n\n\
             [[devices]]\nid = \"incomer\"\nprofile = \"eastron-sdm630\"\ntcp = \"127.0.0.1:1\"\ninterval = \"1s\"\n\n\
             [[assets]]\nid = \"plant\"\ntype = \"plant\"\npower = [\"incomer\"]\n\n\
             [[alarms]]\nid = \"demand\"\nwarn_at = 0.95\nseverity = \"critical\"\n",
            mq.port,
            dir.join("kw.db").display(),
            token_file.display()
        ),
    )
    .unwrap();
    let gateway = Proc::spawn(
        "gateway",
        &bin("kilowatch-gateway"),
        &["run", "--config", config.to_str().unwrap()],
        &dir,
    );
    let base = format!("http://127.0.0.1:{http}");
    assert!(
        wait_health_subscribed(
            &format!("{base}/api/v1/health?token={TOKEN}"),
            Duration::from_secs(20)
        ),
        "{}",
        gateway.log()
    );
    // The API's token guards the alarms like every other route.
    let (status, _) = post(&format!("{base}/api/v1/alarms/demand/ack"), r#"{"by":"x"}"#);
    assert_eq!(status, 401);

    // 0 kW first, so the window's energy starts from nothing known to be drawn.
    let kw = Arc::new(AtomicU64::new(0f64.to_bits()));
    let stop = Arc::new(AtomicBool::new(false));
    let meter = alarm_rig::incomer_publisher(mq.port, "e2e-alarms", kw.clone(), stop.clone());
    assert!(
        wait_for(Duration::from_secs(20), || {
            let h = get_json(&format!("{base}/api/v1/health?token={TOKEN}")).ok()?;
            (h["ingest"]["stored_samples"].as_u64()? > 0).then_some(())
        })
        .is_some(),
        "no readings stored:\n{}",
        gateway.log()
    );
    assert!(alarm(&base, "active", "demand").is_none());

    // 2 MW against a 100 kW contract: the projection passes 95 kW at once with 43 s or more
    // left in the window, and a few seconds of it are far below 95 kW averaged over the
    // quarter-hour (each second adds 2.2 kW), so it clears when the load drops. Not in the
    // last minute of a window (Asia/Taipei's quarter-hours are UTC's).
    let left = || 900 - chrono::Utc::now().timestamp().rem_euclid(900);
    if left() < 60 {
        wait_for(Duration::from_secs(70), || (left() > 600).then_some(()))
            .expect("the next window");
    }
    kw.store(2000f64.to_bits(), Ordering::Relaxed);
    let raised = wait_for(Duration::from_secs(20), || alarm(&base, "active", "demand"))
        .unwrap_or_else(|| panic!("no demand alarm:\n{}", gateway.log()));
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
    let on_mqtt = retained(mq.port, "demand", "raised").expect("retained raised state");
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
    assert!(retained(mq.port, "demand", "acknowledged").is_some());

    // The load drops: a few seconds at 2 MW are little energy in a quarter-hour.
    kw.store(0f64.to_bits(), Ordering::Relaxed);
    let cleared = wait_for(Duration::from_secs(30), || {
        alarm(&base, "cleared", "demand")
    })
    .unwrap_or_else(|| panic!("demand alarm not cleared:\n{}", gateway.log()));
    assert_eq!(cleared["acked_by"], "shift lead");
    assert!(
        cleared["cleared_evidence"]["projected_kw"]
            .as_f64()
            .unwrap()
            < 95.0
    );
    assert!(retained(mq.port, "demand", "cleared").is_some());
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
    stop.store(true, Ordering::Relaxed);
    meter.join().unwrap();
    let silent = wait_for(Duration::from_secs(20), || {
        alarm(&base, "active", "device_silent.incomer")
    })
    .unwrap_or_else(|| panic!("no silence alarm:\n{}", gateway.log()));
    assert_eq!(silent["rule"], "device_silent");
    assert_eq!(silent["subject"], "incomer");
    assert_eq!(silent["link"], "/dashboard/#/health");
    assert!(silent["evidence"]["value"].as_f64().unwrap() >= 3.0);
    assert!(retained(mq.port, "device_silent.incomer", "raised").is_some());
}
