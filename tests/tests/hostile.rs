//! Hostile and oversized input on a real mosquitto: a message the gateway cannot take is
//! acknowledged, counted and dead-lettered (with its size and only its first bytes), the
//! messages around it are stored, it is not redelivered after a restart, and only the site's own
//! devices reach the store, whatever other publishers on the broker send.

use std::path::Path;
use std::time::Duration;

use kilowatch_e2e::{
    free_port, get_json, get_text, publish_all, scratch, start_gateway, wait_for, Mosquitto,
};

const SITE: &str = "hostile";

fn poll(site: &str, device: &str, seq: u64, readings: &str) -> Vec<u8> {
    let ts = (chrono::Utc::now() - chrono::Duration::seconds(60 - seq as i64)).to_rfc3339();
    format!(
        r#"{{"version":1,"site":"{site}","device":"{device}","seq":{seq},"ts":"{ts}","readings":[{readings}]}}"#
    )
    .into_bytes()
}

fn power(kw: f64) -> String {
    format!(r#"{{"quantity":"active_power","value":{kw},"unit":"kW","quality":"good"}}"#)
}

fn topic(site: &str, device: &str) -> String {
    format!("kilowatch/v1/{site}/{device}/data")
}

fn count(db: &Path, sql: &str) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("db");
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

#[test]
fn poison_and_foreign_messages_are_dead_lettered_and_never_stall_ingest() {
    let dir = scratch("hostile");
    let mq = Mosquitto::start(&dir);
    let http = free_port();
    let db = dir.join("kw.db");
    let config = dir.join("site.toml");
    std::fs::write(
        &config,
        format!(
            "[site]\nid = \"{SITE}\"\n[mqtt]\nbroker = \"127.0.0.1:{}\"\n[gateway]\n\
             http = \"127.0.0.1:{http}\"\ndatabase = \"{}\"\n\
             [[devices]]\nid = \"m1\"\nprofile = \"eastron-sdm630\"\ntcp = \"127.0.0.1:1\"\n",
            mq.port,
            db.display()
        ),
    )
    .unwrap();
    let mut gw = start_gateway("gateway", &dir, config.to_str().unwrap(), http);

    let one_and_a_half_mb = vec![b'x'; 1_572_864];
    let ten_mb = {
        // A valid-looking poll padded to 10 MB: it parses as JSON, so only its size refuses it.
        let mut p = poll(SITE, "m1", 90, &power(1.0));
        let pad = format!(",\"pad\":\"{}\"}}", "y".repeat(10 << 20));
        p.truncate(p.len() - 1);
        p.extend_from_slice(pad.as_bytes());
        p
    };
    let mut messages = vec![
        (topic(SITE, "m1"), poll(SITE, "m1", 1, &power(1.0))),
        (topic(SITE, "m1"), one_and_a_half_mb.clone()),
        (topic(SITE, "m1"), poll(SITE, "m1", 2, &power(2.0))),
        (topic(SITE, "m1"), ten_mb.clone()),
        (topic(SITE, "m1"), poll(SITE, "m1", 3, &power(3.0))),
        // A quantity twice in one poll: which would win is not ours to guess.
        (
            topic(SITE, "m1"),
            poll(SITE, "m1", 4, &format!("{},{}", power(4.0), power(40.0))),
        ),
        // Another site's reading on this site's topic.
        (topic(SITE, "m1"), poll("elsewhere", "m1", 5, &power(5.0))),
        (topic(SITE, "m1"), poll(SITE, "m1", 6, &power(6.0))),
    ];
    // Invented device ids: none may create a series.
    for i in 0..300 {
        let d = format!("ghost{i}");
        messages.push((topic(SITE, &d), poll(SITE, &d, 1, &power(1.0))));
    }
    // Another site on the same broker: not this gateway's to receive at all.
    for i in 0..50 {
        messages.push((
            topic("elsewhere", "m1"),
            poll("elsewhere", "m1", i + 1, &power(1.0)),
        ));
    }
    messages.push((topic(SITE, "m1"), poll(SITE, "m1", 7, &power(7.0))));
    publish_all(mq.port, "hostile-publisher", &messages);

    let dead_expected = 2 + 1 + 1 + 300;
    let settled = wait_for(Duration::from_secs(30), || {
        let stored = count(&db, "SELECT count(*) FROM samples");
        let dead = count(&db, "SELECT count(*) FROM dead_letter");
        (stored == 5 && dead == dead_expected).then_some(())
    });
    assert!(
        settled.is_some(),
        "stored {} samples (want 5: seq 1, 2, 3, 6, 7), {} dead letters (want {dead_expected})\n{}",
        count(&db, "SELECT count(*) FROM samples"),
        count(&db, "SELECT count(*) FROM dead_letter"),
        gw.log()
    );
    assert_eq!(
        count(&db, "SELECT count(DISTINCT device) FROM series"),
        1,
        "only the site's device has series"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let row = |sql: &str| -> (String, i64, i64) {
        conn.query_row(sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
    };
    let (reason, size, kept) =
        row("SELECT reason, size, length(payload) FROM dead_letter ORDER BY id LIMIT 1");
    assert!(reason.contains("larger than"), "{reason}");
    assert_eq!((size, kept), (one_and_a_half_mb.len() as i64, 4096));
    let (reason, size, kept) =
        row("SELECT reason, size, length(payload) FROM dead_letter ORDER BY id LIMIT 1 OFFSET 1");
    assert!(reason.contains("larger than"), "{reason}");
    assert_eq!((size, kept), (ten_mb.len() as i64, 4096));
    let (reason, _, _) =
        row("SELECT reason, size, 0 FROM dead_letter ORDER BY id LIMIT 1 OFFSET 2");
    assert!(reason.contains("more than once"), "{reason}");
    let (reason, _, _) =
        row("SELECT reason, size, 0 FROM dead_letter ORDER BY id LIMIT 1 OFFSET 3");
    assert!(reason.contains("site `elsewhere`"), "{reason}");
    let (reason, _, _) =
        row("SELECT reason, size, 0 FROM dead_letter ORDER BY id LIMIT 1 OFFSET 4");
    assert_eq!(reason, "device `ghost0` is not in the site file");

    let base = format!("http://127.0.0.1:{http}");
    let health = get_json(&format!("{base}/api/v1/health")).unwrap();
    assert_eq!(health["ingest"]["rejected"], dead_expected, "{health}");
    assert_eq!(
        health["ingest"]["messages"],
        (messages.len() - 50) as i64,
        "the other site's 50 messages never reach this gateway: {health}"
    );
    // Poll 4 arrived (refused for its repeated quantity): delivered, not a hole to ask for.
    // Poll 5 never came from m1 (another site's payload took its place): that one is missing.
    let seq = &health["ingest"]["sequence"];
    assert_eq!(
        (seq["refused"].as_u64(), seq["missing"].as_u64()),
        (Some(1), Some(1)),
        "{seq}"
    );
    let metrics = get_text(&format!("{base}/metrics")).unwrap();
    assert!(
        metrics.contains(&format!("kilowatch_gateway_rejected_total {dead_expected}")),
        "{metrics}"
    );

    // Everything was acknowledged: a restarted gateway gets nothing again, and ingests on.
    gw.interrupt(Duration::from_secs(10));
    let _gw = start_gateway("gateway-2", &dir, config.to_str().unwrap(), http);
    publish_all(
        mq.port,
        "hostile-publisher",
        &[(topic(SITE, "m1"), poll(SITE, "m1", 8, &power(8.0)))],
    );
    assert!(
        wait_for(Duration::from_secs(15), || {
            (count(&db, "SELECT count(*) FROM samples") == 6).then_some(())
        })
        .is_some(),
        "the poll after the restart was not stored"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM dead_letter"),
        dead_expected,
        "no message was delivered again after the restart"
    );
}
