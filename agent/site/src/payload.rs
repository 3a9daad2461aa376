//! The MQTT topics and the versioned JSON payload: defined once here, produced by the agent and
//! consumed by the gateway.
//!
//! One message per device poll on `kilowatch/v1/<site>/<device>/data`:
//! ```json
//! {"version":1,"site":"demo-plant","device":"incomer","seq":42,
//!  "ts":"2026-11-22T08:00:00.250Z",
//!  "readings":[{"quantity":"active_power","value":182.4,"unit":"kW","quality":"good"}]}
//! ```

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use thiserror::Error;

use crate::vocab;

/// The payload version this build produces and accepts.
pub const SCHEMA_VERSION: u32 = 1;

/// The topic prefix; the `v1` is the topic layout version, bumped only if topics change.
pub const TOPIC_ROOT: &str = "kilowatch/v1";

/// Subscription that matches every device's data topic on every site.
pub const DATA_SUBSCRIPTION: &str = "kilowatch/v1/+/+/data";

/// Topic a device's polls are published on.
pub fn data_topic(site: &str, device: &str) -> String {
    format!("{TOPIC_ROOT}/{site}/{device}/data")
}

/// Retained `online`/`offline` status of one agent (the `offline` is its MQTT last will).
pub fn agent_status_topic(site: &str, agent: &str) -> String {
    format!("{TOPIC_ROOT}/{site}/agent/{agent}/status")
}

/// Subscription that matches every agent's health topic on every site.
pub const AGENT_HEALTH_SUBSCRIPTION: &str = "kilowatch/v1/+/agent/+/health";

/// Retained agent health (device health, spool, publishing), refreshed periodically.
pub fn agent_health_topic(site: &str, agent: &str) -> String {
    format!("{TOPIC_ROOT}/{site}/agent/{agent}/health")
}

/// Where the gateway asks the agent polling `device` to publish a range of its readings again.
pub fn replay_request_topic(site: &str, device: &str) -> String {
    format!("{TOPIC_ROOT}/{site}/{device}/replay")
}

/// Subscription that matches every device's replay request on one site (the agent's).
pub fn replay_request_subscription(site: &str) -> String {
    format!("{TOPIC_ROOT}/{site}/+/replay")
}

/// Where the agent reports what it did about one replay request.
pub fn replay_report_topic(site: &str, device: &str) -> String {
    format!("{TOPIC_ROOT}/{site}/{device}/replayed")
}

/// The version of [`ReplayRequest`] and [`ReplayReport`] this build produces and accepts.
pub const REPLAY_VERSION: u32 = 1;

/// Largest replay request or report read (one is about 100 bytes).
pub const MAX_REPLAY_REQUEST_BYTES: usize = 4096;

/// Widest `from_seq..=to_seq` a replay request may ask for.
pub const MAX_REPLAY_SPAN: u64 = 1_000_000;

/// "Publish `device`'s readings with `from_seq <= seq <= to_seq` again", sent (QoS 1) by the
/// gateway on [`replay_request_topic`] when it sees a gap in a device's `seq`:
/// `{"version":1,"device":"incomer","from_seq":40,"to_seq":41}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    pub version: u32,
    pub device: String,
    pub from_seq: u64,
    /// Inclusive.
    pub to_seq: u64,
}

/// Why a replay request was refused.
#[derive(Debug, Error, PartialEq)]
pub enum ReplayError {
    #[error("malformed JSON: {0}")]
    Malformed(String),
    #[error("unsupported replay version {0} (this build reads version {REPLAY_VERSION})")]
    Version(u32),
    #[error("from_seq {from} is after to_seq {to}")]
    Reversed { from: u64, to: u64 },
    #[error("range {from}..={to} is wider than {MAX_REPLAY_SPAN} readings")]
    TooWide { from: u64, to: u64 },
    #[error("{size} bytes is not a replay request (at most {MAX_REPLAY_REQUEST_BYTES})")]
    TooLarge { size: usize },
}

impl ReplayRequest {
    pub fn new(device: &str, from_seq: u64, to_seq: u64) -> Self {
        Self {
            version: REPLAY_VERSION,
            device: device.to_owned(),
            from_seq,
            to_seq,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a ReplayRequest always serialises")
    }

    /// Parses and validates a request (version, `from_seq <= to_seq`, span).
    pub fn parse(bytes: &[u8]) -> Result<Self, ReplayError> {
        if bytes.len() > MAX_REPLAY_REQUEST_BYTES {
            return Err(ReplayError::TooLarge { size: bytes.len() });
        }
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let v: Version =
            serde_json::from_slice(bytes).map_err(|e| ReplayError::Malformed(e.to_string()))?;
        if v.version != REPLAY_VERSION {
            return Err(ReplayError::Version(v.version));
        }
        let r: ReplayRequest =
            serde_json::from_slice(bytes).map_err(|e| ReplayError::Malformed(e.to_string()))?;
        let (from, to) = (r.from_seq, r.to_seq);
        if from > to {
            return Err(ReplayError::Reversed { from, to });
        }
        if to - from >= MAX_REPLAY_SPAN {
            return Err(ReplayError::TooWide { from, to });
        }
        Ok(r)
    }
}

/// The agent's answer to one [`ReplayRequest`], published (QoS 1, not retained) on
/// [`replay_report_topic`] after the re-sent readings (which go out on the data topic with the
/// bytes first published):
/// `{"version":1,"device":"incomer","from_seq":40,"to_seq":45,"resent":4,"unavailable":[[44,45]]}`.
///
/// `from_seq..=to_seq` is the range this report covers: the request's, except that `to_seq` is
/// lower when the agent capped the work for one request; the rest can be asked for again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayReport {
    pub version: u32,
    pub device: String,
    pub from_seq: u64,
    pub to_seq: u64,
    /// Readings published again.
    pub resent: u64,
    /// Inclusive sub-ranges the agent cannot provide: evicted by the spool budget, past
    /// `spool_retention`, damaged on disk, or never produced (above the device's last seq).
    pub unavailable: Vec<[u64; 2]>,
}

impl ReplayReport {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a ReplayReport always serialises")
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, ReplayError> {
        let r: ReplayReport =
            serde_json::from_slice(bytes).map_err(|e| ReplayError::Malformed(e.to_string()))?;
        if r.version != REPLAY_VERSION {
            return Err(ReplayError::Version(r.version));
        }
        Ok(r)
    }
}

/// Largest payload the gateway stores. A poll of a few hundred quantities is ~30 KB; anything
/// far beyond is not a poll and is dead-lettered (with only its first bytes kept).
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// The one rule for site and device ids, in the site file and on the wire: 1-64 ASCII letters,
/// digits, `-` or `_` (safe in MQTT topics, series names and file names).
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The result of one poll of one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicePoll {
    pub version: u32,
    pub site: String,
    pub device: String,
    /// Per-device sequence number, +1 per poll, so a consumer can see gaps and replays.
    pub seq: u64,
    /// When the poll started (UTC).
    pub ts: DateTime<Utc>,
    pub readings: Vec<Reading>,
}

/// One quantity of one poll, always in the quantity's canonical unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reading {
    /// Canonical names are `'static` on the agent side (no allocation per reading); a parsed
    /// payload owns its strings.
    pub quantity: Cow<'static, str>,
    /// `None` whenever `quality` is not `good`: nothing is invented for a value we did not get.
    pub value: Option<f64>,
    pub unit: Cow<'static, str>,
    pub quality: Quality,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    /// Read and decoded without complaint.
    Good,
    /// The device reported its "not available" sentinel.
    Unavailable,
    /// The read failed (exception response) or decoded to NaN/∞.
    Bad,
}

/// Why a payload was refused. The text is what a dead-letter row shows.
#[derive(Debug, Error, PartialEq)]
pub enum PayloadError {
    #[error("malformed JSON: {0}")]
    Malformed(String),
    #[error("unsupported schema version {0} (this build reads version {SCHEMA_VERSION})")]
    Version(u32),
    #[error("reading {index}: {source}")]
    Vocabulary {
        index: usize,
        source: vocab::VocabError,
    },
    #[error("reading {index} ({quantity}): unit `{unit}` is not the canonical `{expected}`")]
    Unit {
        index: usize,
        quantity: String,
        unit: String,
        expected: &'static str,
    },
    #[error("reading {index} ({quantity}): quality is good but value is {value}")]
    BadValue {
        index: usize,
        quantity: String,
        value: String,
    },
    #[error("timestamp {0} is more than {MAX_FUTURE_SECONDS} s in the future")]
    Future(DateTime<Utc>),
    #[error("{field} `{value}` is not an id (1-64 letters, digits, `-` or `_`)")]
    Identifier { field: &'static str, value: String },
    #[error("reading {index} ({quantity}): quantity appears more than once in one poll")]
    Duplicate { index: usize, quantity: String },
    #[error("payload of {size} bytes is larger than the {MAX_PAYLOAD_BYTES}-byte limit")]
    TooLarge { size: usize },
}

/// Clock skew tolerated between an agent and the gateway.
pub const MAX_FUTURE_SECONDS: i64 = 300;

impl DevicePoll {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a DevicePoll always serialises")
    }

    /// Parses and validates a payload received at `now`.
    pub fn parse(bytes: &[u8], now: DateTime<Utc>) -> Result<Self, PayloadError> {
        if bytes.len() > MAX_PAYLOAD_BYTES {
            return Err(PayloadError::TooLarge { size: bytes.len() });
        }
        // Check the version first so a future schema gets a precise reason, not a field error.
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let v: Version =
            serde_json::from_slice(bytes).map_err(|e| PayloadError::Malformed(e.to_string()))?;
        if v.version != SCHEMA_VERSION {
            return Err(PayloadError::Version(v.version));
        }
        let poll: DevicePoll =
            serde_json::from_slice(bytes).map_err(|e| PayloadError::Malformed(e.to_string()))?;
        poll.validate(now)?;
        Ok(poll)
    }

    fn validate(&self, now: DateTime<Utc>) -> Result<(), PayloadError> {
        if self.ts > now + Duration::seconds(MAX_FUTURE_SECONDS) {
            return Err(PayloadError::Future(self.ts));
        }
        for (field, value) in [("site", &self.site), ("device", &self.device)] {
            if !is_identifier(value) {
                return Err(PayloadError::Identifier {
                    field,
                    // Cut: the id may be the hostile part of the message.
                    value: value.chars().take(80).collect(),
                });
            }
        }
        // Which value would win is not ours to guess: a repeated quantity refuses the poll.
        let mut seen = std::collections::HashSet::with_capacity(self.readings.len());
        for (index, r) in self.readings.iter().enumerate() {
            if !seen.insert(r.quantity.as_ref()) {
                return Err(PayloadError::Duplicate {
                    index,
                    quantity: r.quantity.to_string(),
                });
            }
        }
        for (index, r) in self.readings.iter().enumerate() {
            let q = vocab::quantity(&r.quantity)
                .map_err(|source| PayloadError::Vocabulary { index, source })?;
            if r.unit != q.unit {
                return Err(PayloadError::Unit {
                    index,
                    quantity: r.quantity.to_string(),
                    unit: r.unit.to_string(),
                    expected: q.unit,
                });
            }
            if r.quality == Quality::Good && !r.value.is_some_and(f64::is_finite) {
                return Err(PayloadError::BadValue {
                    index,
                    quantity: r.quantity.to_string(),
                    value: r.value.map_or("missing".into(), |v| v.to_string()),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DevicePoll {
        DevicePoll {
            version: SCHEMA_VERSION,
            site: "s".into(),
            device: "d".into(),
            seq: 7,
            ts: "2026-01-01T00:00:00Z".parse().unwrap(),
            readings: vec![Reading {
                quantity: "active_power".into(),
                value: Some(1.5),
                unit: "kW".into(),
                quality: Quality::Good,
            }],
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:01Z".parse().unwrap()
    }

    #[test]
    fn round_trip() {
        let p = sample();
        assert_eq!(DevicePoll::parse(&p.to_json(), now()).unwrap(), p);
    }

    #[test]
    fn rejects_what_it_cannot_trust() {
        assert!(matches!(
            DevicePoll::parse(b"{not json", now()),
            Err(PayloadError::Malformed(_))
        ));
        let mut p = sample();
        p.version = 2;
        assert_eq!(
            DevicePoll::parse(&p.to_json(), now()),
            Err(PayloadError::Version(2))
        );
        let mut p = sample();
        p.readings[0].unit = "W".into();
        assert!(matches!(
            DevicePoll::parse(&p.to_json(), now()),
            Err(PayloadError::Unit { .. })
        ));
        let mut p = sample();
        p.readings[0].quantity = "bogus".into();
        assert!(matches!(
            DevicePoll::parse(&p.to_json(), now()),
            Err(PayloadError::Vocabulary { .. })
        ));
        // NaN serialises as null: a "good" reading without a value is refused.
        let mut p = sample();
        p.readings[0].value = Some(f64::NAN);
        assert!(matches!(
            DevicePoll::parse(&p.to_json(), now()),
            Err(PayloadError::BadValue { .. })
        ));
        let mut p = sample();
        p.ts = now() + Duration::hours(1);
        assert!(matches!(
            DevicePoll::parse(&p.to_json(), now()),
            Err(PayloadError::Future(_))
        ));
        let mut p = sample();
        p.readings.push(p.readings[0].clone());
        assert_eq!(
            DevicePoll::parse(&p.to_json(), now()),
            Err(PayloadError::Duplicate {
                index: 1,
                quantity: "active_power".into()
            })
        );
        for bad in ["", "a/b", "+", "#", "x y", &"a".repeat(65)] {
            let mut p = sample();
            p.device = bad.into();
            assert!(
                matches!(
                    DevicePoll::parse(&p.to_json(), now()),
                    Err(PayloadError::Identifier {
                        field: "device",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        let big = vec![b' '; MAX_PAYLOAD_BYTES + 1];
        assert_eq!(
            DevicePoll::parse(&big, now()),
            Err(PayloadError::TooLarge {
                size: MAX_PAYLOAD_BYTES + 1
            })
        );
    }

    #[test]
    fn topics() {
        assert_eq!(
            data_topic("plant", "incomer"),
            "kilowatch/v1/plant/incomer/data"
        );
        assert_eq!(
            replay_request_topic("plant", "incomer"),
            "kilowatch/v1/plant/incomer/replay"
        );
        assert_eq!(
            replay_report_topic("plant", "incomer"),
            "kilowatch/v1/plant/incomer/replayed"
        );
        assert_eq!(
            replay_request_subscription("plant"),
            "kilowatch/v1/plant/+/replay"
        );
    }

    #[test]
    fn replay_request_round_trip_and_wire_format() {
        let r = ReplayRequest::new("incomer", 40, 41);
        assert_eq!(
            String::from_utf8(r.to_json()).unwrap(),
            r#"{"version":1,"device":"incomer","from_seq":40,"to_seq":41}"#
        );
        assert_eq!(ReplayRequest::parse(&r.to_json()).unwrap(), r);
        // A single reading is a range of one.
        assert!(ReplayRequest::parse(&ReplayRequest::new("d", 5, 5).to_json()).is_ok());
    }

    #[test]
    fn replay_request_refuses_what_it_cannot_serve() {
        assert!(matches!(
            ReplayRequest::parse(b"{not json"),
            Err(ReplayError::Malformed(_))
        ));
        assert!(matches!(
            ReplayRequest::parse(br#"{"version":1,"device":"d","from_seq":1}"#),
            Err(ReplayError::Malformed(_))
        ));
        assert!(matches!(
            ReplayRequest::parse(br#"{"version":1,"device":"d","from_seq":1,"to_seq":2,"x":0}"#),
            Err(ReplayError::Malformed(_))
        ));
        assert!(matches!(
            ReplayRequest::parse(br#"{"version":1,"device":"d","from_seq":-1,"to_seq":2}"#),
            Err(ReplayError::Malformed(_))
        ));
        assert_eq!(
            ReplayRequest::parse(br#"{"version":2,"device":"d","from_seq":1,"to_seq":2}"#),
            Err(ReplayError::Version(2))
        );
        assert_eq!(
            ReplayRequest::parse(&ReplayRequest::new("d", 9, 8).to_json()),
            Err(ReplayError::Reversed { from: 9, to: 8 })
        );
        let wide = ReplayRequest::new("d", 1, MAX_REPLAY_SPAN + 1);
        assert_eq!(
            ReplayRequest::parse(&wide.to_json()),
            Err(ReplayError::TooWide {
                from: 1,
                to: MAX_REPLAY_SPAN + 1
            })
        );
        assert!(
            ReplayRequest::parse(&ReplayRequest::new("d", 1, MAX_REPLAY_SPAN).to_json()).is_ok()
        );
        assert!(ReplayRequest::parse(&ReplayRequest::new("d", 0, u64::MAX).to_json()).is_err());
    }

    #[test]
    fn replay_report_round_trip_and_wire_format() {
        let r = ReplayReport {
            version: REPLAY_VERSION,
            device: "incomer".into(),
            from_seq: 40,
            to_seq: 45,
            resent: 4,
            unavailable: vec![[44, 45]],
        };
        assert_eq!(
            String::from_utf8(r.to_json()).unwrap(),
            r#"{"version":1,"device":"incomer","from_seq":40,"to_seq":45,"resent":4,"unavailable":[[44,45]]}"#
        );
        assert_eq!(ReplayReport::parse(&r.to_json()).unwrap(), r);
        assert!(ReplayReport::parse(br#"{"version":1}"#).is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    /// JSON-ish values: every JSON type, nested, with the field names a payload uses.
    fn json() -> impl Strategy<Value = serde_json::Value> {
        let key = prop_oneof![
            Just("version".to_owned()),
            Just("site".to_owned()),
            Just("device".to_owned()),
            Just("seq".to_owned()),
            Just("ts".to_owned()),
            Just("readings".to_owned()),
            Just("quantity".to_owned()),
            Just("value".to_owned()),
            Just("unit".to_owned()),
            Just("quality".to_owned()),
            "\\PC{0,8}",
        ];
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            Just(serde_json::json!(SCHEMA_VERSION)),
            Just(serde_json::json!("2026-01-01T00:00:00Z")),
            Just(serde_json::json!("+262143-12-31T23:59:59Z")),
            Just(serde_json::json!("active_power")),
            Just(serde_json::json!("good")),
            "\\PC{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::btree_map(key.clone(), inner, 0..8)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = DevicePoll::parse(&bytes, now());
        }

        #[test]
        fn arbitrary_json_never_panics(v in json()) {
            let _ = DevicePoll::parse(v.to_string().as_bytes(), now());
        }

        #[test]
        fn well_formed_polls_with_arbitrary_fields_never_panic(
            seq in any::<u64>(),
            ts in prop_oneof![
                Just("+262143-12-31T23:59:59.999Z".to_owned()),
                Just("-262143-01-01T00:00:00Z".to_owned()),
                "\\PC{0,30}",
            ],
            quantity in "\\PC{0,20}",
            value in prop_oneof![Just(serde_json::Value::Null), any::<f64>().prop_map(serde_json::Value::from)],
            unit in "\\PC{0,6}",
            quality in prop::sample::select(vec!["good", "bad", "unavailable", "other"]),
        ) {
            let v = serde_json::json!({
                "version": SCHEMA_VERSION, "site": "s", "device": "d", "seq": seq, "ts": ts,
                "readings": [{ "quantity": quantity, "value": value, "unit": unit, "quality": quality }],
            });
            if let Ok(p) = DevicePoll::parse(v.to_string().as_bytes(), now()) {
                // What is accepted is re-accepted unchanged after a round trip.
                prop_assert_eq!(DevicePoll::parse(&p.to_json(), now()), Ok(p));
            }
        }
    }
}
