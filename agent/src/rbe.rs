//! Report by exception: of each poll, only the readings that moved by more than their deadband
//! (instantaneous quantities), changed at all (counters, states), changed quality, or have been
//! silent for the heartbeat are kept; a poll left with no reading is not spooled at all. It
//! runs before the spool, so `seq` still numbers every spooled poll without a gap.
//!
//! What the gateway computes stays as exact as without it:
//! - A value not reported is within the deadband of the last one reported (a counter or a
//!   state: equal to it), and the gateway knows it: it reads the same site file, and for a site
//!   that reports by exception it holds each value from its time until the next sample
//!   (`gateway::rollup::aggregate_held`). So an integral (kW → kWh, hours loaded) is off by at
//!   most the deadband, plus, at each step, the half poll interval over which the gateway's
//!   trapezoids would ramp without it; counters' increments are exact and credited to the same
//!   buckets as without it.
//! - The heartbeat is at most the gateway's gap limit (checked in the site file), so the
//!   gateway bridges every silence, holding the value across it.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use kilowatch_site::config::ReportByException;
use kilowatch_site::payload::{DevicePoll, Quality};

/// What was last reported of one quantity.
struct Track {
    value: Option<f64>,
    quality: Quality,
    at: DateTime<Utc>,
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

    /// The poll to spool for `poll`: the readings to report, or `None` if none is.
    pub fn filter(&mut self, mut poll: DevicePoll) -> Option<DevicePoll> {
        let heartbeat = chrono::Duration::from_std(self.config.heartbeat).unwrap_or_default();
        let ts = poll.ts;
        let readings = std::mem::take(&mut poll.readings);
        for r in readings {
            let deadband = self.config.deadband_of(&r.quantity);
            let report = match self.tracks.get(r.quantity.as_ref()) {
                None => true,
                Some(t) => {
                    t.quality != r.quality
                        || ts - t.at + self.slack >= heartbeat
                        || match (t.value, r.value) {
                            (Some(last), Some(v)) => match deadband {
                                Some(d) => d.exceeded(last, v),
                                None => v != last,
                            },
                            (a, b) => a.is_some() != b.is_some(),
                        }
                }
            };
            if report {
                let track = Track {
                    value: r.value,
                    quality: r.quality,
                    at: ts,
                };
                self.tracks.insert(r.quantity.to_string(), track);
                poll.readings.push(r);
            }
        }
        (!poll.readings.is_empty()).then_some(poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kilowatch_site::config::Deadband;
    use kilowatch_site::payload::{Reading, SCHEMA_VERSION};

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

    fn sent(out: Option<DevicePoll>) -> Option<(i64, Vec<(String, f64)>)> {
        out.map(|p| {
            (
                p.ts.timestamp() - 1_700_000_000,
                p.readings
                    .iter()
                    .map(|r| (r.quantity.to_string(), r.value.unwrap()))
                    .collect(),
            )
        })
    }

    #[test]
    fn deadband_changes_and_heartbeat() {
        let mut f = rbe();
        let e = "active_energy_import";
        let mut send = |s, values: &[(&'static str, f64)]| sent(f.filter(poll(s, values)));
        assert_eq!(
            send(0, &[("active_power", 10.0), (e, 5.0)]),
            Some((0, vec![("active_power".into(), 10.0), (e.into(), 5.0)]))
        );
        // Within the deadband, counter unchanged: nothing spooled.
        assert_eq!(send(1, &[("active_power", 10.5), (e, 5.0)]), None);
        assert_eq!(send(2, &[("active_power", 10.9), (e, 5.0)]), None);
        // A step: only the new value, in one message (the gateway holds 10.0 until it).
        assert_eq!(
            send(3, &[("active_power", 20.0), (e, 5.0)]),
            Some((3, vec![("active_power".into(), 20.0)]))
        );
        // The counter is reported on any change, however small.
        assert_eq!(
            send(4, &[("active_power", 20.0), (e, 5.001)]),
            Some((4, vec![(e.into(), 5.001)]))
        );
        // Heartbeat: silent for 60 s (less half an interval), reported again.
        for s in 5..63 {
            assert_eq!(send(s, &[("active_power", 20.0), (e, 5.001)]), None, "{s}");
        }
        assert_eq!(
            send(63, &[("active_power", 20.0), (e, 5.001)]),
            Some((63, vec![("active_power".into(), 20.0)]))
        );
        assert_eq!(
            send(64, &[("active_power", 20.0), (e, 5.001)]),
            Some((64, vec![(e.into(), 5.001)]))
        );
        // The deadband is measured from the last value reported, not the last polled: a slow
        // drift is reported once it has gone past it.
        assert_eq!(send(65, &[("active_power", 20.6), (e, 5.001)]), None);
        assert_eq!(
            send(66, &[("active_power", 21.2), (e, 5.001)]),
            Some((66, vec![("active_power".into(), 21.2)]))
        );
    }

    #[test]
    fn quality_changes_are_reported() {
        let mut f = rbe();
        f.filter(poll(0, &[("active_power", 10.0)]));
        let mut bad = poll(1, &[("active_power", 10.0)]);
        bad.readings[0].value = None;
        bad.readings[0].quality = Quality::Bad;
        assert!(f.filter(bad).is_some());
        assert!(f.filter(poll(2, &[("active_power", 10.0)])).is_some());
    }
}
