//! Home Assistant MQTT discovery, end to end: the agent announces every device quantity on
//! real mosquitto, the configs pass Home Assistant's published discovery and sensor rules
//! (checked below, with their source), their templates (rendered by real Jinja2, the engine
//! Home Assistant uses) yield the values of the JSON topic, and a device taken out of the site
//! file has its entities removed (empty retained configs).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kilowatch_e2e::{
    bin, free_port, python_with, scratch, start_sim, wait_for, Mosquitto, Proc, Received,
    Subscriber,
};
use serde_json::Value;

/// Home Assistant's sensor rules, from homeassistant/components/sensor/const.py
/// (`DEVICE_CLASS_UNITS`, `DEVICE_CLASS_STATE_CLASSES`, HA 2024.x-2025.x; documented at
/// https://developers.home-assistant.io/docs/core/entity/sensor/#available-device-classes),
/// for the classes the agent uses: (device class, units accepted, state classes accepted).
const SENSOR_RULES: &[(&str, &[&str], &[&str])] = &[
    (
        "energy",
        &["Wh", "kWh", "MWh", "GWh", "MJ", "GJ"],
        &["total", "total_increasing"],
    ),
    ("power", &["W", "kW", "MW"], &["measurement"]),
    ("voltage", &["V", "mV", "kV"], &["measurement"]),
    ("current", &["A", "mA"], &["measurement"]),
    ("power_factor", &["%", ""], &["measurement"]),
    ("frequency", &["Hz", "kHz"], &["measurement"]),
    ("temperature", &["°C", "°F", "K"], &["measurement"]),
    (
        "pressure",
        &["bar", "kPa", "Pa", "hPa", "mbar", "psi"],
        &["measurement"],
    ),
    ("volume_flow_rate", &["m³/h", "L/min"], &["measurement"]),
    ("gas", &["m³", "ft³", "CCF"], &["total", "total_increasing"]),
    ("water", &["m³", "L", "gal"], &["total", "total_increasing"]),
    (
        "volume",
        &["m³", "L", "mL", "gal"],
        &["measurement", "total", "total_increasing"],
    ),
    (
        "duration",
        &["h", "min", "s", "d"],
        &["measurement", "total", "total_increasing"],
    ),
    ("humidity", &["%"], &["measurement"]),
];

/// Discovery topic layout, homeassistant/components/mqtt/discovery.py `TOPIC_MATCHER`:
/// `<prefix>/<component>/[<node_id>/]<object_id>/config`, ids `[a-zA-Z0-9_-]+`.
fn topic_ok(topic: &str) -> bool {
    let id = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    let parts: Vec<&str> = topic.split('/').collect();
    parts.len() == 5
        && parts[0] == "homeassistant"
        && parts[1] == "sensor"
        && id(parts[2])
        && id(parts[3])
        && parts[4] == "config"
}

/// Checks one sensor config against the MQTT sensor schema (homeassistant/components/mqtt/
/// sensor.py `_PLATFORM_SCHEMA_BASE`, abbreviations.py) and the sensor rules above.
fn check_config(topic: &str, c: &Value) {
    assert!(topic_ok(topic), "discovery topic {topic}");
    for key in [
        "state_topic",
        "unique_id",
        "value_template",
        "availability_topic",
    ] {
        assert!(c[key].is_string(), "{topic}: {key} missing");
    }
    // A unique_id'd entity with a device needs identifiers or connections.
    assert!(c["device"]["identifiers"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    let state_class = c["state_class"].as_str().unwrap();
    assert!(["measurement", "total", "total_increasing"].contains(&state_class));
    if let Some(dc) = c.get("device_class").and_then(Value::as_str) {
        let (_, units, classes) = SENSOR_RULES
            .iter()
            .find(|(name, ..)| *name == dc)
            .unwrap_or_else(|| panic!("{topic}: device_class {dc} unknown"));
        let unit = c
            .get("unit_of_measurement")
            .and_then(Value::as_str)
            .unwrap_or("");
        assert!(units.contains(&unit), "{topic}: {dc} in `{unit}`");
        assert!(
            classes.contains(&state_class),
            "{topic}: {dc} with {state_class}"
        );
    }
}

fn site(mqtt: u16, ports: &[(&str, u16)]) -> String {
    let mut s = format!(
        "[site]\nid = \"e2e\"\n[mqtt]\nbroker = \"127.0.0.1:{mqtt}\"\n[agent]\nmetrics = \"off\"\n\
         health_interval = \"1h\"\n[agent.home_assistant]\nenabled = true\n"
    );
    for (i, (id, port)) in ports.iter().enumerate() {
        s += &format!(
            "[[devices]]\nid = \"{id}\"\nprofile = \"eastron-sdm630\"\ntcp = \"127.0.0.1:{port}\"\n\
             unit = 1\ninterval = \"500ms\"\n[devices.simulate]\nbase_kw = {}.0\npeak_kw = {}.0\n\
             seed = {i}\nstep = \"1h\"\n",
            50 + i * 10,
            50 + i * 10
        );
    }
    s
}

fn agent(dir: &Path, config: &str) -> Proc {
    Proc::spawn(
        "agent",
        &bin("kilowatch-agent"),
        &["run", "--config", config],
        dir,
    )
}

/// Renders `template` with Jinja2 for `payload` as `value_json`, as Home Assistant does.
fn render(python: &Path, template: &str, payload: &[u8]) -> String {
    let script = "import sys, json, jinja2\n\
        t = jinja2.Environment().from_string(sys.argv[1])\n\
        sys.stdout.write(t.render(value_json=json.loads(sys.argv[2])))";
    let out = Command::new(python)
        .args([
            "-c",
            script,
            template,
            std::str::from_utf8(payload).unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn configs(messages: &[Received]) -> BTreeMap<String, Vec<u8>> {
    messages
        .iter()
        .filter(|m| m.topic.starts_with("homeassistant/"))
        .map(|m| (m.topic.clone(), m.payload.clone()))
        .collect()
}

#[test]
fn announces_validates_and_removes_entities() {
    let python = python_with("jinja2", "jinja2==3.1.6");
    let dir = scratch("ha-discovery");
    let mqtt = Mosquitto::start(&dir);
    let (m1, m2) = (free_port(), free_port());
    let config = dir.join("site.toml");
    std::fs::write(
        &config,
        site(mqtt.port, &[("feeder-a", m1), ("feeder-b", m2)]),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let _sim = start_sim(&dir, config, &[m1, m2]);
    let watch = Subscriber::start(mqtt.port, "ha-watch", "#");
    let mut agent1 = agent(&dir, config);

    // Every quantity of both devices (the SDM630 profile has energy, power, voltage ...).
    let announced = wait_for(Duration::from_secs(20), || {
        let c = configs(&watch.snapshot());
        (c.len() >= 2 * 10
            && c.keys().any(|t| t.contains("/feeder-b-"))
            && watch
                .snapshot()
                .iter()
                .filter(|m| m.topic.ends_with("/data"))
                .count()
                >= 4)
            .then_some(c)
    })
    .unwrap_or_else(|| panic!("discovery configs:\n{}", agent1.log()));
    let data: Vec<Received> = watch
        .snapshot()
        .into_iter()
        .filter(|m| m.topic == "kilowatch/v1/e2e/feeder-a/data")
        .collect();
    let poll: Value = serde_json::from_slice(&data.last().unwrap().payload).unwrap();
    let mut classes = BTreeMap::new();
    for (topic, body) in &announced {
        let c: Value = serde_json::from_slice(body).unwrap();
        check_config(topic, &c);
        assert_eq!(
            c["availability_topic"],
            "kilowatch/v1/e2e/agent/kilowatch-agent-e2e/status"
        );
        let quantity = topic
            .rsplit_once('-')
            .unwrap()
            .1
            .trim_end_matches("/config");
        classes.insert(
            quantity.to_owned(),
            (c["device_class"].clone(), c["state_class"].clone()),
        );
        if c["state_topic"] != "kilowatch/v1/e2e/feeder-a/data" {
            continue;
        }
        // The template picks exactly this quantity's value out of the JSON poll.
        let want = poll["readings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["quantity"] == quantity)
            .unwrap_or_else(|| panic!("{quantity} not in {poll}"))["value"]
            .as_f64()
            .unwrap();
        let got: f64 = render(
            &python,
            c["value_template"].as_str().unwrap(),
            &data.last().unwrap().payload,
        )
        .parse()
        .unwrap();
        assert!((got - want).abs() < 1e-9, "{quantity}: {got} vs {want}");
    }
    // The Energy dashboard takes only energy sensors with a total state class.
    assert_eq!(
        classes["active_energy_import"],
        (Value::from("energy"), Value::from("total_increasing"))
    );
    assert_eq!(
        classes["active_power"],
        (Value::from("power"), Value::from("measurement"))
    );
    // A quantity missing from a poll (report by exception) renders nothing: HA keeps its state.
    let template = serde_json::from_slice::<Value>(
        &announced[&announced
            .keys()
            .find(|t| t.ends_with("feeder-a-active_power/config"))
            .unwrap()
            .clone()],
    )
    .unwrap()["value_template"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(render(&python, &template, br#"{"readings":[]}"#), "");
    assert_eq!(
        render(
            &python,
            &template,
            br#"{"readings":[{"quantity":"active_power","value":null}]}"#
        ),
        "None"
    );

    // The status topic is the availability: online now, offline once the agent stops.
    let status = "kilowatch/v1/e2e/agent/kilowatch-agent-e2e/status";
    let last_status = |w: &Subscriber| {
        w.snapshot()
            .iter()
            .rev()
            .find(|m| m.topic == status)
            .map(|m| m.payload.clone())
    };
    assert_eq!(last_status(&watch).as_deref(), Some(&b"online"[..]));
    assert!(agent1.interrupt(Duration::from_secs(10)).is_some());
    let offline = wait_for(Duration::from_secs(10), || {
        (last_status(&watch).as_deref() == Some(&b"offline"[..])).then_some(())
    });
    assert!(
        offline.is_some(),
        "no offline status after the agent stopped"
    );

    // feeder-b leaves the site file: its configs are emptied (retained), feeder-a's stay.
    std::fs::write(config, site(mqtt.port, &[("feeder-a", m1)])).unwrap();
    let before = watch.snapshot().len();
    let agent2 = agent(&dir, config);
    let b_topics: Vec<&String> = announced
        .keys()
        .filter(|t| t.contains("/feeder-b-"))
        .collect();
    let cleared = wait_for(Duration::from_secs(20), || {
        let after = &watch.snapshot()[before..];
        b_topics
            .iter()
            .all(|t| after.iter().any(|m| &&m.topic == t && m.payload.is_empty()))
            .then_some(())
    });
    assert!(
        cleared.is_some(),
        "feeder-b's configs not removed:\n{}",
        agent2.log()
    );
    // A newcomer (Home Assistant starting later) sees only feeder-a's retained configs.
    let fresh = Subscriber::start(mqtt.port, "ha-fresh", "homeassistant/#");
    let a_count = announced
        .keys()
        .filter(|t| t.contains("/feeder-a-"))
        .count();
    let seen = wait_for(Duration::from_secs(10), || {
        let c = configs(&fresh.snapshot());
        (c.len() >= a_count).then_some(c)
    })
    .expect("retained configs");
    assert!(
        seen.keys().all(|t| t.contains("/feeder-a-")),
        "{:?}",
        seen.keys()
    );
    assert!(seen.values().all(|b| !b.is_empty()));
    // The record of what is announced follows once the broker acknowledged it all.
    let record = dir.join("kilowatch-spool-e2e/ha-announced.json");
    let recorded = wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&record)
            .ok()
            .filter(|r| r.contains("/feeder-a-") && !r.contains("/feeder-b-"))
    });
    assert!(recorded.is_some(), "{}", record.display());
}
