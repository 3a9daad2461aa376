//! Home Assistant MQTT discovery: one retained sensor config per device and quantity, pointing
//! at the agent's JSON data topic, with the agent's status topic as availability.
//!
//! What was announced is recorded in the spool directory (`ha-announced.json`) once the broker
//! acknowledged it; at the next start, the config topic of each quantity no longer in the site
//! file gets an empty retained payload, which makes Home Assistant remove the entity.
//!
//! Device classes, units and state classes follow Home Assistant's sensor rules
//! (homeassistant/components/sensor/const.py, `DEVICE_CLASS_UNITS` and
//! `DEVICE_CLASS_STATE_CLASSES`; https://developers.home-assistant.io/docs/core/entity/sensor/):
//! a quantity whose unit Home Assistant does not accept for any class gets no `device_class`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use kilowatch_site::config::SiteConfig;
use kilowatch_site::payload;
use kilowatch_site::profile::Profile;
use kilowatch_site::vocab::{self, Kind};

/// Name of the record of announced config topics, in the spool directory.
pub const RECORD: &str = "ha-announced.json";

/// How Home Assistant should see one quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HaClass {
    pub device_class: Option<&'static str>,
    /// The unit announced (Home Assistant's symbol).
    pub unit: Option<&'static str>,
    /// Factor from the canonical value to `unit`.
    pub scale: Option<u32>,
    pub state_class: &'static str,
}

/// The Home Assistant class of a canonical quantity.
pub fn ha_class(quantity: &vocab::Quantity) -> HaClass {
    let state_class = match quantity.kind {
        Kind::Counter => "total_increasing",
        Kind::Instantaneous | Kind::State => "measurement",
    };
    let (device_class, unit, scale) = match (quantity.unit, quantity.kind) {
        ("kWh", _) => (Some("energy"), "kWh", None),
        ("kW", _) => (Some("power"), "kW", None),
        ("V", _) => (Some("voltage"), "V", None),
        ("A", _) => (Some("current"), "A", None),
        // Unitless power factor: Home Assistant reads it as a ratio.
        ("", Kind::Instantaneous) if quantity.name == "power_factor" => {
            (Some("power_factor"), "", None)
        }
        ("Hz", _) => (Some("frequency"), "Hz", None),
        ("°C", _) => (Some("temperature"), "°C", None),
        ("bar" | "kPa", _) => (Some("pressure"), quantity.unit, None),
        ("m³/h", _) => (Some("volume_flow_rate"), "m³/h", None),
        // Home Assistant's flow units include m³/h but not (in every release) m³/min.
        ("m³/min", _) => (Some("volume_flow_rate"), "m³/h", Some(60)),
        ("m³", Kind::Counter) if quantity.name == "gas_volume" => (Some("gas"), "m³", None),
        ("m³", Kind::Counter) if quantity.name == "water_volume" => (Some("water"), "m³", None),
        ("m³" | "L", Kind::Counter) => (Some("volume"), quantity.unit, None),
        ("h", Kind::Counter) => (Some("duration"), "h", None),
        ("%", _) if quantity.name == "outdoor_humidity" => (Some("humidity"), "%", None),
        (u, _) => (None, u, None),
    };
    HaClass {
        device_class,
        unit: (!unit.is_empty()).then_some(unit),
        scale,
        state_class,
    }
}

/// Node id of the site's entities in discovery topics (`[a-zA-Z0-9_-]+`, as the site id).
fn node_id(site: &str) -> String {
    format!("kilowatch-{site}")
}

/// Config topic of one device quantity. Quantities contain no `-`, so `<device>-<quantity>`
/// is unambiguous.
pub fn config_topic(prefix: &str, site: &str, device: &str, quantity: &str) -> String {
    format!(
        "{prefix}/sensor/{}/{device}-{quantity}/config",
        node_id(site)
    )
}

/// The template that picks one quantity out of a poll. A poll without it (report by exception)
/// renders nothing, which Home Assistant ignores (the state is kept); a reading without a value
/// renders `None`, which Home Assistant shows as unknown.
pub fn value_template(quantity: &str, scale: Option<u32>) -> String {
    let value = match scale {
        Some(s) => format!("{{{{ r.value * {s} if r.value is not none else r.value }}}}"),
        None => "{{ r.value }}".into(),
    };
    format!(
        "{{% for r in value_json.readings if r.quantity == '{quantity}' %}}{value}{{% endfor %}}"
    )
}

/// Discovery configs of every device quantity: (topic, retained JSON payload).
pub fn configs(config: &SiteConfig, profiles: &[(String, Profile)]) -> Vec<(String, Vec<u8>)> {
    let site = &config.site.id;
    let prefix = &config.agent.home_assistant.prefix;
    let status = payload::agent_status_topic(site, &config.agent_client_id());
    let mut out = Vec::new();
    for (device_id, profile) in profiles {
        let device = config.devices.iter().find(|d| &d.id == device_id);
        let name = device
            .and_then(|d| d.name.clone())
            .unwrap_or(device_id.clone());
        let quantities: BTreeSet<&str> = profile
            .registers
            .iter()
            .map(|r| r.quantity.as_str())
            .collect();
        for q in quantities {
            let Ok(quantity) = vocab::quantity(q) else {
                continue;
            };
            let class = ha_class(quantity);
            let mut c = json!({
                "name": quantity.name.replace('_', " "),
                "unique_id": format!("kw:{site}:{device_id}:{q}"),
                "state_topic": payload::data_topic(site, device_id),
                "value_template": value_template(q, class.scale),
                "state_class": class.state_class,
                "availability_topic": status,
                "payload_available": "online",
                "payload_not_available": "offline",
                "device": {
                    "identifiers": [format!("kw:{site}:{device_id}")],
                    "name": name,
                    "manufacturer": profile.manufacturer,
                    "model": profile.model,
                },
                "origin": {"name": "kilowatch", "sw_version": env!("CARGO_PKG_VERSION")},
            });
            if let Some(dc) = class.device_class {
                c["device_class"] = Value::from(dc);
            }
            if let Some(u) = class.unit {
                c["unit_of_measurement"] = Value::from(u);
            }
            out.push((
                config_topic(prefix, site, device_id, q),
                c.to_string().into_bytes(),
            ));
        }
    }
    out
}

/// The record of announced topics in `spool_dir`.
pub fn record_path(spool_dir: &Path) -> PathBuf {
    spool_dir.join(RECORD)
}

/// Topics announced before (empty when there is no record or it cannot be read).
pub fn announced(spool_dir: &Path) -> BTreeSet<String> {
    std::fs::read(record_path(spool_dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Records `topics` as announced (written whole, then renamed into place).
pub fn record(spool_dir: &Path, topics: &BTreeSet<String>) -> std::io::Result<()> {
    let path = record_path(spool_dir);
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(topics).unwrap_or_default())?;
    std::fs::rename(tmp, path)
}

/// What to publish at each connection: empty retained payloads for topics announced before
/// and gone now, then the current configs.
pub fn announcements(
    current: Vec<(String, Vec<u8>)>,
    before: &BTreeSet<String>,
) -> Vec<(String, Vec<u8>)> {
    let now: BTreeSet<&str> = current.iter().map(|(t, _)| t.as_str()).collect();
    let mut out: Vec<(String, Vec<u8>)> = before
        .iter()
        .filter(|t| !now.contains(t.as_str()))
        .map(|t| (t.clone(), Vec::new()))
        .collect();
    out.extend(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_home_assistants_rules() {
        let c = |q: &str| ha_class(vocab::quantity(q).unwrap());
        let e = c("active_energy_import");
        assert_eq!(
            (e.device_class, e.unit, e.state_class),
            (Some("energy"), Some("kWh"), "total_increasing")
        );
        let p = c("active_power");
        assert_eq!(
            (p.device_class, p.state_class),
            (Some("power"), "measurement")
        );
        assert_eq!(c("power_factor").unit, None);
        assert_eq!(c("gas_volume").device_class, Some("gas"));
        assert_eq!(c("water_volume").device_class, Some("water"));
        let air = c("air_flow");
        assert_eq!((air.unit, air.scale), (Some("m³/h"), Some(60)));
        // No class Home Assistant would accept these units for.
        assert_eq!(c("reactive_power").device_class, None);
        assert_eq!(c("motor_speed").device_class, None);
        assert_eq!(c("production_count").state_class, "total_increasing");
    }

    #[test]
    fn gone_topics_are_cleared_first() {
        let before: BTreeSet<String> = ["a".to_string(), "b".to_string()].into();
        let out = announcements(vec![("b".into(), b"{}".to_vec())], &before);
        assert_eq!(
            out,
            vec![("a".into(), vec![]), ("b".into(), b"{}".to_vec())]
        );
    }
}
