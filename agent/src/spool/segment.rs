//! Segments: append-only files of records, named by their first record id, and what the spool
//! remembers about each without reading it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const MAX_SEGMENT: u64 = 4 << 20;
const MIN_SEGMENT: u64 = 4 << 10;

/// Size at which a segment is closed and a new one started: small enough that the budget
/// holds several, so evicting one frees a fraction of it.
pub(super) fn segment_limit(budget: u64) -> u64 {
    MAX_SEGMENT.min(budget / 8).max(MIN_SEGMENT)
}

pub(super) fn segment_path(dir: &Path, first_id: u64) -> PathBuf {
    dir.join(format!("{first_id:020}.seg"))
}

#[derive(Debug)]
pub(super) struct Segment {
    pub first_id: u64,
    /// Last record id in the segment; `first_id - 1` while empty.
    pub last_id: u64,
    pub path: PathBuf,
    /// Bytes that hold whole, verified (and, with fsync, durable) records.
    pub bytes: u64,
    /// Poll time of the newest record (`i64::MIN` while empty), for retention.
    pub newest_ms: i64,
    /// Lowest and highest seq per device, so a replay reads only the segments it needs.
    pub seqs: HashMap<String, (u64, u64)>,
}

impl Segment {
    pub fn new(first_id: u64, path: PathBuf) -> Self {
        Segment {
            first_id,
            last_id: first_id - 1,
            path,
            bytes: 0,
            newest_ms: i64::MIN,
            seqs: HashMap::new(),
        }
    }

    pub fn note(&mut self, ts_ms: i64, device: &str, seq: u64) {
        self.newest_ms = self.newest_ms.max(ts_ms);
        match self.seqs.get_mut(device) {
            Some((lo, hi)) => {
                *lo = (*lo).min(seq);
                *hi = (*hi).max(seq);
            }
            None => {
                self.seqs.insert(device.to_owned(), (seq, seq));
            }
        }
    }
}

/// `state.json`: the next record id and the last sequence number per device.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct State {
    pub next_id: u64,
    pub seqs: HashMap<String, u64>,
}
