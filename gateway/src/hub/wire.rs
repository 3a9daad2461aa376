//! The records a site sends to the hub: topic `<prefix>/<site>/<kind>`, a JSON payload
//! carrying its idempotency key (site, kind, key) and version. A record delivered twice, or
//! an older version after a newer one, changes nothing at the hub.

use serde::{Deserialize, Serialize};

use kilowatch_site::config::HubKind;
use kilowatch_site::payload::is_identifier;

/// The payload format's version (`v`).
pub const WIRE_VERSION: u32 = 1;

/// Keys longer than this are refused (a key names a device, quantity and bucket).
pub const MAX_KEY: usize = 512;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub v: u32,
    pub site: String,
    pub kind: String,
    pub key: String,
    /// Grows with every change of the record at the site.
    pub version: i64,
    /// The time the record is about (bucket start, transition), ms since the epoch.
    pub at: Option<i64>,
    pub body: serde_json::Value,
}

pub fn topic(prefix: &str, site: &str, kind: &str) -> String {
    format!("{prefix}/{site}/{kind}")
}

/// Why a message is not a record.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("not JSON of a hub record: {0}")]
    Json(#[from] serde_json::Error),
    #[error("payload format v{0}, this hub reads v{hub}", hub = WIRE_VERSION)]
    Version(u32),
    #[error("topic {0} is not <prefix>/<site>/<kind>")]
    Topic(String),
    #[error("the payload's {what} `{payload}` differs from the topic's `{topic}`")]
    Mismatch {
        what: &'static str,
        payload: String,
        topic: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Reads and checks a message received on `topic` (under `prefix`).
pub fn parse(prefix: &str, topic: &str, payload: &[u8]) -> Result<Record, WireError> {
    let rest = topic
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| WireError::Topic(topic.to_owned()))?;
    let (site, kind) = rest
        .split_once('/')
        .filter(|(_, k)| !k.contains('/'))
        .ok_or_else(|| WireError::Topic(topic.to_owned()))?;
    let r: Record = serde_json::from_slice(payload)?;
    if r.v != WIRE_VERSION {
        return Err(WireError::Version(r.v));
    }
    for (what, p, t) in [("site", &r.site, site), ("kind", &r.kind, kind)] {
        if p != t {
            return Err(WireError::Mismatch {
                what,
                payload: p.clone(),
                topic: t.to_owned(),
            });
        }
    }
    if !is_identifier(&r.site) {
        return Err(WireError::Invalid(format!(
            "site `{}` is not an identifier",
            r.site
        )));
    }
    if HubKind::parse(&r.kind).is_none() {
        return Err(WireError::Invalid(format!("unknown kind `{}`", r.kind)));
    }
    if r.key.is_empty() || r.key.len() > MAX_KEY {
        return Err(WireError::Invalid(format!(
            "key must be 1-{MAX_KEY} bytes, is {}",
            r.key.len()
        )));
    }
    if r.version <= 0 {
        return Err(WireError::Invalid(format!(
            "version {} is not positive",
            r.version
        )));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> Record {
        Record {
            v: 1,
            site: "plant-a".into(),
            kind: "rollup".into(),
            key: "m/active_power/0".into(),
            version: 5,
            at: Some(0),
            body: serde_json::json!({"avg": 1.0}),
        }
    }

    #[test]
    fn round_trips_and_checks_the_topic() {
        let p = "kilowatch/v1/hub";
        let bytes = serde_json::to_vec(&rec()).unwrap();
        assert_eq!(
            parse(p, "kilowatch/v1/hub/plant-a/rollup", &bytes).unwrap(),
            rec()
        );
        assert!(matches!(
            parse(p, "kilowatch/v1/hub/plant-b/rollup", &bytes),
            Err(WireError::Mismatch { what: "site", .. })
        ));
        assert!(matches!(
            parse(p, "other/plant-a/rollup", &bytes),
            Err(WireError::Topic(_))
        ));
        assert!(matches!(
            parse(p, "kilowatch/v1/hub/plant-a/rollup", b"{"),
            Err(WireError::Json(_))
        ));
        let mut bad = rec();
        bad.version = 0;
        let bytes = serde_json::to_vec(&bad).unwrap();
        assert!(parse(p, "kilowatch/v1/hub/plant-a/rollup", &bytes).is_err());
    }
}
