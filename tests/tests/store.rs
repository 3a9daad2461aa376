//! The gateway's ingest and store end to end: shared subscriptions across two instances,
//! malformed payloads dead-lettered around good ones, and the query API with its access token.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use kilowatch_e2e::{
    bin, free_port, get_json, publish_all, scratch, start_sim, wait_for, wait_gateway_subscribed,
    wait_health_subscribed, Mosquitto, Proc, Subscriber,
};

fn site(broker: u16, ports: &[u16], extra_gateway: &str) -> String {
    let mut s = format!(
        "[site]\nid = \"e2e\"\ntimezone = \"Asia/Taipei\"\n\n[mqtt]\nbroker = \"127.0.0.1:{broker}\"\n\n\
         [agent]\nmetrics = \"off\"\n\n[gateway]\n{extra_gateway}\n"
    );
    for (i, port) in ports.iter().enumerate() {
        s.push_str(&format!(
            "\n[[devices]]\nid = \"m{i:02}\"\nprofile = \"eastron-sdm630\"\ntcp = \"127.0.0.1:{port}\"\n\
             asset = \"line-{i}\"\ninterval = \"200ms\"\n[devices.simulate]\nseed = {i}\nstep = \"1s\"\n"
        ));
    }
    s
}

/// (device, ts ms) of every stored active_power sample.
fn polls_in(db: &Path) -> BTreeSet<(String, i64)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("db");
    let mut stmt = conn
        .prepare(
            "SELECT s.device, x.ts FROM samples x JOIN series s ON s.id = x.series_id
             WHERE s.quantity = 'active_power'",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn published(sub: &Subscriber) -> BTreeSet<(String, i64)> {
    sub.snapshot()
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            let ts = chrono::DateTime::parse_from_rfc3339(v["ts"].as_str().unwrap())
                .unwrap()
                .timestamp_millis();
            (v["device"].as_str().unwrap().to_owned(), ts)
        })
        .collect()
}

#[test]
fn two_gateways_in_a_share_group_store_every_reading_exactly_once() {
    let dir = scratch("share");
    let mq = Mosquitto::start(&dir);
    let devices: Vec<u16> = (0..6).map(|_| free_port()).collect();
    let config = dir.join("site.toml");
    std::fs::write(&config, site(mq.port, &devices, "share_group = \"kw\"")).unwrap();
    let config = config.to_str().unwrap();
    let _sim = start_sim(&dir, config, &devices);
    let sub = Subscriber::start(mq.port, "e2e-share-audit", "kilowatch/v1/e2e/+/data");
    let mut gateways = Vec::new();
    for g in ["g1", "g2"] {
        let http = free_port();
        let db = dir.join(format!("{g}.db"));
        gateways.push((
            Proc::spawn(
                g,
                &bin("kilowatch-gateway"),
                &[
                    "run",
                    "--config",
                    config,
                    "--client-id",
                    &format!("kw-{g}"),
                    "--db",
                    db.to_str().unwrap(),
                    "--http",
                    &format!("127.0.0.1:{http}"),
                ],
                &dir,
            ),
            db,
            http,
        ));
    }
    for (_, _, http) in &gateways {
        assert!(wait_gateway_subscribed(*http, Duration::from_secs(15)));
    }
    let mut agent = Proc::spawn(
        "agent",
        &bin("kilowatch-agent"),
        &["run", "--config", config],
        &dir,
    );
    // Enough polls for both gateways to get a share (each device polls every 200 ms).
    let flowing = wait_for(Duration::from_secs(30), || {
        (published(&sub).len() >= 6 * 20).then_some(())
    });
    assert!(agent
        .interrupt(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
    let all = published(&sub);
    assert!(flowing.is_some(), "only {} polls published", all.len());
    let settled = wait_for(Duration::from_secs(20), || {
        let (a, b) = (polls_in(&gateways[0].1), polls_in(&gateways[1].1));
        (a.len() + b.len() >= all.len()).then_some((a, b))
    });
    let (a, b) = settled.expect("the two gateways did not store everything");
    assert!(
        !a.is_empty() && !b.is_empty(),
        "the load was not split: {} / {}",
        a.len(),
        b.len()
    );
    assert!(
        a.is_disjoint(&b),
        "{} polls stored by both",
        a.intersection(&b).count()
    );
    let union: BTreeSet<_> = a.union(&b).cloned().collect();
    assert_eq!(union, all, "stored set differs from what was published");
    eprintln!(
        "share group: {} + {} = {} polls",
        a.len(),
        b.len(),
        all.len()
    );
}

#[test]
fn malformed_payloads_are_dead_lettered_and_good_ones_around_them_stored() {
    let dir = scratch("deadletter");
    let mq = Mosquitto::start(&dir);
    let http = free_port();
    let db = dir.join("kw.db");
    let config = dir.join("site.toml");
    std::fs::write(
        &config,
        site(
            mq.port,
            &[],
            &format!(
                // The site file lists no devices: m1 is admitted as an unknown device.
                "http = \"127.0.0.1:{http}\"\ndatabase = \"{}\"\naccess_token_env = \"KW_TEST_TOKEN\"\n\
                 admit_unknown_devices = 1",
                db.display()
            ),
        ),
    )
    .unwrap();
    std::env::set_var("KW_TEST_TOKEN", "t0ken");
    let _gateway = Proc::spawn(
        "gateway",
        &bin("kilowatch-gateway"),
        &["run", "--config", config.to_str().unwrap()],
        &dir,
    );
    assert!(wait_health_subscribed(
        &format!("http://127.0.0.1:{http}/api/v1/health?token=t0ken"),
        Duration::from_secs(15)
    ));

    let now = chrono::Utc::now();
    let good = |device: &str, secs: i64, kw: f64| {
        let ts = (now - chrono::Duration::seconds(secs)).to_rfc3339();
        (
            format!("kilowatch/v1/e2e/{device}/data"),
            format!(
                r#"{{"version":1,"site":"e2e","device":"{device}","seq":1,"ts":"{ts}","readings":[{{"quantity":"active_power","value":{kw},"unit":"kW","quality":"good"}}]}}"#
            )
            .into_bytes(),
        )
    };
    let raw =
        |device: &str, body: String| (format!("kilowatch/v1/e2e/{device}/data"), body.into_bytes());
    let ts = now.to_rfc3339();
    let future = (now + chrono::Duration::hours(2)).to_rfc3339();
    let bad: Vec<((String, Vec<u8>), &str)> = vec![
        (raw("m1", "{not json".into()), "malformed"),
        (
            raw(
                "m1",
                format!(
                    r#"{{"version":9,"site":"e2e","device":"m1","seq":1,"ts":"{ts}","readings":[]}}"#
                ),
            ),
            "version",
        ),
        (
            raw(
                "m1",
                format!(
                    r#"{{"version":1,"site":"e2e","device":"m1","seq":1,"ts":"{ts}","readings":[{{"quantity":"flux_capacitance","value":1,"unit":"GW","quality":"good"}}]}}"#
                ),
            ),
            "flux_capacitance",
        ),
        (
            raw(
                "m1",
                format!(
                    r#"{{"version":1,"site":"e2e","device":"m1","seq":1,"ts":"{ts}","readings":[{{"quantity":"active_power","value":1e999,"unit":"kW","quality":"good"}}]}}"#
                ),
            ),
            "",
        ),
        (
            raw(
                "m1",
                format!(
                    r#"{{"version":1,"site":"e2e","device":"m1","seq":1,"ts":"{ts}","readings":[{{"quantity":"active_power","value":null,"unit":"kW","quality":"good"}}]}}"#
                ),
            ),
            "active_power",
        ),
        (
            raw(
                "m1",
                format!(
                    r#"{{"version":1,"site":"e2e","device":"m1","seq":1,"ts":"{future}","readings":[]}}"#
                ),
            ),
            "future",
        ),
        (
            raw(
                "m1",
                format!(
                    r#"{{"version":1,"site":"e2e","device":"m1","seq":1,"ts":"{ts}","readings":[{{"quantity":"active_power","value":5,"unit":"W","quality":"good"}}]}}"#
                ),
            ),
            "unit",
        ),
        (
            raw(
                "m2",
                format!(
                    r#"{{"version":1,"site":"e2e","device":"m1","seq":1,"ts":"{ts}","readings":[]}}"#
                ),
            ),
            "arrived on",
        ),
        (
            raw(
                "m1",
                String::from_utf8_lossy(&[0xff, 0xfe, 0x00]).into_owned(),
            ),
            "",
        ),
    ];
    let mut messages = vec![good("m1", 30, 10.0)];
    for (m, _) in &bad {
        messages.push(m.clone());
        messages.push(good(
            "m1",
            29 - messages.len() as i64,
            10.0 + messages.len() as f64,
        ));
    }
    publish_all(mq.port, "e2e-bad-publisher", &messages);

    let stored = wait_for(Duration::from_secs(10), || {
        let n = polls_in(&db).len();
        (n == bad.len() + 1).then_some(n)
    });
    assert!(
        stored.is_some(),
        "good polls stored: {}",
        polls_in(&db).len()
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let reasons: Vec<String> = conn
        .prepare("SELECT reason FROM dead_letter ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(reasons.len(), bad.len(), "dead letters: {reasons:#?}");
    for ((_, expect), reason) in bad.iter().zip(&reasons) {
        assert!(
            reason.to_lowercase().contains(&expect.to_lowercase()),
            "reason `{reason}` should mention `{expect}`"
        );
    }

    // The API: token required, series catalogue with assets, a query over the stored polls.
    let base = format!("http://127.0.0.1:{http}");
    let denied = ureq::get(&format!("{base}/api/v1/series")).call();
    assert!(
        matches!(denied, Err(ureq::Error::StatusCode(401))),
        "{denied:?}"
    );
    let series = get_json(&format!("{base}/api/v1/series?token=t0ken")).unwrap();
    let list = series["series"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{series}");
    assert_eq!(list[0]["kind"], "instantaneous");
    let health = get_json(&format!("{base}/api/v1/health?token=t0ken")).unwrap();
    assert_eq!(health["dead_letters"], bad.len() as u64);
    assert_eq!(health["ingest"]["rejected"], bad.len() as u64);
    let from = (now - chrono::Duration::minutes(5))
        .to_rfc3339()
        .replace('+', "%2B");
    let q = get_json(&format!(
        "{base}/api/v1/query?token=t0ken&series=e2e/m1/active_power&from={from}&step=10s"
    ))
    .unwrap();
    assert_eq!(q["resolution"], 0);
    assert_eq!(q["points"].as_array().unwrap().len(), bad.len() + 1, "{q}");
    let minute = wait_for(Duration::from_secs(10), || {
        let q = get_json(&format!(
            "{base}/api/v1/query?token=t0ken&series=e2e/m1/active_power&from={from}&step=1m"
        ))
        .ok()?;
        let count: i64 = q["points"]
            .as_array()?
            .iter()
            .filter_map(|p| p["count"].as_i64())
            .sum();
        (count == bad.len() as i64 + 1).then_some(q)
    });
    assert!(
        minute.is_some(),
        "1-minute rollups did not cover every stored poll"
    );
    let openapi = get_json(&format!("{base}/api/v1/openapi.json?token=t0ken")).unwrap();
    assert!(openapi["paths"]["/api/v1/query"].is_object());
}

#[test]
fn a_network_address_without_a_token_is_refused() {
    let dir = scratch("notoken");
    let config = dir.join("site.toml");
    std::fs::write(&config, site(1883, &[], "http = \"0.0.0.0:0\"")).unwrap();
    let out = std::process::Command::new(bin("kilowatch-gateway"))
        .args(["run", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("gateway.access_token_file"), "{err}");
}
