//! The spool itself: numbering and appending polls, acknowledgements and the cursor files.
//! Reading back is in `read.rs`, deleting segments in `retention.rs`, opening in `open.rs`.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use super::format::encode;
use super::segment::{segment_path, Segment, State};
use super::types::{ctx, SpoolConfig, SpoolError, SpoolStats};
use kilowatch_site::payload::{self, DevicePoll};

/// The spool: owned by one thread at a time (the agent runs it behind a
/// [`SpoolHandle`](super::SpoolHandle)); every method leaves it consistent, even on error.
pub struct Spool {
    pub(super) config: SpoolConfig,
    pub(super) segment_limit: u64,
    pub(super) segments: VecDeque<Segment>,
    pub(super) writer: File,
    pub(super) next_id: u64,
    pub(super) seqs: HashMap<String, u64>,
    /// Every id up to here is acknowledged (or gone).
    pub(super) acked: u64,
    pub(super) acked_above: BTreeSet<u64>,
    /// Where the publisher reads next: segment first id and byte offset.
    pub(super) send: (u64, u64),
    /// The open segment the publisher reads: its first id, the file, the offset it is at.
    pub(super) reader: Option<(u64, BufReader<File>, u64)>,
    pub(super) stats: SpoolStats,
    pub(super) cursor_saved: Instant,
    pub(super) cursor_dirty: bool,
    /// Unit tests of callers: appends fail as on a full disk.
    pub(super) fail_writes: bool,
    /// Test hook: a disk this many bytes large (appends beyond it fail as a full disk would).
    pub(super) capacity: Option<u64>,
}

pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Spool {
    pub fn dir(&self) -> &Path {
        &self.config.dir
    }

    /// Makes appends fail as on a full disk (for tests of what sits on the spool).
    #[cfg(test)]
    pub fn disk_capacity_for_test(&mut self, bytes: Option<u64>) {
        self.capacity = bytes;
    }

    #[doc(hidden)]
    pub fn fail_writes_for_test(&mut self, fail: bool) {
        self.fail_writes = fail;
    }

    pub fn stats(&self) -> SpoolStats {
        self.stats
    }

    /// Last sequence number given to `device`'s readings.
    pub fn last_seq(&self, device: &str) -> u64 {
        self.seqs.get(device).copied().unwrap_or(0)
    }

    pub(super) fn count_pending(&self) -> u64 {
        let newest = self.next_id - 1;
        (newest.saturating_sub(self.acked)).saturating_sub(self.acked_above.len() as u64)
    }

    /// Numbers, encodes and appends a batch of polls; durable on return when `fsync` is on.
    pub fn append(&mut self, polls: &mut [DevicePoll]) -> Result<(), SpoolError> {
        if polls.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        let first = self.next_id;
        for poll in polls.iter_mut() {
            let seq = self.seqs.entry(poll.device.clone()).or_default();
            *seq += 1;
            poll.seq = *seq;
            let topic = payload::data_topic(&poll.site, &poll.device);
            let body = poll.to_json();
            buf.extend_from_slice(&encode(
                self.next_id,
                poll.ts.timestamp_millis(),
                poll.seq,
                &poll.device,
                &topic,
                &body,
            ));
            self.next_id += 1;
        }
        let path = self.segments.back().expect("active").path.clone();
        let mut written = self.write_batch(&buf).map_err(ctx(&path));
        if written.as_ref().is_err_and(SpoolError::is_disk_full) && self.shed_acked() > 0 {
            // Polls kept only for replay gave their room to polls not yet sent.
            written = self.write_batch(&buf).map_err(ctx(&path));
        }
        if let Err(e) = written {
            // write_batch kept the file on a record boundary; undo the numbering.
            self.next_id = first;
            for poll in polls.iter() {
                if let Some(s) = self.seqs.get_mut(&poll.device) {
                    *s -= 1;
                }
            }
            return Err(e);
        }
        let active = self.segments.back_mut().expect("active");
        for poll in polls.iter() {
            active.note(poll.ts.timestamp_millis(), &poll.device, poll.seq);
        }
        active.bytes += buf.len() as u64;
        active.last_id = self.next_id - 1;
        self.stats.appended += polls.len() as u64;
        self.stats.bytes += buf.len() as u64;
        let full = active.bytes >= self.segment_limit;
        self.stats.pending = self.count_pending();
        // The batch is written and numbered: housekeeping that fails from here on (a full disk
        // refusing the state file or a new segment) must not make the caller append it again.
        // A segment that could not be rolled is rolled on a later append.
        let housekeeping = (|| {
            if full {
                self.roll()?;
            }
            self.prune(now_ms())?;
            self.enforce_budget()
        })();
        if let Err(e) = housekeeping {
            tracing::warn!("spool housekeeping after an append failed (retried later): {e}");
        }
        Ok(())
    }

    /// Writes (and with `fsync`, syncs) encoded records at the end of the active segment;
    /// on failure the segment is cut back to its last whole record.
    fn write_batch(&mut self, buf: &[u8]) -> io::Result<()> {
        let over = self
            .capacity
            .is_some_and(|c| self.stats.bytes + buf.len() as u64 > c);
        let written = if self.fail_writes || over {
            Err(io::Error::from(io::ErrorKind::StorageFull))
        } else {
            self.writer.write_all(buf)
        };
        let written = written.and_then(|()| {
            if self.config.fsync {
                self.writer.sync_data()
            } else {
                Ok(())
            }
        });
        if written.is_err() {
            let active = self.segments.back().expect("active");
            let _ = self.writer.set_len(active.bytes);
        }
        written
    }

    fn roll(&mut self) -> Result<(), SpoolError> {
        // The state file must cover every record in closed segments before any is deleted.
        self.write_state()?;
        let path = segment_path(&self.config.dir, self.next_id);
        self.writer = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(ctx(&path))?;
        self.segments.push_back(Segment::new(self.next_id, path));
        Ok(())
    }

    pub(super) fn advance_acked(&mut self) {
        while self.acked_above.first() == Some(&(self.acked + 1)) {
            self.acked_above.pop_first();
            self.acked += 1;
        }
        while self.acked_above.first().is_some_and(|&x| x <= self.acked) {
            self.acked_above.pop_first();
        }
    }

    /// The broker acknowledged record `id`.
    pub fn ack(&mut self, id: u64) -> Result<(), SpoolError> {
        self.ack_all([id])
    }

    /// The broker acknowledged these records (in any order); the cursor, the counters and
    /// segment deletion are brought up to date once for all of them.
    pub fn ack_all(&mut self, ids: impl IntoIterator<Item = u64>) -> Result<(), SpoolError> {
        let mut any = false;
        for id in ids {
            // PUBACKs mostly come in publish order: the next id moves the cursor directly.
            if id == self.acked + 1 && self.acked_above.is_empty() {
                self.acked = id;
            } else if id <= self.acked || !self.acked_above.insert(id) {
                continue;
            }
            self.stats.acked += 1;
            any = true;
        }
        if !any {
            return Ok(());
        }
        self.advance_acked();
        self.stats.pending = self.count_pending();
        self.cursor_dirty = true;
        self.prune(now_ms())?;
        if self.cursor_saved.elapsed() >= Duration::from_secs(1) {
            self.save_cursor()?;
        }
        Ok(())
    }

    /// Writes the ack cursor if it moved (on shutdown, and periodically).
    pub fn save_cursor(&mut self) -> Result<(), SpoolError> {
        if !self.cursor_dirty {
            return Ok(());
        }
        let path = self.config.dir.join("acked");
        let tmp = self.config.dir.join("acked.tmp");
        fs::write(&tmp, self.acked.to_string())
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(ctx(&path))?;
        self.cursor_saved = Instant::now();
        self.cursor_dirty = false;
        Ok(())
    }

    pub(super) fn write_state(&mut self) -> Result<(), SpoolError> {
        let path = self.config.dir.join("state.json");
        let tmp = self.config.dir.join("state.json.tmp");
        let state = State {
            next_id: self.next_id,
            seqs: self.seqs.clone(),
        };
        let bytes = serde_json::to_vec(&state).expect("state serialises");
        (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            File::open(&self.config.dir)?.sync_all()
        })()
        .map_err(ctx(&path))
    }
}
