//! The transform stage of ingest: one MQTT message becomes a validated poll of this site, or a
//! dead letter that says why. Only what belongs to the site is stored: the payload must parse,
//! name the topic it came on, and come from a device of the site file (or one of the few unknown
//! devices the site admits).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use kilowatch_site::config::SiteConfig;
use kilowatch_site::payload::{data_topic, DevicePoll};

use crate::store::{DeadLetter, Incoming};

/// Bytes of a refused payload kept in the dead-letter table: enough to see what it was, not
/// enough for a hostile publisher to fill the disk.
pub const DEAD_LETTER_KEEP: usize = 4096;

/// Decides what is admitted into the store.
#[derive(Debug, Clone)]
pub struct Gate {
    site: String,
    known: HashSet<String>,
    /// Devices outside the site file that were admitted (kept across restarts through the
    /// series catalogue).
    admitted: HashSet<String>,
    cap: usize,
}

impl Gate {
    /// `catalogued`: this site's devices that already have series in the store (those outside
    /// the site file are admitted again, up to the cap).
    pub fn new(config: &SiteConfig, catalogued: impl IntoIterator<Item = String>) -> Self {
        let known: HashSet<String> = config.devices.iter().map(|d| d.id.clone()).collect();
        let cap = config.gateway.admit_unknown_devices as usize;
        let admitted = catalogued
            .into_iter()
            .filter(|d| !known.contains(d))
            .take(cap)
            .collect();
        Self {
            site: config.site.id.clone(),
            known,
            admitted,
            cap,
        }
    }

    /// Device, seq and poll time of a refused message that still names one of this site's
    /// devices on its own topic: it was delivered, so its number is not a hole to ask for.
    pub fn numbering(&self, topic: &str, payload: &[u8]) -> Option<(String, u64, i64)> {
        #[derive(serde::Deserialize)]
        struct Numbered {
            site: String,
            device: String,
            seq: u64,
            ts: DateTime<Utc>,
        }
        if payload.len() > kilowatch_site::payload::MAX_PAYLOAD_BYTES {
            return None;
        }
        let n: Numbered = serde_json::from_slice(payload).ok()?;
        let ours = n.site == self.site
            && (self.known.contains(&n.device) || self.admitted.contains(&n.device))
            && topic == data_topic(&n.site, &n.device);
        ours.then(|| (n.device, n.seq, n.ts.timestamp_millis()))
    }

    fn admit(&mut self, device: &str) -> Result<(), String> {
        if self.known.contains(device) || self.admitted.contains(device) {
            return Ok(());
        }
        if self.admitted.len() < self.cap {
            tracing::warn!(
                device,
                "admitting a device that is not in the site file ({} of at most {})",
                self.admitted.len() + 1,
                self.cap
            );
            self.admitted.insert(device.to_owned());
            return Ok(());
        }
        Err(if self.cap == 0 {
            format!("device `{device}` is not in the site file")
        } else {
            format!(
                "device `{device}` is not in the site file and the {} unknown devices admitted \
                 (gateway.admit_unknown_devices) are taken",
                self.cap
            )
        })
    }

    /// Turns one message received at `now` into something storable.
    pub fn classify(&mut self, topic: &str, payload: &[u8], now: DateTime<Utc>) -> Incoming {
        let verdict = DevicePoll::parse(payload, now)
            .map_err(|e| e.to_string())
            .and_then(|poll| {
                // The topic names site and device; a payload claiming another is not trusted.
                if poll.site != self.site {
                    return Err(format!(
                        "payload is for site `{}`, this gateway stores `{}`",
                        poll.site, self.site
                    ));
                }
                if topic != data_topic(&poll.site, &poll.device) {
                    return Err(format!(
                        "payload is for {}/{} but arrived on {}",
                        poll.site,
                        poll.device,
                        cut(topic, 200)
                    ));
                }
                self.admit(&poll.device)?;
                Ok(poll)
            });
        match verdict {
            Ok(poll) => Incoming::Poll(poll),
            Err(reason) => Incoming::Dead(dead_letter(topic, payload, reason, now)),
        }
    }
}

/// A refused message, with its size and only its first [`DEAD_LETTER_KEEP`] bytes.
pub fn dead_letter(topic: &str, payload: &[u8], reason: String, now: DateTime<Utc>) -> DeadLetter {
    DeadLetter {
        received: now,
        topic: cut(topic, 1024),
        // Parser messages quote the offending text, which a hostile publisher chooses.
        reason: cut(&reason, 512),
        size: payload.len(),
        payload: payload[..payload.len().min(DEAD_LETTER_KEEP)].to_vec(),
    }
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kilowatch_site::payload::{Quality, Reading, SCHEMA_VERSION};

    fn site(cap: u32) -> SiteConfig {
        let toml = format!(
            r#"
[site]
id = "plant"
[gateway]
admit_unknown_devices = {cap}
[[devices]]
id = "incomer"
profile = "eastron-sdm630"
tcp = "127.0.0.1:502"
"#
        );
        let dir = std::env::temp_dir().join(format!("kw-gate-{cap}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("site.toml");
        std::fs::write(&path, toml).unwrap();
        SiteConfig::load(&path, &kilowatch_site::profile::ProfileLibrary::builtin()).unwrap()
    }

    fn poll(site: &str, device: &str) -> Vec<u8> {
        DevicePoll {
            version: SCHEMA_VERSION,
            site: site.into(),
            device: device.into(),
            seq: 1,
            ts: Utc::now(),
            readings: vec![Reading {
                quantity: "active_power".into(),
                value: Some(1.0),
                unit: "kW".into(),
                quality: Quality::Good,
            }],
        }
        .to_json()
    }

    fn reason(i: Incoming) -> Option<String> {
        match i {
            Incoming::Poll(_) => None,
            Incoming::Dead(d) => Some(d.reason),
        }
    }

    #[test]
    fn only_the_sites_own_devices_are_admitted() {
        let mut g = Gate::new(&site(0), []);
        let now = Utc::now();
        let ok = g.classify(
            "kilowatch/v1/plant/incomer/data",
            &poll("plant", "incomer"),
            now,
        );
        assert_eq!(reason(ok), None);
        let r = reason(g.classify(
            "kilowatch/v1/plant/ghost/data",
            &poll("plant", "ghost"),
            now,
        ));
        assert_eq!(r.unwrap(), "device `ghost` is not in the site file");
        let r = reason(g.classify(
            "kilowatch/v1/other/incomer/data",
            &poll("other", "incomer"),
            now,
        ));
        assert!(r.unwrap().contains("site `other`"));
        let r = reason(g.classify("kilowatch/v1/plant/x/data", &poll("plant", "incomer"), now));
        assert!(r.unwrap().contains("arrived on kilowatch/v1/plant/x/data"));
    }

    #[test]
    fn unknown_devices_are_admitted_up_to_the_cap_and_remembered() {
        let now = Utc::now();
        let mut g = Gate::new(&site(2), ["old".to_string()]);
        // The catalogue never admits more than the cap, whatever it holds.
        let many = (0..100).map(|i| format!("x{i}"));
        assert_eq!(Gate::new(&site(2), many).admitted.len(), 2);
        assert!(Gate::new(&site(0), ["old".to_string()]).admitted.is_empty());
        for (d, ok) in [
            ("old", true),
            ("new", true),
            ("newer", false),
            ("new", true),
        ] {
            let topic = format!("kilowatch/v1/plant/{d}/data");
            let r = reason(g.classify(&topic, &poll("plant", d), now));
            assert_eq!(r.is_none(), ok, "{d}: {r:?}");
        }
    }

    #[test]
    fn a_refused_poll_of_the_site_still_counts_as_delivered() {
        let g = Gate::new(&site(0), []);
        let body = poll("plant", "incomer");
        let topic = "kilowatch/v1/plant/incomer/data";
        assert_eq!(g.numbering(topic, &body).map(|n| n.1), Some(1));
        assert_eq!(g.numbering("kilowatch/v1/plant/x/data", &body), None);
        assert_eq!(g.numbering(topic, &poll("plant", "ghost")), None);
        assert_eq!(g.numbering(topic, b"{"), None);
    }

    #[test]
    fn a_dead_letter_keeps_the_size_and_the_first_bytes() {
        let big = vec![b'x'; 10 << 20];
        let d = dead_letter("t", &big, "x".repeat(100_000), Utc::now());
        assert_eq!((d.size, d.payload.len()), (10 << 20, DEAD_LETTER_KEEP));
        assert_eq!(d.reason.chars().count(), 513, "the reason is cut too");
    }
}
