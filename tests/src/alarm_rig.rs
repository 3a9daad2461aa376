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

/// `kilowatch-gateway demo` on a fresh database with `scenarios`; with `start`, its clock
/// starts there (libfaketime, preloaded into the demo alone) and runs on. Returns the demo
/// and its base URL once it serves.
pub fn spawn_demo(
    dir: &std::path::Path,
    scenarios: &[&str],
    start: Option<chrono::DateTime<chrono::Utc>>,
) -> (crate::Proc, String) {
    let mut args = vec!["demo", "--http", "127.0.0.1:0"];
    for s in scenarios {
        args.extend(["--scenario", s]);
    }
    let lib = start.map(|_| libfaketime().display().to_string());
    // `@…`: start at that moment and run (the `faketime` wrapper forks, so a kill would miss
    // the demo: set the variables on the demo itself).
    let at = start.map(|t| format!("@{}", t.format("%Y-%m-%d %H:%M:%S")));
    let env: Vec<(&str, &str)> = match (&lib, &at) {
        (Some(lib), Some(at)) => vec![("LD_PRELOAD", lib), ("FAKETIME", at)],
        _ => Vec::new(),
    };
    let mut demo =
        crate::Proc::spawn_with_env("demo", &crate::bin("kilowatch-gateway"), &args, dir, &env);
    let addr = crate::wait_printed_addr(&mut demo, "open http://", Duration::from_secs(60));
    assert!(!addr.is_empty(), "the demo did not start:\n{}", demo.log());
    (demo, format!("http://{addr}"))
}
