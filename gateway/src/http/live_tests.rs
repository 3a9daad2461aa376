//! `/query`, `/latest` and `/health` answered from the writer's view and the rollup cache
//! give what the database holds, also after late data rewrites a cached bucket.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{Duration, Utc};
use kilowatch_site::payload::{DevicePoll, Quality, Reading, SCHEMA_VERSION};

use super::{serve, AppState};
use crate::store::{Incoming, Readers, Store};

fn poll(ts: chrono::DateTime<Utc>, kw: f64) -> Incoming {
    Incoming::Poll(DevicePoll {
        version: SCHEMA_VERSION,
        site: "s".into(),
        device: "m".into(),
        seq: 0,
        ts,
        readings: vec![Reading {
            quantity: "active_power".into(),
            value: Some(kw),
            unit: "kW".into(),
            quality: Quality::Good,
        }],
    })
}

fn start(path: &std::path::Path, live: Arc<crate::store::Live>) -> SocketAddr {
    let profiles = kilowatch_site::profile::ProfileLibrary::builtin();
    let site =
        kilowatch_site::config::SiteConfig::parse(crate::DEMO_SITE, "demo", &profiles).unwrap();
    let assets = crate::enpi::Assets::from_site(&site, "demo").unwrap();
    let state = Arc::new(AppState {
        site_name: "t".into(),
        store: Arc::new(Readers::open(path, 2).unwrap()),
        ingest: Arc::default(),
        token: None,
        influx: Arc::default(),
        alarms: crate::alarms::Alarms::new(&site, &assets, "demo")
            .unwrap()
            .0,
        assets: Arc::new(assets),
        live,
        latest_body: Default::default(),
        notify: Arc::default(),
        writer: None,
        language: Default::default(),
        review: Arc::new(crate::review::ReviewSite::for_site(&site)),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            serve(listener, state, std::future::pending())
                .await
                .unwrap();
        });
    });
    addr
}

/// The `points` array of a query answer, as the text the API sent: parsing the JSON would
/// round some floats.
fn points_text(addr: SocketAddr, target: &str) -> String {
    let body = get_text(addr, target);
    let at = body.find(r#""points":"#).expect("points") + r#""points":"#.len();
    body[at..body.len() - 1].to_owned()
}

/// Asserts two point lists are equal, printing only the first difference.
fn same(a: &str, b: &str) {
    if a != b {
        let i = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
        let from = i.saturating_sub(200);
        panic!(
            "{} vs {} bytes; first difference at {i}: {:?} vs {:?}",
            a.len(),
            b.len(),
            &a[from..(i + 100).min(a.len())],
            &b[from..(i + 100).min(b.len())]
        );
    }
}

fn get_text(addr: SocketAddr, target: &str) -> String {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    write!(
        c,
        "GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{target}: {out}");
    out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned()
}

fn get(addr: SocketAddr, target: &str) -> serde_json::Value {
    let body = get_text(addr, target);
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{target}: {e}: {body}"))
}

#[test]
fn cached_answers_follow_the_database() {
    let dir = std::env::temp_dir().join(format!("kw-http-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.db");
    let mut store = Store::open(&path).unwrap();
    let live = store.keep_live().unwrap();
    let now = Utc::now();
    let start_at = now - Duration::days(3);
    // Three days at one sample a minute, up to now: closed hours and the open one.
    let batch: Vec<Incoming> = (0..3 * 24 * 60)
        .map(|m| poll(start_at + Duration::minutes(m), 100.0 + (m % 60) as f64))
        .collect();
    store.write(&batch).unwrap();
    while store.refresh_rollups(5000).unwrap() > 0 {}
    let addr = start(&path, live);
    let from = (start_at - Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let to = (now + Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let target = format!("/api/v1/query?series=s/m/active_power&from={from}&to={to}&step=1h");
    let expect = |store: &Store| {
        let id = store.find_series("s/m/active_power").unwrap().unwrap().id;
        let f = chrono::DateTime::parse_from_rfc3339(&from)
            .unwrap()
            .timestamp_millis();
        let t = chrono::DateTime::parse_from_rfc3339(&to)
            .unwrap()
            .timestamp_millis();
        serde_json::to_string(&store.query(id, f, t, 3600).unwrap()).unwrap()
    };
    let answer = get(addr, &target);
    assert!(answer["points"].as_array().unwrap().len() >= 72);
    assert_eq!(answer["resolution"], 3600);
    let first = points_text(addr, &target);
    same(&first, &expect(&store));
    // Served again from the cache: the same.
    same(&points_text(addr, &target), &expect(&store));

    // Late data in a closed hour two days ago changes that hour's rollup.
    let late = start_at + Duration::hours(24) + Duration::seconds(30);
    store.write(&[poll(late, 10_000.0)]).unwrap();
    while store.refresh_rollups(5000).unwrap() > 0 {}
    let after = points_text(addr, &target);
    assert_ne!(after, first, "the rewrite must show");
    same(&after, &expect(&store));

    // The newest sample and the counts come from memory, and match the database.
    store
        .write(&[poll(now + Duration::seconds(1), 42.0)])
        .unwrap();
    let latest = get(addr, "/api/v1/latest");
    assert_eq!(
        latest["readings"],
        serde_json::to_value(store.latest().unwrap()).unwrap()
    );
    assert_eq!(latest["readings"][0]["value"], 42.0);
    let health = get(addr, "/api/v1/health");
    let (series, samples, dead) = store.counts().unwrap();
    assert_eq!(
        (
            &health["series"],
            &health["samples"],
            &health["dead_letters"]
        ),
        (&series.into(), &samples.into(), &dead.into())
    );
    assert_eq!(health["rollups_pending"], store.rollups_pending().unwrap());

    // Another connection's write is picked up by the next sync.
    let mut other = Store::open(&path).unwrap();
    other
        .write(&[poll(now + Duration::seconds(2), 43.0)])
        .unwrap();
    assert!(store.sync_live().unwrap());
    assert!(!store.sync_live().unwrap());
    // `/latest` may repeat its last answer for up to LATEST_MAX_AGE.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while get(addr, "/api/v1/latest")["readings"][0]["value"] != 43.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the other write never showed"
        );
        std::thread::yield_now();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
