//! Loss detected end to end, and repaired: mosquitto with its default settings queues at most
//! 1000 messages for a client that is away and drops the rest silently. With 34 meters polled
//! every second and the gateway down 60 s, about 1000 of 2040 polls never reach it from the
//! broker; the gateway sees the holes in each device's `seq`, asks the agent to publish them
//! again, and the agent answers from the acknowledged polls its spool keeps. 0 lost.

use std::time::Duration;

use kilowatch_e2e::{
    bin, free_port, get_json, require, scratch, start_gateway, start_sim, wait_for, wait_for_port,
    Proc,
};

const DEVICES: usize = 34;

#[test]
fn a_default_mosquitto_drops_polls_while_the_gateway_is_away_and_replay_puts_every_one_back() {
    let dir = scratch("repair");
    let mq_port = free_port();
    let conf = dir.join("mosquitto.conf");
    // mosquitto's defaults (max_queued_messages 1000, max_inflight_messages 20), persistent.
    std::fs::write(
        &conf,
        format!(
            "user {}\nlistener {mq_port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
             persistence_location {}/\nlog_dest stdout\n",
            std::env::var("USER").unwrap_or_else(|_| "root".into()),
            dir.display()
        ),
    )
    .unwrap();
    let _broker = Proc::spawn(
        "mosquitto",
        &require("mosquitto", "apt-get install mosquitto"),
        &["-c", conf.to_str().unwrap()],
        &dir,
    );
    assert!(wait_for_port(mq_port, Duration::from_secs(10)));

    let http = free_port();
    let ports: Vec<u16> = (0..DEVICES).map(|_| free_port()).collect();
    let spool = dir.join("spool");
    let db = dir.join("kw.db");
    let mut site = format!(
        "[site]\nid = \"repair\"\ntimezone = \"Asia/Taipei\"\n[mqtt]\nbroker = \"127.0.0.1:{mq_port}\"\n\
         [agent]\nmetrics = \"off\"\nspool_dir = \"{}\"\n[gateway]\nhttp = \"127.0.0.1:{http}\"\n\
         database = \"{}\"\n",
        spool.display(),
        db.display()
    );
    for (i, port) in ports.iter().enumerate() {
        site.push_str(&format!(
            "[[devices]]\nid = \"m{i:02}\"\nprofile = \"eastron-sdm630\"\ntcp = \"127.0.0.1:{port}\"\n\
             interval = \"1s\"\n[devices.simulate]\nseed = {i}\n"
        ));
    }
    let config = dir.join("site.toml");
    std::fs::write(&config, site).unwrap();
    let config = config.to_str().unwrap();
    let _sim = start_sim(&dir, config, &ports);
    let mut gw = start_gateway("gateway", &dir, config, http);
    let mut agent = Proc::spawn(
        "agent",
        &bin("kilowatch-agent"),
        &["run", "--config", config],
        &dir,
    );
    let health_url = format!("http://127.0.0.1:{http}/api/v1/health");
    let health = || get_json(&health_url).unwrap_or_default();
    assert!(
        wait_for(Duration::from_secs(30), || {
            (health()["sequences"].as_array()?.len() == DEVICES).then_some(())
        })
        .is_some(),
        "not every device delivered:\n{}",
        agent.log()
    );

    // The fault itself is a duration: the gateway is away for 60 s, as in the field report.
    gw.kill9();
    std::thread::sleep(Duration::from_secs(60));
    let gw = start_gateway("gateway-2", &dir, config, http);

    // The broker dropped polls (the holes are seen) and every hole is closed by replay.
    let repaired = wait_for(Duration::from_secs(120), || {
        let h = health();
        let s = &h["ingest"]["sequence"];
        (s["missing_detected"].as_u64()? > 0 && s["missing"].as_u64()? == 0).then_some(h)
    });
    let h = health();
    assert!(
        repaired.is_some(),
        "holes not repaired: {}\n{}",
        h["ingest"]["sequence"],
        gw.log()
    );
    let s = &h["ingest"]["sequence"];
    assert!(
        s["missing_detected"].as_u64().unwrap() >= 500,
        "the default broker should have dropped hundreds of polls: {s}"
    );
    assert_eq!(s["lost"], 0, "{s}");
    assert!(s["replay_requests"].as_u64().unwrap() > 0, "{s}");

    // Every poll the agent numbered is stored, once.
    assert!(
        agent.interrupt(Duration::from_secs(20)).is_some(),
        "agent did not stop"
    );
    let mut last = (0, std::time::Instant::now());
    wait_for(Duration::from_secs(30), || {
        let n = health()["ingest"]["messages"].as_u64()?;
        if n != last.0 {
            last = (n, std::time::Instant::now());
        }
        (last.1.elapsed() > Duration::from_secs(2)).then_some(())
    })
    .expect("the gateway did not settle");
    let spool = kilowatch_agent::spool::Spool::open(kilowatch_agent::spool::SpoolConfig {
        dir: spool,
        budget: u64::MAX,
        fsync: false,
        retention: Duration::from_secs(86_400),
    })
    .unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut made = 0;
    for i in 0..DEVICES {
        let device = format!("m{i:02}");
        let seqs = spool.last_seq(&device);
        let stored: u64 = conn
            .query_row(
                "SELECT count(*) FROM samples x JOIN series s ON s.id = x.series_id
                 WHERE s.quantity = 'active_power' AND s.device = ?1",
                [&device],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            stored, seqs,
            "{device}: polls numbered {seqs}, stored {stored}"
        );
        made += seqs;
    }
    eprintln!("repair: {made} polls made and stored; {s}");
}
