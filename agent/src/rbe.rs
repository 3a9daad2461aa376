//! Report by exception: of each poll, only the readings that moved by more than their deadband
//! (instantaneous quantities), changed at all (counters, states), changed quality, or have been
//! silent for the heartbeat are kept; a poll left with no reading is not spooled at all. It
//! runs before the spool, so `seq` still numbers every spooled poll without a gap.
//!
//! What the gateway computes stays as exact as without it:
//! - A counter is reported whenever it changes, so every increment reaches the gateway; the
//!   values it did not get are equal to the last one it has.
//! - When a reading is reported after its value was held back in the poll just before, that
//!   poll's value is reported too (a message of its own at that poll's time, ahead of the
//!   current one): the gateway's trapezoids then see the step where it happened, not a ramp
//!   across the whole silence, so integrals (kW → kWh, hours loaded) are off by at most the
//!   deadband, and counters' increments are credited to the same buckets as without it.
//! - The heartbeat is at most the gateway's gap limit (checked in the site file), so the
//!   gateway bridges every silence, holding the value across it.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use kilowatch_site::config::ReportByException;
use kilowatch_site::payload::{DevicePoll, Quality, Reading};

/// What was last reported of one quantity, and what was held back in the last poll.
struct Track {
    value: Option<f64>,
    quality: Quality,
    at: DateTime<Utc>,
    /// The reading of the last poll if it was held back.
    held: Option<(DateTime<Utc>, Reading)>,
}

/// The filter of one device.
pub struct Rbe {
    config: ReportByException,
    /// Half a poll interval: a heartbeat due within it is sent now rather than one poll late.
    slack: chrono::Duration,
    tracks: HashMap<String, Track>,
}

impl Rbe {
    pub fn new(config: ReportByException, interval: Duration) -> Self {
        Self {
            config,
            slack: chrono::Duration::from_std(interval / 2).unwrap_or_default(),
            tracks: HashMap::new(),
        }
    }

    /// The polls to spool for `poll`, in order: none, the current one, or the previous poll's
    /// held-back values followed by the current one.
    pub fn filter(&mut self, mut poll: DevicePoll) -> Vec<DevicePoll> {
        let heartbeat = chrono::Duration::from_std(self.config.heartbeat).unwrap_or_default();
        let mut before: Vec<Reading> = Vec::new();
        let mut before_ts = None;
        let readings = std::mem::take(&mut poll.readings);
        for r in readings {
            let deadband = self.config.deadband_of(&r.quantity);
            let ts = poll.ts;
            let track = self.tracks.get_mut(r.quantity.as_ref());
            // A change (not a heartbeat) also sends the value held back just before it.
            let (changed, beat) = match &track {
                None => (true, false),
                Some(t) => (
                    t.quality != r.quality
                        || match (t.value, r.value) {
                            (Some(last), Some(v)) => match deadband {
                                Some(d) => d.exceeded(last, v),
                                None => v != last,
                            },
                            (a, b) => a.is_some() != b.is_some(),
                        },
                    ts - t.at + self.slack >= heartbeat,
                ),
            };
            let report = changed || beat;
            match track {
                Some(t) if !report => t.held = Some((ts, r)),
                Some(t) => {
                    if let Some((held_ts, held)) = t.held.take().filter(|_| changed) {
                        before_ts = Some(held_ts);
                        before.push(held);
                    }
                    (t.value, t.quality, t.at) = (r.value, r.quality, ts);
                    poll.readings.push(r);
                }
                None => {
                    let track = Track {
                        value: r.value,
                        quality: r.quality,
                        at: ts,
                        held: None,
                    };
                    self.tracks.insert(r.quantity.to_string(), track);
                    poll.readings.push(r);
                }
            }
        }
        // Held values older than the poll just before are superseded by this poll's.
        for t in self.tracks.values_mut() {
            if t.held.as_ref().is_some_and(|(at, _)| *at < poll.ts) {
                t.held = None;
            }
        }
        let mut out = Vec::with_capacity(2);
        if let Some(ts) = before_ts {
            out.push(DevicePoll {
                ts,
                readings: before,
                ..poll.clone()
            });
        }
        if !poll.readings.is_empty() {
            out.push(poll);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kilowatch_site::config::Deadband;
    use kilowatch_site::payload::SCHEMA_VERSION;

    fn poll(s: i64, values: &[(&'static str, f64)]) -> DevicePoll {
        DevicePoll {
            version: SCHEMA_VERSION,
            site: "s".into(),
            device: "d".into(),
            seq: 0,
            ts: DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap(),
            readings: values
                .iter()
                .map(|&(q, v)| Reading {
                    quantity: q.into(),
                    value: Some(v),
                    unit: kilowatch_site::vocab::quantity(q).unwrap().unit.into(),
                    quality: Quality::Good,
                })
                .collect(),
        }
    }

    fn rbe() -> Rbe {
        let mut c = ReportByException {
            enabled: true,
            heartbeat: Duration::from_secs(60),
            ..Default::default()
        };
        c.deadband
            .insert("active_power".into(), Deadband::Absolute(1.0));
        Rbe::new(c, Duration::from_secs(1))
    }

    fn sent(out: &[DevicePoll]) -> Vec<(i64, Vec<(String, f64)>)> {
        out.iter()
            .map(|p| {
                (
                    p.ts.timestamp() - 1_700_000_000,
                    p.readings
                        .iter()
                        .map(|r| (r.quantity.to_string(), r.value.unwrap()))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn deadband_heartbeat_and_the_value_before_a_step() {
        let mut f = rbe();
        let e = "active_energy_import";
        assert_eq!(
            sent(&f.filter(poll(0, &[("active_power", 10.0), (e, 5.0)]))).len(),
            1
        );
        // Within the deadband, counter unchanged: nothing spooled.
        assert!(f
            .filter(poll(1, &[("active_power", 10.5), (e, 5.0)]))
            .is_empty());
        assert!(f
            .filter(poll(2, &[("active_power", 10.9), (e, 5.0)]))
            .is_empty());
        // A step: the value held back at 2 s goes first, then the new one.
        assert_eq!(
            sent(&f.filter(poll(3, &[("active_power", 20.0), (e, 5.0)]))),
            vec![
                (2, vec![("active_power".into(), 10.9)]),
                (3, vec![("active_power".into(), 20.0)])
            ]
        );
        // The counter is reported on any change, however small (after its value just before).
        assert_eq!(
            sent(&f.filter(poll(4, &[("active_power", 20.0), (e, 5.001)]))),
            vec![(3, vec![(e.into(), 5.0)]), (4, vec![(e.into(), 5.001)])]
        );
        // Heartbeat: silent for 60 s (less half an interval), reported again.
        for s in 5..63 {
            assert!(
                f.filter(poll(s, &[("active_power", 20.0), (e, 5.001)]))
                    .is_empty(),
                "{s}"
            );
        }
        let beat = sent(&f.filter(poll(63, &[("active_power", 20.0), (e, 5.001)])));
        assert_eq!(beat, vec![(63, vec![("active_power".into(), 20.0)])]);
        let beat = sent(&f.filter(poll(64, &[("active_power", 20.0), (e, 5.001)])));
        assert_eq!(beat, vec![(64, vec![(e.into(), 5.001)])]);
    }

    #[test]
    fn quality_changes_are_reported() {
        let mut f = rbe();
        f.filter(poll(0, &[("active_power", 10.0)]));
        let mut bad = poll(1, &[("active_power", 10.0)]);
        bad.readings[0].value = None;
        bad.readings[0].quality = Quality::Bad;
        assert_eq!(f.filter(bad).len(), 1);
        assert_eq!(f.filter(poll(2, &[("active_power", 10.0)])).len(), 1);
    }
}
