//! Helpers of the spool's unit tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{TimeZone, Utc};

use super::{Record, Spool, SpoolConfig};
use kilowatch_site::payload::{DevicePoll, Quality, Reading, SCHEMA_VERSION};

pub(super) fn poll(device: &str, i: i64) -> DevicePoll {
    DevicePoll {
        version: SCHEMA_VERSION,
        site: "s".into(),
        device: device.into(),
        seq: 0,
        ts: Utc
            .timestamp_millis_opt(1_700_000_000_000 + i * 1000)
            .unwrap(),
        readings: vec![Reading {
            quantity: "active_power".into(),
            value: Some(i as f64),
            unit: "kW".into(),
            quality: Quality::Good,
        }],
    }
}

pub(super) fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kw-spool-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

pub(super) fn open(d: &Path, budget: u64) -> Spool {
    Spool::open(SpoolConfig {
        dir: d.to_owned(),
        budget,
        fsync: false,
        retention: Duration::from_secs(86_400),
    })
    .unwrap()
}

pub(super) fn drain(s: &mut Spool) -> Vec<Record> {
    std::iter::from_fn(|| s.next_unsent().unwrap()).collect()
}

pub(super) fn recent(device: &str, ago: i64) -> DevicePoll {
    let mut p = poll(device, 0);
    p.ts = Utc::now() - chrono::Duration::seconds(ago);
    p
}

pub(super) fn seqs_of(records: &[Record]) -> Vec<u64> {
    records.iter().map(|r| r.seq).collect()
}
