//! Report by exception end to end: one simulated meter polled by two real stacks (agent →
//! mosquitto → gateway → SQLite), one publishing every poll, the other by exception. The
//! gateway holding the last value across each silence must give every minute a rollup and the
//! same energy as every poll does, within the deadband, while far fewer samples travel.

use std::path::Path;
use std::time::Duration;

use kilowatch_e2e::{free_port, scratch, start_gateway_then_agent, start_sim, wait_for, Mosquitto};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

const DEADBAND_PERCENT: f64 = 2.0;
const PEAK_KW: f64 = 150.0;

fn site(id: &str, mqtt: u16, http: u16, db: &Path, meter: u16, rbe: bool) -> String {
    let rbe = if rbe {
        format!(
            "[agent.report_by_exception]\nenabled = true\nheartbeat = \"10s\"\ndefault_deadband = \"{DEADBAND_PERCENT}%\"\n"
        )
    } else {
        String::new()
    };
    format!(
        r#"
[site]
id = "{id}"
timezone = "Asia/Taipei"

[mqtt]
broker = "127.0.0.1:{mqtt}"

[agent]
metrics = "127.0.0.1:{metrics}"

{rbe}
[gateway]
http = "127.0.0.1:{http}"
database = "{db}"

[[devices]]
id = "feeder"
profile = "eastron-sdm630"
tcp = "127.0.0.1:{meter}"
unit = 1
interval = "500ms"
[devices.simulate]
base_kw = {PEAK_KW}
peak_kw = {PEAK_KW}
seed = 7
step = "1s"
"#,
        metrics = free_port(),
        db = db.display()
    )
}

/// (bucket, integral or delta, count) of one series' 1-minute rollups in [from, to).
fn minutes(db: &Path, quantity: &str, from: i64, to: i64) -> Vec<(i64, f64, i64)> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT r.bucket, coalesce(r.integral, r.delta), r.count FROM rollups r
             JOIN series s ON s.id = r.series_id
             WHERE s.device = 'feeder' AND s.quantity = ?1 AND r.res = 60
             AND r.bucket >= ?2 AND r.bucket < ?3 ORDER BY r.bucket",
        )
        .unwrap();
    let rows = stmt
        .query_map(params![quantity, from, to], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// Stored good samples of active power, and the first one at or after `t` (ms).
fn samples(db: &Path, t: i64) -> (i64, Option<i64>) {
    let Ok(conn) = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return (0, None);
    };
    let q = |sql: &str| -> Option<i64> {
        conn.query_row(sql, [t], |r| r.get::<_, Option<i64>>(0))
            .optional()
            .ok()
            .flatten()
            .flatten()
    };
    let n = q(
        "SELECT count(*) FROM samples x JOIN series s ON s.id = x.series_id
               WHERE s.quantity = 'active_power' AND x.ts >= 0 * ?1",
    )
    .unwrap_or(0);
    let after = q(
        "SELECT min(x.ts) FROM samples x JOIN series s ON s.id = x.series_id
                   WHERE s.quantity = 'active_power' AND x.ts >= ?1",
    );
    (n, after)
}

/// Whether every minute up to and including the one holding `t` has been rolled up.
fn rolled_up_to(db: &Path, t: i64) -> bool {
    let Ok(conn) = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return false;
    };
    conn.query_row(
        "SELECT count(*) FROM rollup_dirty WHERE bucket <= ?1",
        [t],
        |r| r.get::<_, i64>(0),
    )
    .is_ok_and(|n| n == 0)
}

#[test]
fn held_rollups_give_the_energy_of_every_poll() {
    let dir = scratch("rbe");
    let (every_dir, rbe_dir) = (dir.join("every"), dir.join("rbe"));
    std::fs::create_dir_all(&every_dir).unwrap();
    std::fs::create_dir_all(&rbe_dir).unwrap();
    let meter = free_port();
    let (mqtt_a, mqtt_b) = (Mosquitto::start(&every_dir), Mosquitto::start(&rbe_dir));
    let (http_a, http_b) = (free_port(), free_port());
    let (db_a, db_b) = (every_dir.join("kw.db"), rbe_dir.join("kw.db"));
    let conf_a = every_dir.join("site.toml");
    let conf_b = rbe_dir.join("site.toml");
    std::fs::write(
        &conf_a,
        site("every", mqtt_a.port, http_a, &db_a, meter, false),
    )
    .unwrap();
    std::fs::write(
        &conf_b,
        site("rbe", mqtt_b.port, http_b, &db_b, meter, true),
    )
    .unwrap();
    let _sim = start_sim(&dir, conf_a.to_str().unwrap(), &[meter]);
    let _a = start_gateway_then_agent(&every_dir, conf_a.to_str().unwrap(), http_a);
    let _b = start_gateway_then_agent(&rbe_dir, conf_b.to_str().unwrap(), http_b);

    // Two whole minutes after both stacks' first samples.
    let first = wait_for(Duration::from_secs(60), || {
        let (a, b) = (samples(&db_a, 0).1, samples(&db_b, 0).1);
        Some(a?.max(b?))
    })
    .expect("no samples from both stacks within 60 s");
    let from = first - first.rem_euclid(60_000) + 60_000;
    let to = from + 2 * 60_000;
    // Wait until the silence open at `to` is closed in the held stack (its heartbeat is 10 s)
    // and both have rolled up past it.
    let closed = wait_for(Duration::from_secs(240), || {
        let end_a = samples(&db_a, to + 1000).1?;
        let end_b = samples(&db_b, to).1?;
        (rolled_up_to(&db_a, end_a) && rolled_up_to(&db_b, end_b)).then_some(())
    });
    assert!(
        closed.is_some(),
        "the two minutes were not rolled up in 240 s"
    );

    let (ea, eb) = (
        minutes(&db_a, "active_power", from, to),
        minutes(&db_b, "active_power", from, to),
    );
    assert_eq!(ea.len(), 2, "every poll: a row a minute: {ea:?}");
    assert_eq!(eb.len(), 2, "by exception: a row a minute: {eb:?}");
    let (kwh_a, kwh_b): (f64, f64) = (ea.iter().map(|m| m.1).sum(), eb.iter().map(|m| m.1).sum());
    // The held values are within the deadband; the two agents sample the meter's 1-second
    // steps at different phases (at most one 0.5 s poll apart: the meter's noise is 0.5 % of its
    // power, its wander slower), and each minute boundary cuts a step.
    let bound = (DEADBAND_PERCENT + 1.0) / 100.0 * kwh_a;
    assert!(
        (kwh_a - kwh_b).abs() <= bound,
        "two minutes: {kwh_a} kWh from every poll, {kwh_b} kWh held (bound {bound})"
    );
    assert!(
        kwh_a > PEAK_KW / 60.0,
        "about 150 kW for two minutes: {kwh_a}"
    );
    // Each minute stands for its 120 polls of 0.5 s, reported or held back.
    for (m, _, count) in &eb {
        assert!((115..=125).contains(count), "minute {m}: count {count}");
    }
    let (ca, cb) = (
        minutes(&db_a, "active_energy_import", from, to),
        minutes(&db_b, "active_energy_import", from, to),
    );
    let (da, db): (f64, f64) = (ca.iter().map(|m| m.1).sum(), cb.iter().map(|m| m.1).sum());
    // The same register: the increments differ only by where each stack's polls cut the ends.
    let step_kwh = 2.0 * PEAK_KW * 1.1 / 3600.0;
    assert!(
        (da - db).abs() <= step_kwh,
        "counter increments {da} vs {db} kWh"
    );

    // Far fewer samples travelled.
    let (na, nb) = (samples(&db_a, 0).0, samples(&db_b, 0).0);
    eprintln!(
        "two minutes: {kwh_a:.5} kWh from every poll, {kwh_b:.5} kWh held ({:+.3} %); counter \
         {da:.5} vs {db:.5} kWh; active power samples {na} vs {nb}",
        100.0 * (kwh_b - kwh_a) / kwh_a
    );
    assert!(
        nb * 2 < na,
        "by exception stored {nb} active power samples, every poll {na}"
    );
}
