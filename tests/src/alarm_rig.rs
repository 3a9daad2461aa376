//! What the alarm tests share: a meter publishing the incomer's power as an agent would, and
//! the alarm list as the API gives it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Publishes `site`'s incomer active power (`kw`, as f64 bits) every 250 ms until `stop`.
pub fn incomer_publisher(
    port: u16,
    site: &'static str,
    kw: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    use rumqttc::{Client, MqttOptions, QoS};
    std::thread::spawn(move || {
        let opts = MqttOptions::new(format!("{site}-meter"), "127.0.0.1", port);
        let (client, mut connection) = Client::new(opts, 100);
        std::thread::spawn(move || for _ in connection.iter() {});
        let mut seq = 0u64;
        while !stop.load(Ordering::Relaxed) {
            seq += 1;
            let value = f64::from_bits(kw.load(Ordering::Relaxed));
            let body = format!(
                r#"{{"version":1,"site":"{site}","device":"incomer","seq":{seq},"ts":"{}","readings":[{{"quantity":"active_power","value":{value},"unit":"kW","quality":"good"}}]}}"#,
                chrono::Utc::now().to_rfc3339()
            );
            let _ = client.publish(
                format!("kilowatch/v1/{site}/incomer/data"),
                QoS::AtLeastOnce,
                false,
                body,
            );
            // The meter's poll interval, not a wait for a condition.
            std::thread::sleep(Duration::from_millis(250));
        }
        let _ = client.disconnect();
    })
}

/// Alarm `id` among those in `state` (`active`, `cleared`, …), if listed.
pub fn alarm(base: &str, token: &str, state: &str, id: &str) -> Option<serde_json::Value> {
    let list =
        crate::get_json(&format!("{base}/api/v1/alarms?token={token}&state={state}")).ok()?;
    list["alarms"]
        .as_array()?
        .iter()
        .find(|a| a["id"] == id)
        .cloned()
}

/// libfaketime's library for multi-threaded programs (Debian package `faketime`).
pub fn libfaketime() -> std::path::PathBuf {
    let mut dirs = vec![
        std::path::PathBuf::from("/usr/lib/faketime"),
        "/usr/local/lib/faketime".into(),
    ];
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        dirs.extend(entries.flatten().map(|e| e.path().join("faketime")));
    }
    dirs.into_iter()
        .map(|d| d.join("libfaketimeMT.so.1"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "libfaketimeMT.so.1 is required by this test and was not found. Install it \
                 (apt-get install faketime) or run tests/run-all.sh, which provisions every test \
                 dependency."
            )
        })
}

/// The demo's clock (libfaketime, preloaded into the demo alone): from `start`, running
/// `speed` times as fast as the real one (timers and sleeps too, so the whole stack, its
/// poll intervals and its quarter-hours keep their proportions).
#[derive(Debug, Clone, Copy)]
pub struct DemoClock {
    pub start: chrono::DateTime<chrono::Utc>,
    pub speed: u32,
}

/// `kilowatch-gateway demo` on a fresh database with `scenarios`; with `start`, its clock
/// starts there and runs on. Returns the demo and its base URL once it serves.
pub fn spawn_demo(
    dir: &std::path::Path,
    scenarios: &[&str],
    start: Option<chrono::DateTime<chrono::Utc>>,
) -> (crate::Proc, String) {
    let clock = start.map(|start| DemoClock { start, speed: 1 });
    spawn_demo_with(dir, scenarios, clock, None)
}

/// [`spawn_demo`] on `clock`, with `history` (e.g. `2d`) backfilled first. Its data is kept
/// in `dir/data`, removed with the scratch directory (the demo's own temporary directory
/// would outlive a killed demo).
pub fn spawn_demo_with(
    dir: &std::path::Path,
    scenarios: &[&str],
    clock: Option<DemoClock>,
    history: Option<&str>,
) -> (crate::Proc, String) {
    let data = dir.join("data");
    let data = data.to_str().expect("UTF-8 path");
    let mut args = vec!["demo", "--http", "127.0.0.1:0", "--data", data];
    for s in scenarios {
        args.extend(["--scenario", s]);
    }
    if let Some(h) = history {
        args.extend(["--history", h]);
    }
    let lib = clock.map(|_| libfaketime().display().to_string());
    // `@…`: start at that moment and run (the `faketime` wrapper forks, so a kill would miss
    // the demo: set the variables on the demo itself).
    let at = clock.map(|c| {
        let at = format!("@{}", c.start.format("%Y-%m-%d %H:%M:%S"));
        match c.speed {
            1 => at,
            x => format!("{at} x{x}"),
        }
    });
    let env: Vec<(&str, &str)> = match (&lib, &at) {
        (Some(lib), Some(at)) => vec![("LD_PRELOAD", lib), ("FAKETIME", at)],
        _ => Vec::new(),
    };
    let mut demo =
        crate::Proc::spawn_with_env("demo", &crate::bin("kilowatch-gateway"), &args, dir, &env);
    let addr = crate::wait_printed_addr(&mut demo, "open http://", Duration::from_secs(120));
    assert!(!addr.is_empty(), "the demo did not start:\n{}", demo.log());
    (demo, format!("http://{addr}"))
}

/// A gateway on its own mosquitto watching one incomer against a 100 kW contract (`demand`
/// warns at 95 kW, critical), its API behind an access token, and the incomer publishing
/// `kw` every 250 ms from 0 kW. What the alarm and alarm-dashboard tests start from.
pub struct DemandRig {
    /// Killed before mosquitto (fields drop in order).
    pub gateway: crate::Proc,
    pub mq: crate::Mosquitto,
    pub base: String,
    pub token: &'static str,
    kw: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    meter: Option<std::thread::JoinHandle<()>>,
    /// The scratch directory: the site file `site.toml` and the database `kw.db` (removed
    /// last, after the processes writing in it).
    pub dir: crate::Scratch,
}

impl DemandRig {
    /// Starts it all in scratch directory `name` for site `site`, and returns once the first
    /// reading is stored.
    pub fn start(name: &str, site: &'static str, token: &'static str) -> DemandRig {
        Self::start_with(name, site, token, "")
    }

    /// [`DemandRig::start`] with `extra` appended to the site file (e.g. `[[notifications]]`).
    pub fn start_with(
        name: &str,
        site: &'static str,
        token: &'static str,
        extra: &str,
    ) -> DemandRig {
        let dir = crate::scratch(name);
        let mq = crate::Mosquitto::start(&dir);
        let http = crate::free_port();
        let token_file = dir.join("token");
        std::fs::write(&token_file, format!("{token}\n")).expect("token file");
        let config = dir.join("site.toml");
        std::fs::write(
            &config,
            format!(
                "[site]\nid = \"{site}\"\ntimezone = \"Asia/Taipei\"\ncontract_kw = 100.0\n\n\
                 [mqtt]\nbroker = \"127.0.0.1:{}\"\n\n\
                 [gateway]\nhttp = \"127.0.0.1:{http}\"\ndatabase = \"{}\"\naccess_token_file = \"{}\"\n\n\
                 [[devices]]\nid = \"incomer\"\nprofile = \"eastron-sdm630\"\ntcp = \"127.0.0.1:1\"\ninterval = \"1s\"\n\n\
                 [[assets]]\nid = \"plant\"\ntype = \"plant\"\npower = [\"incomer\"]\n\n\
                 [[alarms]]\nid = \"demand\"\nwarn_at = 0.95\nseverity = \"critical\"\n{extra}",
                mq.port,
                dir.join("kw.db").display(),
                token_file.display()
            ),
        )
        .expect("site file");
        let base = format!("http://127.0.0.1:{http}");
        let gateway = spawn_gateway("gateway", &dir, &base, token);
        let health = format!("{base}/api/v1/health?token={token}");
        // 0 kW first, so the window's energy starts from nothing known to be drawn.
        let kw = Arc::new(AtomicU64::new(0f64.to_bits()));
        let stop = Arc::new(AtomicBool::new(false));
        let meter = incomer_publisher(mq.port, site, kw.clone(), stop.clone());
        let stored = crate::wait_for(Duration::from_secs(20), || {
            let h = crate::get_json(&health).ok()?;
            (h["ingest"]["stored_samples"].as_u64()? > 0).then_some(())
        });
        assert!(stored.is_some(), "no readings stored:\n{}", gateway.log());
        DemandRig {
            gateway,
            mq,
            base,
            token,
            kw,
            stop,
            meter: Some(meter),
            dir,
        }
    }

    /// The database the gateway writes.
    pub fn db(&self) -> std::path::PathBuf {
        self.dir.join("kw.db")
    }

    /// Kills the gateway with SIGKILL (no shutdown of any kind); the meter keeps publishing.
    pub fn kill9_gateway(&mut self) {
        self.gateway.kill9();
    }

    /// Starts the gateway again on the same site file and database (process name `name`),
    /// returning once it serves and is subscribed.
    pub fn restart_gateway(&mut self, name: &str) {
        self.gateway.kill9();
        self.gateway = spawn_gateway(name, &self.dir, &self.base, self.token);
    }

    /// The incomer's power from now on, kW.
    pub fn set_kw(&self, kw: f64) {
        self.kw.store(kw.to_bits(), Ordering::Relaxed);
    }

    /// Alarm `id` among those in `state`, through the API with the token.
    pub fn alarm(&self, state: &str, id: &str) -> Option<serde_json::Value> {
        alarm(&self.base, self.token, state, id)
    }

    /// Sets the incomer to `kw`, with at least `window_left` seconds left in the current
    /// quarter-hour (waiting for the next one if need be), and returns the demand alarm once
    /// the API lists it active.
    pub fn raise_demand(&self, kw: f64, window_left: i64) -> serde_json::Value {
        wait_window_left(window_left);
        self.set_kw(kw);
        crate::wait_for(Duration::from_secs(20), || self.alarm("active", "demand"))
            .unwrap_or_else(|| panic!("no demand alarm:\n{}", self.gateway.log()))
    }

    /// The incomer stops publishing.
    pub fn stop_meter(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(m) = self.meter.take() {
            m.join().expect("meter thread");
        }
    }
}

/// `kilowatch-gateway run` on `dir/site.toml`, once its API at `base` says it is subscribed.
fn spawn_gateway(name: &str, dir: &std::path::Path, base: &str, token: &str) -> crate::Proc {
    let config = dir.join("site.toml");
    let gateway = crate::Proc::spawn(
        name,
        &crate::bin("kilowatch-gateway"),
        &["run", "--config", config.to_str().expect("UTF-8 path")],
        dir,
    );
    let health = format!("{base}/api/v1/health?token={token}");
    assert!(
        crate::wait_health_subscribed(&health, Duration::from_secs(20)),
        "{}",
        gateway.log()
    );
    gateway
}

impl Drop for DemandRig {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Returns once at least `secs` seconds are left in the current quarter-hour, waiting for
/// the next one if needed (Asia/Taipei's quarter-hours are UTC's).
pub fn wait_window_left(secs: i64) {
    let left = || 900 - chrono::Utc::now().timestamp().rem_euclid(900);
    if left() < secs {
        let next = crate::wait_for(Duration::from_secs(secs as u64 + 10), || {
            (left() > 600).then_some(())
        });
        next.expect("the next window");
    }
}
