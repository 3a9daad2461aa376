//! Sparkplug B output, end to end on real mosquitto, decoded by an independent implementation
//! (Eclipse Tahu's `sparkplug-payload` for Node.js, tests/sparkplug/decode.js): births wait
//! for the primary host, DDATA values equal the JSON topic's, seq runs on without a gap,
//! NCMD rebirth is honoured, malformed and other commands are counted and never acted on,
//! a device that stops answering gets a DDEATH and, answering again, a DBIRTH before its DDATA,
//! and a clean stop sends DDEATH and NDEATH with the birth's bdSeq; births, data and device
//! deaths go at QoS 0, the NDEATH at QoS 1 (Sparkplug 3.0).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use kilowatch_agent::sparkplug::proto;
use kilowatch_e2e::{
    bin, free_port, publish_all, scratch, start_sim, wait_for, Mosquitto, Proc, Received,
    Subscriber,
};
use prost::Message as _;
use serde_json::Value;

fn decoder() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sparkplug");
    assert!(
        dir.join("node_modules/sparkplug-payload").is_dir(),
        "the Sparkplug decoder is missing: run `npm ci --prefix tests/sparkplug` (tests/run-all.sh does)"
    );
    dir.join("decode.js")
}

/// Decodes payloads with sparkplug-payload.
fn decode(payloads: &[&[u8]]) -> Vec<Value> {
    use std::io::Write as _;
    let b64: Vec<String> = payloads.iter().map(|p| base64(p)).collect();
    let mut child = Command::new("node")
        .arg(decoder())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&b64).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn spb(messages: &[Received]) -> Vec<(String, Value)> {
    let sp: Vec<&Received> = messages
        .iter()
        // What the edge node sent, not the commands this test sent it.
        .filter(|m| m.topic.starts_with("spBv1.0/plant/") && !m.topic.contains("CMD/"))
        .collect();
    let decoded = decode(&sp.iter().map(|m| m.payload.as_slice()).collect::<Vec<_>>());
    sp.iter().map(|m| m.topic.clone()).zip(decoded).collect()
}

fn kind(topic: &str) -> &str {
    topic.split('/').nth(2).unwrap_or("")
}

fn rebirth(value: bool) -> Vec<u8> {
    proto::Payload {
        timestamp: Some(1),
        metrics: vec![proto::Metric {
            name: Some("Node Control/Rebirth".into()),
            datatype: Some(proto::datatype::BOOLEAN),
            value: Some(proto::Value::Boolean(value)),
            ..Default::default()
        }],
        ..Default::default()
    }
    .encode_to_vec()
}

#[test]
fn births_data_rebirth_and_deaths_decode_independently() {
    decoder();
    let dir = scratch("sparkplug");
    let mqtt = Mosquitto::start(&dir);
    let m1 = free_port();
    let site = format!(
        "[site]\nid = \"e2e\"\n[mqtt]\nbroker = \"127.0.0.1:{}\"\n[agent]\nmetrics = \"off\"\n\
         health_interval = \"1s\"\n[agent.sparkplug]\nenabled = true\ngroup_id = \"plant\"\n\
         edge_node_id = \"edge1\"\nhost_id = \"scada\"\n[[devices]]\nid = \"feeder-a\"\n\
         profile = \"eastron-sdm630\"\ntcp = \"127.0.0.1:{m1}\"\nunit = 1\ninterval = \"500ms\"\n\
         [devices.simulate]\nbase_kw = 80.0\npeak_kw = 120.0\nseed = 3\nstep = \"1s\"\n",
        mqtt.port
    );
    let config = dir.join("site.toml");
    std::fs::write(&config, site).unwrap();
    let config = config.to_str().unwrap();
    let mut sim = start_sim(&dir, config, &[m1]);
    let watch = Subscriber::start(mqtt.port, "spb-watch", "#");
    let mut agent = Proc::spawn(
        "agent",
        &bin("kilowatch-agent"),
        &["run", "--config", config],
        &dir,
    );

    // JSON flows, but no birth before the primary host is online.
    let json = |w: &Subscriber| {
        w.snapshot()
            .into_iter()
            .filter(|m| m.topic == "kilowatch/v1/e2e/feeder-a/data")
            .count()
    };
    assert!(wait_for(Duration::from_secs(20), || (json(&watch) >= 3)
        .then_some(()))
    .is_some());
    assert!(!watch.snapshot().iter().any(|m| m.topic.contains("NBIRTH")));
    let state = (
        "spBv1.0/STATE/scada".to_string(),
        br#"{"online":true,"timestamp":1}"#.to_vec(),
    );
    let born = wait_for(Duration::from_secs(20), || {
        publish_all(mqtt.port, "scada", std::slice::from_ref(&state));
        let s = watch.snapshot();
        (s.iter().filter(|m| m.topic.contains("/DDATA/")).count() >= 6).then_some(())
    });
    assert!(born.is_some(), "no births or data:\n{}", agent.log());

    // Rebirth on request; a malformed NCMD, an NCMD without rebirth and a DCMD are counted.
    let cmds = [
        (
            "spBv1.0/plant/NCMD/edge1".to_string(),
            vec![0xff, 0x01, 0x02],
        ),
        ("spBv1.0/plant/NCMD/edge1".to_string(), rebirth(false)),
        (
            "spBv1.0/plant/DCMD/edge1/feeder-a".to_string(),
            rebirth(true),
        ),
        ("spBv1.0/plant/NCMD/edge1".to_string(), rebirth(true)),
    ];
    publish_all(mqtt.port, "scada", &cmds);
    let counted = wait_for(Duration::from_secs(20), || {
        let s = watch.snapshot();
        let health = s.iter().rev().find(|m| m.topic.ends_with("/health"))?;
        let h: Value = serde_json::from_slice(&health.payload).ok()?;
        let sp = &h["sparkplug"];
        (sp["commands_malformed"] == 1 && sp["commands_ignored"] == 2 && sp["rebirths"] == 1)
            .then(|| sp.clone())
    });
    assert!(counted.is_some(), "command counters:\n{}", agent.log());
    assert!(wait_for(Duration::from_secs(20), || {
        let s = watch.snapshot();
        let births = s.iter().filter(|m| m.topic.contains("NBIRTH")).count();
        let after = s.iter().rposition(|m| m.topic.contains("NBIRTH"))?;
        (births == 2
            && s[after..]
                .iter()
                .filter(|m| m.topic.contains("DDATA"))
                .count()
                >= 3)
            .then_some(())
    })
    .is_some());
    // The meter stops answering: DDEATH; it answers again: DBIRTH, then DDATA.
    sim.kill9();
    let death = wait_for(Duration::from_secs(20), || {
        watch
            .snapshot()
            .iter()
            .position(|m| m.topic == "spBv1.0/plant/DDEATH/edge1/feeder-a")
    });
    assert!(
        death.is_some(),
        "no DDEATH of a silent device:\n{}",
        agent.log()
    );
    // Kept until the end: the agent polls it until its clean stop.
    let _sim = start_sim(&dir, config, &[m1]);
    let reborn = wait_for(Duration::from_secs(60), || {
        let s = watch.snapshot();
        let after = &s[death?..];
        let birth = after
            .iter()
            .position(|m| m.topic == "spBv1.0/plant/DBIRTH/edge1/feeder-a")?;
        after[birth..]
            .iter()
            .any(|m| m.topic == "spBv1.0/plant/DDATA/edge1/feeder-a")
            .then_some(())
    });
    assert!(
        reborn.is_some(),
        "no DBIRTH once the device answers:\n{}",
        agent.log()
    );

    assert!(agent.interrupt(Duration::from_secs(10)).is_some());
    assert!(wait_for(Duration::from_secs(10), || {
        watch
            .snapshot()
            .iter()
            .any(|m| m.topic == "spBv1.0/plant/NDEATH/edge1")
            .then_some(())
    })
    .is_some());

    let all = watch.snapshot();
    // Sparkplug 3.0: births, data and device deaths at QoS 0; the NDEATH at QoS 1 (as the
    // will it stands in for). The subscription is QoS 1, so each arrives at the QoS it was sent.
    for m in all.iter().filter(|m| m.topic.starts_with("spBv1.0/plant/")) {
        let want = if kind(&m.topic) == "NDEATH" { 1 } else { 0 };
        if matches!(
            kind(&m.topic),
            "NBIRTH" | "DBIRTH" | "DDATA" | "DDEATH" | "NDEATH"
        ) {
            assert_eq!(m.qos, want, "{}", m.topic);
        }
    }
    let decoded = spb(&all);
    assert!(
        decoded.iter().all(|(_, p)| p.get("error").is_none()),
        "{decoded:?}"
    );
    // seq: 0 at each NBIRTH, then +1 per message (births, data, deaths) modulo 256.
    let mut expect: Option<u64> = None;
    let mut bd_seq = None;
    let mut names: BTreeMap<u64, String> = BTreeMap::new();
    let mut checked = 0;
    let polls: Vec<Value> = all
        .iter()
        .filter(|m| m.topic == "kilowatch/v1/e2e/feeder-a/data")
        .map(|m| serde_json::from_slice(&m.payload).unwrap())
        .collect();
    for (topic, p) in &decoded {
        let metric = |name: &str| {
            p["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["name"] == name)
                .cloned()
        };
        match kind(topic) {
            "NBIRTH" => {
                assert_eq!(p["seq"], 0);
                let bd = metric("bdSeq").expect("bdSeq")["value"].clone();
                assert!(bd_seq.is_none_or(|b| b == bd), "same bdSeq on rebirth");
                bd_seq = Some(bd);
                assert_eq!(
                    metric("Node Control/Rebirth").expect("rebirth")["value"],
                    false
                );
                expect = Some(1);
                continue;
            }
            "NDEATH" => {
                let order: Vec<&str> = decoded.iter().map(|(t, _)| t.as_str()).collect();
                assert_eq!(
                    metric("bdSeq").unwrap()["value"],
                    bd_seq.clone().unwrap_or_default(),
                    "{order:?}"
                );
                continue;
            }
            _ => {}
        }
        let seq = p["seq"].as_u64().unwrap();
        assert_eq!(Some(seq), expect, "{topic}");
        expect = Some((seq + 1) % 256);
        match kind(topic) {
            "DBIRTH" => {
                for m in p["metrics"].as_array().unwrap() {
                    names.insert(
                        m["alias"].as_u64().unwrap(),
                        m["name"].as_str().unwrap().into(),
                    );
                    assert_eq!(m["type"], "Double");
                }
                assert!(names.values().any(|n| n == "active_power"));
            }
            "DDATA" => {
                // Same values as the JSON poll of the same time.
                let ts = p["metrics"][0]["timestamp"].as_i64().unwrap();
                let poll = polls
                    .iter()
                    .find(|j| {
                        chrono::DateTime::parse_from_rfc3339(j["ts"].as_str().unwrap())
                            .unwrap()
                            .timestamp_millis()
                            == ts
                    })
                    .expect("a JSON poll of the same time");
                for m in p["metrics"].as_array().unwrap() {
                    assert!(m["name"].is_null(), "DDATA goes by alias");
                    let name = &names[&m["alias"].as_u64().unwrap()];
                    let json = poll["readings"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|r| &r["quantity"] == name)
                        .unwrap();
                    assert_eq!(m["value"].as_f64(), json["value"].as_f64(), "{name}");
                    checked += 1;
                }
            }
            "DDEATH" => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert!(checked >= 30, "{checked} values compared");
    assert!(decoded.iter().any(|(t, _)| kind(t) == "DDEATH"));
}
