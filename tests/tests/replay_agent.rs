//! Loss repair, agent side, with a real mosquitto and the real agent binary: a replay request
//! on `kilowatch/v1/<site>/<device>/replay` makes the agent publish the range's spooled readings
//! again (the bytes first published) and a report on `.../replayed`; acknowledged readings stay
//! replayable across a restart; requests that are not its own or malformed are counted.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use kilowatch_e2e::{
    bin, free_port, get_text, publish_all, scratch, start_sim, wait_for, Mosquitto, Proc, Received,
    Subscriber,
};
use kilowatch_site::payload::{ReplayReport, ReplayRequest};

fn metric(port: u16, name: &str) -> Option<f64> {
    let text = get_text(&format!("http://127.0.0.1:{port}/metrics")).ok()?;
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn start_agent(dir: &Path, config: &str, metrics: u16, name: &str) -> Proc {
    let agent = Proc::spawn(
        name,
        &bin("kilowatch-agent"),
        &["run", "--config", config],
        dir,
    );
    // Requests published before the broker confirmed the subscription would not be queued.
    assert!(
        wait_for(Duration::from_secs(20), || {
            (metric(metrics, "kilowatch_agent_replay_subscribed")? == 1.0).then_some(())
        })
        .is_some(),
        "the agent did not subscribe to replay requests:\n{}",
        agent.log()
    );
    agent
}

/// Data messages of `device` by seq: every payload received for it, duplicates included.
fn data(messages: &[Received], device: &str) -> BTreeMap<u64, Vec<Vec<u8>>> {
    let mut out: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
    for m in messages.iter().filter(|m| m.topic.ends_with("/data")) {
        let v: serde_json::Value = serde_json::from_slice(&m.payload).expect("JSON");
        if v["device"] == device {
            out.entry(v["seq"].as_u64().expect("seq"))
                .or_default()
                .push(m.payload.clone());
        }
    }
    out
}

fn reports(messages: &[Received]) -> Vec<ReplayReport> {
    messages
        .iter()
        .filter(|m| m.topic == "kilowatch/v1/rp/m00/replayed")
        .map(|m| ReplayReport::parse(&m.payload).expect("a valid report"))
        .collect()
}

#[test]
fn replay_request_republishes_spooled_readings_and_reports_the_rest() {
    let dir = scratch("replay-agent");
    let mq = Mosquitto::start(&dir);
    let (device, metrics) = (free_port(), free_port());
    let config = dir.join("site.toml");
    std::fs::write(
        &config,
        format!(
            "[site]\nid = \"rp\"\ntimezone = \"UTC\"\n\n[mqtt]\nbroker = \"127.0.0.1:{}\"\n\n\
             [agent]\nmetrics = \"127.0.0.1:{metrics}\"\n\n\
             [[devices]]\nid = \"m00\"\nprofile = \"eastron-sdm630\"\ntcp = \"127.0.0.1:{device}\"\n\
             interval = \"250ms\"\ntimeout = \"1s\"\n[devices.simulate]\nseed = 1\nstep = \"1s\"\n",
            mq.port
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let _sim = start_sim(&dir, config, &[device]);
    let sub = Subscriber::start(mq.port, "replay-test-sub", "kilowatch/v1/rp/#");
    let mut agent = start_agent(&dir, config, metrics, "agent");

    // Some readings, all acknowledged by the broker (published counts PUBACKs).
    assert!(
        wait_for(Duration::from_secs(20), || {
            (metric(metrics, "kilowatch_agent_published_total")? >= 12.0
                && metric(metrics, "kilowatch_agent_spooled_readings")? == 0.0)
                .then_some(())
        })
        .is_some(),
        "readings did not flow:\n{}",
        agent.log()
    );
    let before = data(&sub.snapshot(), "m00");
    let last_seen = *before.keys().last().expect("readings");
    assert!(last_seen >= 10);

    let ask = |req: ReplayRequest, id: &str| {
        publish_all(
            mq.port,
            id,
            &[(
                format!("kilowatch/v1/rp/{}/replay", req.device),
                req.to_json(),
            )],
        );
    };
    // Not ours, and malformed: counted, no report, the agent carries on.
    ask(ReplayRequest::new("elsewhere", 1, 2), "replay-test-pub-1");
    publish_all(
        mq.port,
        "replay-test-pub-2",
        &[(
            "kilowatch/v1/rp/m00/replay".into(),
            b"{\"from\":1}".to_vec(),
        )],
    );
    let wide_to = last_seen + 1_000;
    ask(ReplayRequest::new("m00", 3, wide_to), "replay-test-pub-3");

    let report = wait_for(Duration::from_secs(20), || {
        reports(&sub.snapshot()).into_iter().next()
    })
    .unwrap_or_else(|| panic!("no replay report:\n{}", agent.log()));
    // Everything from 3 up to the newest reading at the time was re-sent; beyond it, never
    // produced.
    assert_eq!(report.device, "m00");
    assert_eq!((report.from_seq, report.to_seq), (3, wide_to));
    let newest = report.resent + 2;
    assert!(newest >= last_seen, "{report:?}");
    assert_eq!(report.unavailable, [[newest + 1, wide_to]]);
    let after = data(&sub.snapshot(), "m00");
    for seq in 3..=newest {
        let copies = &after[&seq];
        assert_eq!(copies.len(), 2, "seq {seq}: original and replay");
        assert_eq!(copies[0], copies[1], "seq {seq}: replayed bytes differ");
    }
    assert_eq!(after[&1].len(), 1, "seq 1 was not asked for");
    assert_eq!(after[&2].len(), 1, "seq 2 was not asked for");
    let rejected = |reason: &str| {
        metric(
            metrics,
            &format!("kilowatch_agent_replay_requests_rejected_total{{reason=\"{reason}\"}}"),
        )
    };
    assert_eq!(rejected("not_ours"), Some(1.0));
    assert_eq!(rejected("malformed"), Some(1.0));
    assert_eq!(
        metric(metrics, "kilowatch_agent_replay_requests_total"),
        Some(1.0)
    );
    assert_eq!(
        metric(metrics, "kilowatch_agent_replay_resent_total"),
        Some(report.resent as f64)
    );
    assert_eq!(
        reports(&sub.snapshot()).len(),
        1,
        "one report per served request"
    );

    // Acknowledged readings survive a restart for replay.
    assert!(agent.interrupt(Duration::from_secs(10)).is_some());
    let agent = start_agent(&dir, config, metrics, "agent-2");
    ask(ReplayRequest::new("m00", 1, 2), "replay-test-pub-4");
    let second = wait_for(Duration::from_secs(20), || {
        reports(&sub.snapshot()).into_iter().nth(1)
    })
    .unwrap_or_else(|| panic!("no second report:\n{}", agent.log()));
    assert_eq!((second.from_seq, second.to_seq, second.resent), (1, 2, 2));
    assert!(second.unavailable.is_empty());
    let again = data(&sub.snapshot(), "m00");
    for seq in 1..=2 {
        assert_eq!(again[&seq].len(), 2, "seq {seq} replayed after the restart");
        assert_eq!(again[&seq][0], again[&seq][1]);
    }
    drop(mq);
}
