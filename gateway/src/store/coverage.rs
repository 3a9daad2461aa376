//! Whether a quarter-hour's readings of a series are all in: what the quarterly alarm rules
//! ask before judging one. A gateway catching up on a backlog (or a demo clock running ahead
//! of a loaded machine) has part of a closed quarter-hour's readings stored, or not yet rolled
//! up; judged then, the quarter-hour would be judged from part of its data as if whole.

use rusqlite::params;

use super::{Store, StoreError};

/// What the store holds of one series' readings over an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Readings run from before its start (within the gap limit) to past its end, all rolled
    /// up.
    Complete,
    /// Readings in it, but none yet past its end, or some not yet rolled up: more may come.
    Pending,
    /// Its readings begin inside it: its start was not seen (the gateway or device started).
    Partial,
    /// No readings in it: a silent device, nothing to wait for (what needs it has no value).
    Silent,
}

impl Store {
    /// The coverage of series `id`'s readings over [from, to) (ms).
    pub fn coverage(&self, id: i64, from: i64, to: i64) -> Result<Coverage, StoreError> {
        // Samples, or 1-minute rollups where samples are not kept (InfluxDB only).
        let any = |a: i64, b: i64| -> Result<bool, StoreError> {
            Ok(self.conn.prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM samples WHERE series_id = ?1 AND ts >= ?2 AND ts < ?3)
                     OR EXISTS(SELECT 1 FROM rollups
                               WHERE series_id = ?1 AND res = 60 AND bucket >= ?2 AND bucket < ?3)",
            )?
            .query_row(params![id, a, b], |r| r.get(0))?)
        };
        if !any(from, to)? {
            return Ok(Coverage::Silent);
        }
        if !any(from - self.settings.gap_limit_ms.max(60_000), from)? {
            return Ok(Coverage::Partial);
        }
        // The minute before counts: its last reading pairs with the interval's first.
        let dirty: bool = self
            .conn
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM rollup_dirty
                               WHERE series_id = ?1 AND bucket >= ?2 AND bucket < ?3)",
            )?
            .query_row(params![id, from - 60_000, to], |r| r.get(0))?;
        if dirty || !any(to, i64::MAX)? {
            return Ok(Coverage::Pending);
        }
        Ok(Coverage::Complete)
    }
}

#[cfg(test)]
mod tests {
    use kilowatch_site::payload::{DevicePoll, Quality, Reading, SCHEMA_VERSION};

    use super::*;
    use crate::store::Incoming;

    /// Device `device`'s power every 10 s in [from, to).
    fn put(store: &mut Store, device: &str, from: i64, to: i64) {
        let polls: Vec<Incoming> = (0..)
            .map(|k| from + k * 10_000)
            .take_while(|t| *t < to)
            .enumerate()
            .map(|(seq, ts)| {
                Incoming::Poll(DevicePoll {
                    version: SCHEMA_VERSION,
                    site: "p".into(),
                    device: device.into(),
                    seq: seq as u64 + 1,
                    ts: chrono::DateTime::from_timestamp_millis(ts).unwrap(),
                    readings: vec![Reading {
                        quantity: "active_power".into(),
                        value: Some(50.0),
                        unit: "kW".into(),
                        quality: Quality::Good,
                    }],
                })
            })
            .collect();
        store.write(&polls).unwrap();
    }

    fn roll_up(store: &mut Store) {
        while store.refresh_rollups(10_000).unwrap() > 0 {}
    }

    #[test]
    fn a_quarter_is_complete_once_readings_run_past_it_and_are_rolled_up() {
        let dir = std::env::temp_dir().join(format!("kw-coverage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut store = Store::open(&dir.join("c.db")).unwrap();
        let q = 1_800_000_000_000; // on a quarter-hour
        let end = q + 900_000;
        let id = |store: &mut Store, d: &str| store.ensure_series("p", d, "active_power", "kW");
        // Through the quarter-hour and on, but not yet rolled up; then rolled up.
        put(&mut store, "a", q - 120_000, end + 60_000);
        let a = id(&mut store, "a").unwrap();
        assert_eq!(store.coverage(a, q, end).unwrap(), Coverage::Pending);
        roll_up(&mut store);
        assert_eq!(store.coverage(a, q, end).unwrap(), Coverage::Complete);
        // Readings up to the end but none past it yet: they may still be on their way.
        put(&mut store, "b", q - 120_000, end);
        roll_up(&mut store);
        let b = id(&mut store, "b").unwrap();
        assert_eq!(store.coverage(b, q, end).unwrap(), Coverage::Pending);
        // Begun inside it; nothing in the one before.
        put(&mut store, "c", q + 300_000, end + 60_000);
        roll_up(&mut store);
        let c = id(&mut store, "c").unwrap();
        assert_eq!(store.coverage(c, q, end).unwrap(), Coverage::Partial);
        assert_eq!(store.coverage(c, q - 900_000, q).unwrap(), Coverage::Silent);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
