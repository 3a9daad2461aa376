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
