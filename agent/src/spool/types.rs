//! What the spool hands out and reports: its configuration, records, counters and errors.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone)]
pub struct SpoolConfig {
    pub dir: PathBuf,
    /// Disk budget in bytes; the oldest segment is evicted when it is exceeded.
    pub budget: u64,
    pub fsync: bool,
    /// How long acknowledged readings stay available for replay (within the budget).
    pub retention: Duration,
}

/// One spooled reading as the publisher needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: u64,
    pub ts_ms: i64,
    /// The device's sequence number.
    pub seq: u64,
    pub topic: String,
    pub body: Vec<u8>,
}

/// Counters for metrics and the health topic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SpoolStats {
    /// Spooled readings not yet acknowledged by the broker.
    pub pending: u64,
    /// Bytes of all segment files.
    pub bytes: u64,
    /// Unacknowledged readings dropped because the disk budget was exhausted.
    pub evicted: u64,
    /// Torn or corrupt regions skipped when reading the spool back.
    pub corrupt_regions: u64,
    pub corrupt_bytes: u64,
    /// Readings appended since start.
    pub appended: u64,
    /// Readings acknowledged since start.
    pub acked: u64,
}

/// What went wrong with the spool directory, naming the path.
#[derive(Debug, thiserror::Error)]
#[error("spool {path}: {source}")]
pub struct SpoolError {
    path: String,
    #[source]
    source: io::Error,
}

impl SpoolError {
    /// The disk (or the user's quota) is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self.source.kind(),
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
        )
    }

    /// The spool's owner thread is gone (closed, or stopped by a bug).
    pub(super) fn stopped(dir: &Path) -> Self {
        ctx(dir)(io::Error::other("the spool is closed"))
    }
}

pub(super) fn ctx(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError {
        path: path.display().to_string(),
        source,
    }
}
