//! The production broker configuration shipped in `gateway/deploy/` runs on a real mosquitto:
//! a site's agent and gateway (user name = site id) deliver through it, and another site's user
//! on the same broker can neither inject readings into this site nor read them.

use std::path::Path;
use std::time::Duration;

use kilowatch_e2e::{
    free_port, get_json, require, scratch, start_gateway_then_agent, start_sim, wait_for,
    wait_for_port, Proc,
};

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../gateway/deploy");

/// The shipped mosquitto.conf with only what a test cannot use replaced: the listeners (a free
/// loopback port, no TLS certificates here), the file locations and syslog.
fn test_conf(dir: &Path, port: u16) -> String {
    let shipped = std::fs::read_to_string(format!("{DEPLOY}/mosquitto.conf")).unwrap();
    let mut out = format!(
        "user {}\n",
        std::env::var("USER").unwrap_or_else(|_| "root".into())
    );
    for line in shipped.lines() {
        let key = line.split_whitespace().next().unwrap_or("");
        let line = match key {
            "listener" if line.contains("127.0.0.1") => format!("listener {port} 127.0.0.1"),
            "listener" | "certfile" | "keyfile" | "cafile" => continue,
            "password_file" => format!("password_file {}/passwd", dir.display()),
            "acl_file" => format!("acl_file {DEPLOY}/kilowatch.acl"),
            "persistence_location" => format!("persistence_location {}/", dir.display()),
            "log_dest" => "log_dest stdout".into(),
            _ => line.to_owned(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Publishes one QoS 1 message as `user` and waits for the broker's acknowledgement (mosquitto
/// acknowledges a publish its ACL refuses, and drops it).
fn publish_as(port: u16, user: &str, password: &str, topic: &str, payload: Vec<u8>) {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new(format!("intruder-{user}"), "127.0.0.1", port);
    opts.set_credentials(user, password);
    let (client, mut connection) = Client::new(opts, 10);
    client
        .publish(topic, QoS::AtLeastOnce, false, payload)
        .unwrap();
    for event in connection.iter() {
        match event {
            Ok(Event::Incoming(Packet::PubAck(_))) => break,
            Ok(_) => {}
            Err(e) => panic!("publish as {user}: {e}"),
        }
    }
    let _ = client.disconnect();
}

#[test]
fn the_shipped_broker_config_delivers_a_site_and_keeps_other_sites_out() {
    let dir = scratch("broker-conf");
    let port = free_port();
    let passwd = require("mosquitto_passwd", "apt-get install mosquitto");
    for (i, (user, pass)) in [("plant-a", "secret-a"), ("plant-b", "secret-b")]
        .iter()
        .enumerate()
    {
        let mut cmd = std::process::Command::new(&passwd);
        if i == 0 {
            cmd.arg("-c");
        }
        let status = cmd
            .args(["-b", dir.join("passwd").to_str().unwrap(), user, pass])
            .status()
            .unwrap();
        assert!(status.success(), "mosquitto_passwd");
    }
    let conf = dir.join("mosquitto.conf");
    std::fs::write(&conf, test_conf(&dir, port)).unwrap();
    let broker = Proc::spawn(
        "mosquitto",
        &require("mosquitto", "apt-get install mosquitto"),
        &["-c", conf.to_str().unwrap()],
        &dir,
    );
    assert!(
        wait_for_port(port, Duration::from_secs(10)),
        "mosquitto did not start with the shipped configuration:\n{}",
        broker.log()
    );

    std::fs::write(dir.join("mqtt-password"), "secret-a\n").unwrap();
    let (sim_port, http) = (free_port(), free_port());
    let site = dir.join("site.toml");
    std::fs::write(
        &site,
        format!(
            "[site]\nid = \"plant-a\"\n[mqtt]\nbroker = \"127.0.0.1:{port}\"\nusername = \"plant-a\"\n\
             password_file = \"{pw}\"\n[agent]\nmetrics = \"off\"\nspool_dir = \"{spool}\"\n\
             [gateway]\nhttp = \"127.0.0.1:{http}\"\ndatabase = \"{db}\"\n\
             [[devices]]\nid = \"m1\"\nprofile = \"eastron-sdm630\"\ntcp = \"127.0.0.1:{sim_port}\"\n\
             interval = \"200ms\"\n[devices.simulate]\nseed = 1\n",
            pw = dir.join("mqtt-password").display(),
            spool = dir.join("spool").display(),
            db = dir.join("kw.db").display(),
        ),
    )
    .unwrap();
    let _sim = start_sim(&dir, site.to_str().unwrap(), &[sim_port]);
    let (gateway, _agent) = start_gateway_then_agent(&dir, site.to_str().unwrap(), http);
    let health = format!("http://127.0.0.1:{http}/api/v1/health");
    let delivered = wait_for(Duration::from_secs(20), || {
        let h = get_json(&health).ok()?;
        (h["ingest"]["stored_samples"].as_u64()? > 0).then_some(h)
    });
    assert!(
        delivered.is_some(),
        "nothing delivered through the shipped config:\n{}",
        gateway.log()
    );

    // Site B's user writes a reading into site A's topic: the ACL drops it.
    let ts = chrono::Utc::now().to_rfc3339();
    publish_as(
        port,
        "plant-b",
        "secret-b",
        "kilowatch/v1/plant-a/m1/data",
        format!(r#"{{"version":1,"site":"plant-a","device":"m1","seq":999999,"ts":"{ts}","readings":[{{"quantity":"active_power","value":12345,"unit":"kW","quality":"good"}}]}}"#).into_bytes(),
    );
    // Site A's own user may: the same kind of message (a device outside the site file) reaches
    // the gateway and is dead-lettered there, which shows that B's arrived nowhere.
    publish_as(
        port,
        "plant-a",
        "secret-a",
        "kilowatch/v1/plant-a/marker/data",
        format!(r#"{{"version":1,"site":"plant-a","device":"marker","seq":1,"ts":"{ts}","readings":[]}}"#).into_bytes(),
    );
    let rejected = wait_for(Duration::from_secs(10), || {
        let h = get_json(&health).ok()?;
        (h["ingest"]["rejected"].as_u64()? >= 1).then_some(h)
    })
    .expect("site A's own marker was not received");
    assert_eq!(rejected["ingest"]["rejected"], 1, "{rejected}");
    let conn = rusqlite::Connection::open(dir.join("kw.db")).unwrap();
    let injected: i64 = conn
        .query_row(
            "SELECT count(*) FROM samples WHERE value = 12345",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(injected, 0, "site B injected a reading into site A");
}
