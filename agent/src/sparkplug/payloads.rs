//! Sparkplug B topics and payloads of one edge node: births with names and aliases, data by
//! alias, deaths, and the reading of node commands.

use std::collections::BTreeMap;

use prost::Message as _;

use super::proto::{datatype, Metric, Payload, PropertyScalar, PropertySet, PropertyValue, Value};
use kilowatch_site::payload::{DevicePoll, Quality, Reading};

/// The rebirth request metric of every edge node.
pub const REBIRTH: &str = "Node Control/Rebirth";
/// Alias of [`REBIRTH`] (device metrics get 1..).
const REBIRTH_ALIAS: u64 = 0;

/// Topics of one edge node.
#[derive(Debug, Clone)]
pub struct Topics {
    group: String,
    node: String,
}

impl Topics {
    pub fn new(group: &str, node: &str) -> Self {
        Self {
            group: group.to_owned(),
            node: node.to_owned(),
        }
    }

    pub fn node(&self, kind: &str) -> String {
        format!("spBv1.0/{}/{kind}/{}", self.group, self.node)
    }

    pub fn device(&self, kind: &str, device: &str) -> String {
        format!("spBv1.0/{}/{kind}/{}/{device}", self.group, self.node)
    }

    /// Primary host application state (Sparkplug 3.0).
    pub fn state(host: &str) -> String {
        format!("spBv1.0/STATE/{host}")
    }
}

/// Metric aliases: one per (device, quantity), stable while the agent runs, announced in the
/// births.
#[derive(Debug, Default)]
pub struct Aliases {
    next: u64,
    map: BTreeMap<(String, String), u64>,
}

impl Aliases {
    pub fn get(&mut self, device: &str, quantity: &str) -> u64 {
        let key = (device.to_owned(), quantity.to_owned());
        if let Some(&a) = self.map.get(&key) {
            return a;
        }
        self.next += 1;
        self.map.insert(key, self.next);
        self.next
    }
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

fn bd_seq_metric(bd_seq: u8, ts: u64) -> Metric {
    Metric {
        name: Some("bdSeq".into()),
        timestamp: Some(ts),
        datatype: Some(datatype::INT64),
        value: Some(Value::Long(u64::from(bd_seq))),
        ..Default::default()
    }
}

/// NDEATH: the MQTT will of the connection, and sent before a clean disconnect.
pub fn ndeath(bd_seq: u8) -> Vec<u8> {
    let ts = now_ms();
    Payload {
        timestamp: Some(ts),
        metrics: vec![bd_seq_metric(bd_seq, ts)],
        ..Default::default()
    }
    .encode_to_vec()
}

/// NBIRTH (seq 0).
pub fn nbirth(bd_seq: u8) -> Vec<u8> {
    let ts = now_ms();
    Payload {
        timestamp: Some(ts),
        seq: Some(0),
        metrics: vec![
            bd_seq_metric(bd_seq, ts),
            Metric {
                name: Some(REBIRTH.into()),
                alias: Some(REBIRTH_ALIAS),
                timestamp: Some(ts),
                datatype: Some(datatype::BOOLEAN),
                value: Some(Value::Boolean(false)),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
    .encode_to_vec()
}

fn metric(r: &Reading, ts: u64, alias: u64, birth: bool) -> Metric {
    let value = r
        .value
        .filter(|v| r.quality == Quality::Good && v.is_finite());
    Metric {
        name: birth.then(|| r.quantity.to_string()),
        alias: Some(alias),
        timestamp: Some(ts),
        datatype: Some(datatype::DOUBLE),
        is_null: value.is_none().then_some(true),
        value: value.map(Value::Double),
        // Engineering unit as Ignition reads it; births only (data is by alias).
        properties: (birth && !r.unit.is_empty()).then(|| PropertySet {
            keys: vec!["engUnit".into()],
            values: vec![PropertyValue {
                r#type: Some(datatype::STRING),
                is_null: None,
                value: Some(PropertyScalar::String(r.unit.to_string())),
            }],
        }),
        ..Default::default()
    }
}

/// DBIRTH (`birth`) or DDATA of one poll.
pub fn device_message(poll: &DevicePoll, seq: u8, aliases: &mut Aliases, birth: bool) -> Vec<u8> {
    let ts = u64::try_from(poll.ts.timestamp_millis()).unwrap_or(0);
    Payload {
        timestamp: Some(if birth { now_ms() } else { ts }),
        seq: Some(u64::from(seq)),
        metrics: poll
            .readings
            .iter()
            .map(|r| metric(r, ts, aliases.get(&poll.device, &r.quantity), birth))
            .collect(),
        ..Default::default()
    }
    .encode_to_vec()
}

/// DDEATH.
pub fn ddeath(seq: u8) -> Vec<u8> {
    Payload {
        timestamp: Some(now_ms()),
        seq: Some(u64::from(seq)),
        ..Default::default()
    }
    .encode_to_vec()
}

/// What a node command asks.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Rebirth,
    /// Well formed, but nothing the agent does (it never writes to a device).
    Ignored,
}

/// Reads an NCMD payload; `Err` for bytes that are not a Sparkplug payload.
pub fn node_command(bytes: &[u8]) -> Result<Command, prost::DecodeError> {
    let p = Payload::decode(bytes)?;
    let rebirth = p.metrics.iter().any(|m| {
        (m.name.as_deref() == Some(REBIRTH) || (m.name.is_none() && m.alias == Some(REBIRTH_ALIAS)))
            && m.value == Some(Value::Boolean(true))
    });
    Ok(if rebirth {
        Command::Rebirth
    } else {
        Command::Ignored
    })
}

/// Whether a primary host STATE payload says online: Sparkplug 3.0 JSON
/// (`{"online":true,"timestamp":…}`) or the 2.2 text `ONLINE`.
pub fn host_online(bytes: &[u8]) -> Option<bool> {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
        return v.get("online").and_then(serde_json::Value::as_bool);
    }
    match bytes {
        b"ONLINE" => Some(true),
        b"OFFLINE" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebirth_requests_and_garbage() {
        let ask = |v: bool| {
            Payload {
                metrics: vec![Metric {
                    name: Some(REBIRTH.into()),
                    datatype: Some(datatype::BOOLEAN),
                    value: Some(Value::Boolean(v)),
                    ..Default::default()
                }],
                ..Default::default()
            }
            .encode_to_vec()
        };
        assert_eq!(node_command(&ask(true)).unwrap(), Command::Rebirth);
        assert_eq!(node_command(&ask(false)).unwrap(), Command::Ignored);
        assert!(node_command(&[0xff, 0xff, 0xff]).is_err());
        assert_eq!(host_online(br#"{"online":true,"timestamp":1}"#), Some(true));
        assert_eq!(host_online(b"OFFLINE"), Some(false));
        assert_eq!(host_online(b"?"), None);
    }

    #[test]
    fn aliases_are_stable() {
        let mut a = Aliases::default();
        assert_eq!(a.get("d", "active_power"), 1);
        assert_eq!(a.get("d", "voltage_l1"), 2);
        assert_eq!(a.get("d", "active_power"), 1);
    }
}
