//! The portfolio hub end to end, with real parts: three site gateways forwarding their records
//! (two through a site mosquitto bridged to the central one, one straight to the central
//! broker), two hub instances in one shared-subscription group, a throwaway PostgreSQL
//! cluster. Mid-stream one hub instance is killed with SIGKILL and the central broker is
//! restarted; afterwards PostgreSQL holds exactly what the sites sent: every 15-minute rollup
//! once, every record at the version its site last had acknowledged.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kilowatch_e2e::postgres::Postgres;
use kilowatch_e2e::{bin, free_port, scratch, wait_for, Mosquitto, Proc};

const SITES: [&str; 3] = ["plant-a", "plant-b", "plant-c"];
const DEVICES: [&str; 2] = ["meter-1", "meter-2"];
/// Hours of one-minute readings per import.
const CHUNK_HOURS: i64 = 2;
const CHUNKS: i64 = 3;

fn site_file(dir: &Path, site: &str, site_broker: u16, central: Option<u16>) -> std::path::PathBuf {
    let direct = central
        .map(|p| format!("[hub.mqtt]\nbroker = \"127.0.0.1:{p}\"\n"))
        .unwrap_or_default();
    let text = format!(
        "[site]\nid = \"{site}\"\ntimezone = \"UTC\"\n\
         [mqtt]\nbroker = \"127.0.0.1:{site_broker}\"\n\
         [gateway]\nhttp = \"127.0.0.1:{http}\"\ndatabase = \"{db}\"\nalarms = false\n\
         [hub]\nsettle = \"1s\"\ncompleteness_every = \"2s\"\ninflight = 20\n{direct}",
        http = free_port(),
        db = dir.join(format!("{site}.db")).display(),
    );
    let path = dir.join(format!("{site}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Imports chunk `k` (two hours of one-minute power readings of both meters) into a site.
fn import(dir: &Path, site: &str, start_ms: i64, k: i64) {
    let mut csv = String::from("ts,device,quantity,value,unit\n");
    let from = start_ms + k * CHUNK_HOURS * 3_600_000;
    for m in 0..CHUNK_HOURS * 60 {
        let ts = chrono::DateTime::from_timestamp_millis(from + m * 60_000).unwrap();
        for (i, d) in DEVICES.iter().enumerate() {
            let kw = 50.0 * (i + 1) as f64 + (m % 7) as f64;
            csv.push_str(&format!("{},{d},active_power,{kw},kW\n", ts.to_rfc3339()));
        }
    }
    let path = dir.join(format!("{site}-{k}.csv"));
    std::fs::write(&path, csv).unwrap();
    let cfg = dir.join(format!("{site}.toml"));
    let out = Command::new(bin("kilowatch-gateway"))
        .args([
            "import",
            "--config",
            cfg.to_str().unwrap(),
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start_hub(dir: &Path, id: &str, more: &[&str]) -> Proc {
    let mut args = vec!["hub", "--config", "hub.toml", "--client-id", id];
    args.extend_from_slice(more);
    let hub = Proc::spawn(id, &bin("kilowatch-gateway"), &args, dir);
    let subscribed = wait_for(Duration::from_secs(30), || {
        hub.log().contains("hub subscribed").then_some(())
    });
    assert!(
        subscribed.is_some(),
        "{id} did not subscribe:\n{}",
        hub.log()
    );
    hub
}

/// (site, kind, key) → (version, sent) from every site's outbox.
type Outbox = BTreeMap<(String, String, String), (i64, bool)>;

fn outboxes(dir: &Path) -> Outbox {
    let mut out = Outbox::new();
    for site in SITES {
        let db = dir.join(format!("{site}.db"));
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let mut stmt = conn
            .prepare("SELECT kind, key, version, sent FROM hub_outbox")
            .unwrap();
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get(2)?,
                    r.get(3)?,
                ))
            })
            .unwrap();
        for row in rows {
            let (kind, key, version, sent) = row.unwrap();
            out.insert((site.to_owned(), kind, key), (version, sent));
        }
    }
    out
}

/// (site, kind, key) → version in PostgreSQL.
fn stored(pg: &Postgres) -> BTreeMap<(String, String, String), i64> {
    pg.query("SELECT site, kind, key, version FROM records")
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (
                (f[0].into(), f[1].into(), f[2].into()),
                f[3].parse().unwrap(),
            )
        })
        .collect()
}

fn count(pg: &Postgres, sql: &str) -> usize {
    pg.query(sql).trim().parse().unwrap()
}

#[test]
fn sites_reach_postgres_through_bridged_brokers_and_two_hubs_without_loss_or_doubles() {
    let dir = scratch("hub");
    let pg = Postgres::start(&dir);

    let central_dir = dir.join("central");
    let site_dir = dir.join("site-broker");
    std::fs::create_dir_all(&central_dir).unwrap();
    std::fs::create_dir_all(&site_dir).unwrap();
    let mut central = Mosquitto::start(&central_dir);
    // The site broker forwards the hub topics to the central one (QoS 1, a persistent bridge
    // session, so what queues up while the central broker is away is delivered later).
    let sport = free_port();
    let _site_broker = Mosquitto::start_with(
        &site_dir,
        sport,
        &format!(
            "listener {sport} 127.0.0.1\nallow_anonymous true\n\
             connection central\naddress 127.0.0.1:{}\ntopic kilowatch/v1/hub/# out 1\n\
             cleansession false\nremote_clientid kilowatch-bridge-site\nrestart_timeout 1 2\n",
            central.port
        ),
    );

    std::fs::write(
        dir.join("hub.toml"),
        format!(
            "[mqtt]\nbroker = \"127.0.0.1:{}\"\n[hub]\nshare_group = \"hubs\"\nbatch = 50\n\
             [postgres]\nurl = \"{}\"\npool_size = 4\n",
            central.port,
            pg.url()
        ),
    )
    .unwrap();
    let mut hub1 = start_hub(&dir, "hub-1", &[]);
    // The second instance also serves the portfolio API.
    let api = format!("127.0.0.1:{}", free_port());
    let _hub2 = start_hub(&dir, "hub-2", &["--http", &api]);
    // Every migration file applied once (one row each), though two instances started.
    let files = std::fs::read_dir(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../gateway/src/hub/pg/migrations"),
    )
    .unwrap()
    .filter(|e| {
        e.as_ref()
            .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
    })
    .count();
    let version = pg.query("SELECT count(*) || '/' || max(version) FROM schema_migrations");
    assert_eq!(
        version,
        format!("{files}/{files}"),
        "both instances started; the schema was migrated once"
    );

    // plant-c publishes straight to the central broker; the others through the bridge.
    let mut gateways = Vec::new();
    for (i, site) in SITES.iter().enumerate() {
        let direct = (i == 2).then_some(central.port);
        let cfg = site_file(&dir, site, sport, direct);
        let gw = Proc::spawn(
            site,
            &bin("kilowatch-gateway"),
            &["run", "--config", cfg.to_str().unwrap()],
            &dir,
        );
        gateways.push(gw);
    }
    for gw in &gateways {
        let up = wait_for(Duration::from_secs(30), || {
            gw.log()
                .contains("connected to the hub broker")
                .then_some(())
        });
        assert!(
            up.is_some(),
            "{} did not reach the hub broker:\n{}",
            gw.name,
            gw.log()
        );
    }

    // Readings from seven hours ago, on a quarter-hour boundary.
    let now = chrono::Utc::now().timestamp_millis();
    let start = (now - 7 * 3_600_000) / 3_600_000 * 3_600_000;
    let rollups = |pg: &Postgres| count(pg, "SELECT count(*) FROM records WHERE kind = 'rollup'");

    for site in SITES {
        import(&dir, site, start, 0);
    }
    assert!(
        wait_for(Duration::from_secs(60), || (rollups(&pg) > 0).then_some(())).is_some(),
        "no rollup reached PostgreSQL"
    );
    // Mid-stream: one hub instance dies without a word; the other carries on.
    hub1.kill9();
    for site in SITES {
        import(&dir, site, start, 1);
    }
    let per_chunk = SITES.len() * DEVICES.len() * (CHUNK_HOURS as usize * 4);
    assert!(
        wait_for(Duration::from_secs(60), || (rollups(&pg) > per_chunk)
            .then_some(()))
        .is_some(),
        "the remaining hub instance stored nothing of the second chunk"
    );
    // The central broker restarts while the third chunk goes out: the bridge and plant-c's
    // outbox keep the records meanwhile.
    central.stop();
    for site in SITES {
        import(&dir, site, start, 2);
    }
    central.restart();
    // The killed instance comes back under its client id and gets what it had not stored.
    let _hub1 = start_hub(&dir, "hub-1", &[]);

    let expected_rollups = per_chunk * CHUNKS as usize;
    let converged = wait_for(Duration::from_secs(120), || {
        let sites = outboxes(&dir);
        let pg_rows = stored(&pg);
        let sent_match = sites
            .iter()
            .filter(|(_, (_, sent))| *sent)
            .all(|(k, (v, _))| pg_rows.get(k) == Some(v));
        let pending = sites
            .iter()
            .filter(|(k, (_, sent))| !sent && k.1 != "completeness")
            .count();
        // Completeness is worked out every 2 s: wait for each meter's of each site.
        let complete = SITES.iter().all(|site| {
            let n = pg_rows
                .keys()
                .filter(|k| k.0 == *site && k.1 == "completeness");
            n.count() >= DEVICES.len()
        });
        let done = sent_match && pending == 0 && complete && rollups(&pg) == expected_rollups;
        done.then_some((sites, pg_rows))
    });
    let Some((sites, pg_rows)) = converged else {
        panic!(
            "PostgreSQL never matched the sites: {} rollups of {expected_rollups}, outboxes {:?}",
            rollups(&pg),
            outboxes(&dir)
                .iter()
                .filter(|(_, (_, s))| !s)
                .take(10)
                .collect::<Vec<_>>()
        );
    };

    // Nothing lost: each site's every 15-minute bucket of each meter is there, once (the
    // primary key), and nothing is there that no site sent, or at a version it never had.
    for site in SITES {
        let n = pg_rows
            .keys()
            .filter(|(s, kind, _)| s == site && kind == "rollup")
            .count();
        assert_eq!(n, expected_rollups / SITES.len(), "{site}");
        for d in DEVICES {
            for q in 0..CHUNKS * CHUNK_HOURS * 4 {
                let key = format!("{d}/active_power/{}", start + q * 900_000);
                assert!(
                    pg_rows.contains_key(&(site.to_owned(), "rollup".into(), key.clone())),
                    "{site} {key} missing"
                );
            }
        }
        let complete = pg_rows
            .keys()
            .filter(|(s, kind, _)| s == site && kind == "completeness")
            .count();
        assert!(
            complete >= DEVICES.len(),
            "{site}: {complete} completeness records"
        );
    }
    for (k, v) in &pg_rows {
        let (site_v, _) = sites
            .get(k)
            .unwrap_or_else(|| panic!("{k:?} was never sent"));
        assert!(
            v <= site_v,
            "{k:?}: stored version {v} is newer than the site's {site_v}"
        );
    }
    // A rollup's body is the site's: the average of meter-2's first quarter hour.
    let avg = pg.query(&format!(
        "SELECT body->>'avg' FROM records WHERE site = 'plant-b' AND key = 'meter-2/active_power/{start}'"
    ));
    let want: f64 = (0..15).map(|m| 100.0 + (m % 7) as f64).sum::<f64>() / 15.0;
    assert!(
        (avg.parse::<f64>().unwrap() - want).abs() < 1e-6,
        "avg {avg}, want {want}"
    );
    assert_eq!(count(&pg, "SELECT count(*) FROM rejected"), 0);

    // The portfolio API (an admin's token: every site) with each site's newest rollup,
    // energy and completeness.
    let out = Command::new(bin("kilowatch-gateway"))
        .args([
            "hub", "--config", "hub.toml", "user", "add", "ops", "--role", "admin",
        ])
        .args(["--no-password"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(bin("kilowatch-gateway"))
        .args(["hub", "--config", "hub.toml", "user", "token", "ops"])
        .args(["--token-name", "test", "--scope", "portfolio:read"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let body: serde_json::Value = kilowatch_e2e::http()
        .get(&format!("http://{api}/api/v1/portfolio/sites"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("portfolio API")
        .body_mut()
        .read_json()
        .unwrap();
    let listed = body["sites"].as_array().unwrap();
    let names: Vec<&str> = listed.iter().filter_map(|s| s["site"].as_str()).collect();
    assert_eq!(names, SITES);
    // Each meter's kWh: trapezoids between consecutive one-minute readings.
    let minutes = CHUNKS * CHUNK_HOURS * 60;
    let kwh: f64 = (0..DEVICES.len())
        .map(|i| {
            let v = |m: i64| 50.0 * (i + 1) as f64 + (m % 7) as f64;
            (1..minutes)
                .map(|m| (v(m - 1) + v(m)) / 2.0 / 60.0)
                .sum::<f64>()
        })
        .sum();
    for s in listed {
        let last = start + (CHUNKS * CHUNK_HOURS * 4 - 1) * 900_000;
        assert_eq!(s["last_rollup"].as_i64(), Some(last), "{s}");
        let e = s["energy_kwh_24h"].as_f64().unwrap();
        assert!((e - kwh).abs() < kwh * 0.005, "{s}: want about {kwh} kWh");
        let ratio = s["completeness"]["ratio"].as_f64().unwrap();
        assert!(ratio > 0.0 && ratio <= 1.0, "{s}");
    }
    assert_eq!(count(&pg, "SELECT count(*) FROM sites"), SITES.len());
}
