//! The InfluxDB sink against a real influxd (v1 API): what the pipeline stored comes back
//! point for point through influxd's own /query, and a 30 s influxd outage mid-stream loses
//! nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use kilowatch_e2e::{
    free_port, get_json, scratch, start_gateway_then_agent, start_sim, wait_for, Influxd, Mosquitto,
};

/// (device, ts ms) → value of every stored active_power sample in the gateway's SQLite.
fn sqlite_points(db: &Path) -> BTreeMap<(String, i64), f64> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT s.device, x.ts, x.value FROM samples x JOIN series s ON s.id = x.series_id
             WHERE s.quantity = 'active_power' AND x.quality = 'good'",
        )
        .unwrap();
    stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn influx_points(influx: &Influxd) -> BTreeMap<(String, i64), f64> {
    let j = influx.query("kw", "SELECT value FROM active_power GROUP BY device");
    let mut out = BTreeMap::new();
    for series in j["results"][0]["series"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let device = series["tags"]["device"].as_str().unwrap().to_owned();
        for row in series["values"].as_array().unwrap() {
            let ts = chrono::DateTime::parse_from_rfc3339(row[0].as_str().unwrap())
                .unwrap()
                .timestamp_millis();
            out.insert((device.clone(), ts), row[1].as_f64().unwrap());
        }
    }
    out
}

#[test]
fn influxd_gets_exactly_what_was_stored_across_an_outage() {
    let dir = scratch("influx");
    let mq = Mosquitto::start(&dir);
    let mut influx = Influxd::start(&dir);
    influx.query("", "CREATE DATABASE kw");
    let devices: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let http = free_port();
    let db = dir.join("kw.db");
    let mut site = format!(
        "[site]\nid = \"e2e\"\ntimezone = \"Asia/Taipei\"\n[mqtt]\nbroker = \"127.0.0.1:{}\"\n\
         [agent]\nmetrics = \"off\"\n[gateway]\nhttp = \"127.0.0.1:{http}\"\ndatabase = \"{}\"\n\
         [gateway.influx]\nurl = \"http://127.0.0.1:{}\"\ndatabase = \"kw\"\nbatch_lines = 500\n",
        mq.port,
        db.display(),
        influx.port
    );
    for (i, p) in devices.iter().enumerate() {
        site.push_str(&format!(
            "\n[[devices]]\nid = \"m{i}\"\nprofile = \"eastron-sdm630\"\ntcp = \"127.0.0.1:{p}\"\n\
             asset = \"press-{i}\"\ninterval = \"250ms\"\n[devices.simulate]\nseed = {i}\nstep = \"1s\"\n"
        ));
    }
    let config = dir.join("site.toml");
    std::fs::write(&config, site).unwrap();
    let config = config.to_str().unwrap();
    let _sim = start_sim(&dir, config, &devices);
    let (_gateway, mut agent) = start_gateway_then_agent(&dir, config, http);

    let flowing = wait_for(Duration::from_secs(20), || {
        (influx_points(&influx).len() >= 12).then_some(())
    });
    assert!(flowing.is_some(), "nothing reached influxd");

    let before_outage = influx_points(&influx).len();
    influx.stop();
    // The outage lasts until the gateway has kept a backlog through five failed writes, its
    // retries backing off from 1 s to 16 s (about 15 s), rather than for a fixed time.
    let health_url = format!("http://127.0.0.1:{http}/api/v1/health");
    let buffered = wait_for(Duration::from_secs(90), || {
        let h = get_json(&health_url).ok()?;
        (h["influx"]["pending_batches"].as_u64()? >= 100
            && h["influx"]["failed_requests"].as_u64()? >= 5)
            .then_some(())
    });
    assert!(
        buffered.is_some(),
        "not buffered during the outage: {:?}",
        get_json(&health_url)
    );
    influx.restart();
    // Stop the agent once the outbox is draining into the restarted server (its next retry
    // is at most 16 s away).
    let resumed = wait_for(Duration::from_secs(45), || {
        (influx_points(&influx).len() > before_outage).then_some(())
    });
    assert!(resumed.is_some(), "nothing written after influxd came back");
    assert!(agent
        .interrupt(Duration::from_secs(10))
        .is_some_and(|s| s.success()));

    // Drained: nothing pending and influxd level with SQLite. The gateway may still be storing
    // the agent's last messages when the outbox first reads empty, so both are checked together.
    let drained = wait_for(Duration::from_secs(60), || {
        let h = get_json(&format!("http://127.0.0.1:{http}/api/v1/health")).ok()?;
        (h["influx"]["pending_batches"] == 0
            && sqlite_points(&db).len() == influx_points(&influx).len())
        .then_some(h)
    });
    assert!(drained.is_some(), "the outbox did not drain");
    let stored = sqlite_points(&db);
    let written = influx_points(&influx);
    assert!(
        stored.len() >= 3 * 100,
        "only {} polls stored",
        stored.len()
    );
    assert_eq!(
        written.len(),
        stored.len(),
        "influxd holds a different number of points"
    );
    for (k, v) in &stored {
        let got = written
            .get(k)
            .unwrap_or_else(|| panic!("{k:?} missing in influxd"));
        assert_eq!(got, v, "{k:?}");
    }
    // Tags carry the asset from the site file.
    let tags = influx.query(
        "kw",
        "SHOW TAG VALUES FROM active_power WITH KEY = \"asset\"",
    );
    assert_eq!(
        tags["results"][0]["series"][0]["values"]
            .as_array()
            .map(Vec::len),
        Some(3),
        "{tags}"
    );
    let h = drained.unwrap();
    assert_eq!(h["influx"]["dead_lettered_batches"], 0, "{h}");
    eprintln!(
        "influx: {} points, {} failed requests during the outage",
        written.len(),
        h["influx"]["failed_requests"]
    );
}
