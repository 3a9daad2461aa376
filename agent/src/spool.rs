//! Durable store-and-forward spool: every reading is appended here before it is published and
//! leaves only when the broker acknowledged it.
//!
//! Layout of the spool directory:
//! - `<first-id>.seg`: append-only segments of framed records, named by the first record id;
//! - `acked`: the id up to which every record is acknowledged (rewritten through a temporary
//!   file and a rename, at most once a second and whenever a segment is deleted);
//! - `state.json`: the next record id and the last sequence number per device, written when a
//!   segment is closed, so numbering survives segments that were deleted.
//!
//! A record is `KWS1`, the length `n` of the rest (u32 LE), its CRC-32 (u32 LE), then `n` bytes:
//! id (u64), poll time in ms (i64), per-device seq (u64), device and topic (u16-length-prefixed)
//! and the JSON payload. On open every segment is verified; a torn or corrupt record is logged,
//! counted and skipped (resynchronising on the next valid record), and a torn tail is cut off so
//! appends continue cleanly. Nothing here panics on what it reads from disk.
//!
//! Acknowledged segments are kept for `retention` (judged by the poll time of their newest
//! record) so the gateway can ask for a range of a device's readings again ([`Spool::replay`]);
//! when the disk budget needs the space they go first, before any unacknowledged reading.
//!
//! fsync policy: with `fsync = true` (the default) a batch of records is `fdatasync`ed before
//! any of it is handed to the publisher, so a reading the broker has seen is always on disk and
//! a reading that was spooled survives SIGKILL and power loss. With `fsync = false` the kernel
//! decides (survives SIGKILL, not power loss).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use kilowatch_site::payload::{self, DevicePoll};

const MAGIC: [u8; 4] = *b"KWS1";
const HEADER: usize = 12;
/// Longest record accepted when reading back (a poll of a few hundred quantities is ~30 KB).
const MAX_RECORD: usize = 4 << 20;
const MAX_SEGMENT: u64 = 4 << 20;
const MIN_SEGMENT: u64 = 4 << 10;

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
#[derive(Debug, Clone, Copy, Default, Serialize)]
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

#[derive(Debug)]
struct Segment {
    first_id: u64,
    /// Last record id in the segment; `first_id - 1` while empty.
    last_id: u64,
    path: PathBuf,
    /// Bytes that hold whole, verified (and, with fsync, durable) records.
    bytes: u64,
    /// Poll time of the newest record (`i64::MIN` while empty), for retention.
    newest_ms: i64,
    /// Lowest and highest seq per device, so a replay reads only the segments it needs.
    seqs: HashMap<String, (u64, u64)>,
}

impl Segment {
    fn new(first_id: u64, path: PathBuf) -> Self {
        Segment {
            first_id,
            last_id: first_id - 1,
            path,
            bytes: 0,
            newest_ms: i64::MIN,
            seqs: HashMap::new(),
        }
    }

    fn note(&mut self, ts_ms: i64, device: &str, seq: u64) {
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

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    next_id: u64,
    seqs: HashMap<String, u64>,
}

pub struct Spool {
    config: SpoolConfig,
    segment_limit: u64,
    segments: VecDeque<Segment>,
    writer: File,
    next_id: u64,
    seqs: HashMap<String, u64>,
    /// Every id up to here is acknowledged (or gone).
    acked: u64,
    acked_above: BTreeSet<u64>,
    /// Where the publisher reads next: segment first id and byte offset.
    send: (u64, u64),
    reader: Option<(u64, BufReader<File>, u64)>,
    stats: SpoolStats,
    cursor_saved: Instant,
    cursor_dirty: bool,
    /// Unit tests of callers: appends fail as on a full disk.
    fail_writes: bool,
    /// Test hook: a disk this many bytes large (appends beyond it fail as a full disk would).
    capacity: Option<u64>,
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
}

fn ctx(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError {
        path: path.display().to_string(),
        source,
    }
}

fn segment_path(dir: &Path, first_id: u64) -> PathBuf {
    dir.join(format!("{first_id:020}.seg"))
}

fn encode(id: u64, ts_ms: i64, seq: u64, device: &str, topic: &str, body: &[u8]) -> Vec<u8> {
    let n = 8 + 8 + 8 + 2 + device.len() + 2 + topic.len() + body.len();
    let mut out = Vec::with_capacity(HEADER + n);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&ts_ms.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    for s in [device, topic] {
        out.extend_from_slice(&u16::try_from(s.len()).unwrap_or(u16::MAX).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(body);
    let crc = crc32fast::hash(&out[HEADER..]);
    out[8..12].copy_from_slice(&crc.to_le_bytes());
    out
}

/// A decoded record body, borrowing from the buffer.
struct Parsed<'a> {
    id: u64,
    ts_ms: i64,
    seq: u64,
    device: &'a str,
    topic: &'a str,
    body: &'a [u8],
}

fn parse_body(b: &[u8]) -> Option<Parsed<'_>> {
    let u64_at = |at: usize| {
        b.get(at..at + 8)
            .map(|s| u64::from_le_bytes(s.try_into().unwrap()))
    };
    let id = u64_at(0)?;
    let ts_ms = u64_at(8)? as i64;
    let seq = u64_at(16)?;
    let mut at = 24;
    let mut text = || -> Option<&str> {
        let len = usize::from(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?));
        let s = std::str::from_utf8(b.get(at + 2..at + 2 + len)?).ok()?;
        at += 2 + len;
        Some(s)
    };
    let device = text()?;
    let topic = text()?;
    Some(Parsed {
        id,
        ts_ms,
        seq,
        device,
        topic,
        body: &b[at..],
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The inclusive sub-ranges of `from..=to` not in `present` (ascending).
fn gaps(present: &[u64], from: u64, to: u64) -> Vec<[u64; 2]> {
    let mut out = Vec::new();
    let mut next = from;
    for &s in present {
        if s < next || s > to {
            continue;
        }
        if s > next {
            out.push([next, s - 1]);
        }
        match s.checked_add(1) {
            Some(n) => next = n,
            None => return out, // u64::MAX was present
        }
    }
    if next <= to {
        out.push([next, to]);
    }
    out
}

/// Checks the record starting at `buf[0]`; returns its total length if it is whole and intact.
fn check_record(buf: &[u8]) -> Option<usize> {
    if buf.len() < HEADER || buf[..4] != MAGIC {
        return None;
    }
    let n = u32::from_le_bytes(buf[4..8].try_into().ok()?) as usize;
    if n > MAX_RECORD || buf.len() < HEADER + n {
        return None;
    }
    let crc = u32::from_le_bytes(buf[8..12].try_into().ok()?);
    let body = &buf[HEADER..HEADER + n];
    (crc32fast::hash(body) == crc && parse_body(body).is_some()).then_some(HEADER + n)
}

impl Spool {
    /// Opens (or creates) the spool in `config.dir`, verifying what is there.
    pub fn open(config: SpoolConfig) -> Result<Self, SpoolError> {
        let dir = config.dir.clone();
        fs::create_dir_all(&dir).map_err(ctx(&dir))?;
        let state_path = dir.join("state.json");
        let state: State = match fs::read(&state_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %state_path.display(), "spool state unreadable ({e}); rebuilding it from the segments");
                State::default()
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(ctx(&state_path)(e)),
        };
        let acked_path = dir.join("acked");
        let mut acked: u64 = match fs::read_to_string(&acked_path) {
            Ok(text) => text.trim().parse().unwrap_or_else(|_| {
                tracing::warn!(path = %acked_path.display(), "spool ack cursor unreadable; unacknowledged readings will be sent again");
                0
            }),
            Err(_) => 0,
        };

        let mut firsts: Vec<u64> = fs::read_dir(&dir)
            .map_err(ctx(&dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                // Record ids start at 1: a segment named 0 is not one of ours.
                name.strip_suffix(".seg")?
                    .parse()
                    .ok()
                    .filter(|&first: &u64| first > 0 && first <= u64::MAX >> 1)
            })
            .collect();
        firsts.sort_unstable();

        let mut stats = SpoolStats::default();
        let mut seqs = state.seqs;
        // A damaged cursor must not overflow the arithmetic below: ids never reach 2^63.
        acked = acked.min(u64::MAX >> 1);
        let mut next_id = state.next_id.clamp(1, u64::MAX >> 1).max(acked + 1);
        let mut segments = VecDeque::new();
        let mut missing: Vec<(u64, u64)> = Vec::new();
        for (i, &first) in firsts.iter().enumerate() {
            let path = segment_path(&dir, first);
            let is_last = i + 1 == firsts.len();
            let data = fs::read(&path).map_err(ctx(&path))?;
            let mut at = 0usize;
            let mut damaged = false;
            let mut kept: Vec<u8> = Vec::new();
            let mut expect = first;
            let mut segment = Segment::new(first, path.clone());
            while at < data.len() {
                match check_record(&data[at..]) {
                    Some(len) => {
                        let p = parse_body(&data[at + HEADER..at + len]).expect("checked");
                        if p.id > expect {
                            missing.push((expect, p.id - 1));
                        }
                        expect = p.id + 1;
                        segment.note(p.ts_ms, p.device, p.seq);
                        let seq = seqs.entry(p.device.to_owned()).or_default();
                        *seq = (*seq).max(p.seq);
                        next_id = next_id.max(p.id + 1);
                        kept.extend_from_slice(&data[at..at + len]);
                        at += len;
                    }
                    None => {
                        // Resynchronise on the next intact record, if any.
                        let skip_to = (at + 1..data.len()).find(|&k| {
                            data[k..].starts_with(&MAGIC) && check_record(&data[k..]).is_some()
                        });
                        let end = skip_to.unwrap_or(data.len());
                        damaged = true;
                        stats.corrupt_regions += 1;
                        stats.corrupt_bytes += (end - at) as u64;
                        tracing::warn!(segment = %path.display(), offset = at, bytes = end - at,
                            "spool: torn or corrupt record skipped{}",
                            if skip_to.is_none() { " (end of segment)" } else { "" });
                        at = end;
                    }
                }
            }
            let last_id = expect - 1;
            if damaged {
                // Rewrite the segment with its intact records only, so readers and appends
                // see clean record boundaries from here on.
                let tmp = path.with_extension("seg.tmp");
                (|| {
                    let mut f = File::create(&tmp)?;
                    f.write_all(&kept)?;
                    f.sync_all()?;
                    fs::rename(&tmp, &path)
                })()
                .map_err(ctx(&path))?;
            }
            let valid_end = kept.len();
            if !is_last {
                if let Some(&next_first) = firsts.get(i + 1) {
                    if next_first > last_id + 1 {
                        missing.push((last_id + 1, next_first - 1));
                    }
                }
            }
            segment.last_id = last_id;
            segment.bytes = valid_end as u64;
            segments.push_back(segment);
        }
        // Records before the oldest segment are gone (acknowledged and deleted, or evicted).
        if let Some(s) = segments.front() {
            acked = acked.max(s.first_id.saturating_sub(1));
        } else {
            acked = acked.max(next_id - 1);
        }
        let mut acked_above = BTreeSet::new();
        for (a, b) in missing {
            acked_above.extend((a.max(acked + 1))..=b);
        }

        let needs_new = segments
            .back()
            .is_none_or(|s| s.bytes >= MAX_SEGMENT.min(config.budget / 8).max(MIN_SEGMENT));
        if needs_new {
            let path = segment_path(&dir, next_id);
            File::create(&path).map_err(ctx(&path))?;
            segments.push_back(Segment::new(next_id, path));
        }
        let active = segments.back().expect("one segment");
        let writer = OpenOptions::new()
            .append(true)
            .open(&active.path)
            .map_err(ctx(&active.path))?;
        let send = (segments.front().expect("one segment").first_id, 0);
        let segment_limit = MAX_SEGMENT.min(config.budget / 8).max(MIN_SEGMENT);
        let mut spool = Spool {
            config,
            segment_limit,
            segments,
            writer,
            next_id,
            seqs,
            acked,
            acked_above,
            send,
            reader: None,
            stats,
            cursor_saved: Instant::now(),
            cursor_dirty: true,
            fail_writes: false,
            capacity: None,
        };
        spool.advance_acked();
        spool.rewind();
        spool.stats.pending = spool.count_pending();
        spool.stats.bytes = spool.segments.iter().map(|s| s.bytes).sum();
        if spool.stats.pending > 0 {
            tracing::info!(
                pending = spool.stats.pending,
                bytes = spool.stats.bytes,
                "spool holds readings from an earlier run; they are sent first"
            );
        }
        // Numbering is also recovered from the segments, so a disk too full for the state file
        // must not keep the agent from starting (and polling into its memory buffer).
        if let Err(e) = spool.write_state() {
            tracing::warn!("spool state not saved at start ({e}); it is rebuilt from the segments");
        }
        Ok(spool)
    }

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

    fn count_pending(&self) -> u64 {
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

    /// The disk is full: deletes acknowledged segments kept only for replay, oldest first, so
    /// that unsent polls get the room. Returns the bytes freed.
    fn shed_acked(&mut self) -> u64 {
        let before = self.stats.bytes;
        let mut dropped = 0;
        while self.segments.len() > 1
            && self
                .segments
                .front()
                .is_some_and(|s| s.last_id <= self.acked)
        {
            self.remove_acked_front();
            dropped += 1;
        }
        let freed = before - self.stats.bytes;
        if dropped > 0 {
            tracing::warn!(
                segments = dropped,
                bytes = freed,
                "spool disk full: acknowledged polls kept for replay were deleted to make room \
                 (their retention was cut short)"
            );
        }
        freed
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

    fn enforce_budget(&mut self) -> Result<(), SpoolError> {
        while self.stats.bytes > self.config.budget && self.segments.len() > 1 {
            let seg = self.segments.front().expect("segment");
            let (first, last) = (seg.first_id, seg.last_id);
            let lost = (first.max(self.acked + 1)..=last)
                .filter(|id| !self.acked_above.contains(id))
                .count() as u64;
            self.stats.evicted += lost;
            if lost > 0 {
                tracing::warn!(
                    evicted = lost,
                    evicted_total = self.stats.evicted,
                    budget = self.config.budget,
                    "spool disk budget exhausted: oldest unsent readings dropped"
                );
            } else {
                tracing::debug!(
                    first,
                    last,
                    "spool disk budget: acknowledged segment dropped before its retention ended"
                );
            }
            self.acked = self.acked.max(last);
            self.advance_acked();
            self.cursor_dirty = true;
            self.delete_front()?;
        }
        self.stats.pending = self.count_pending();
        Ok(())
    }

    fn delete_front(&mut self) -> Result<(), SpoolError> {
        // Persist the cursor first: a crash in between must not resurrect a deleted range. If
        // it cannot be saved (a full disk), the segment stays, counted and listed.
        self.save_cursor()?;
        self.remove_acked_front();
        Ok(())
    }

    /// Deletes the oldest segment, every record of which is acknowledged: no cursor has to be
    /// saved first (a full disk may refuse even that small file), since removing it cannot
    /// resurrect anything.
    fn remove_acked_front(&mut self) {
        let seg = self.forget_front();
        if let Err(e) = fs::remove_file(&seg.path) {
            tracing::warn!(segment = %seg.path.display(), "cannot delete a spool segment: {e}");
        }
    }

    /// Takes the oldest segment out of the spool's view (not off the disk).
    fn forget_front(&mut self) -> Segment {
        let seg = self.segments.pop_front().expect("segment");
        if self.send.0 == seg.first_id {
            self.send = (self.segments.front().expect("active").first_id, 0);
        }
        if self.reader.as_ref().is_some_and(|r| r.0 == seg.first_id) {
            self.reader = None;
        }
        self.stats.bytes -= seg.bytes;
        seg
    }

    fn advance_acked(&mut self) {
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
        if id <= self.acked || !self.acked_above.insert(id) {
            return Ok(());
        }
        self.stats.acked += 1;
        self.advance_acked();
        self.stats.pending = self.count_pending();
        self.cursor_dirty = true;
        self.prune(now_ms())?;
        if self.cursor_saved.elapsed() >= Duration::from_secs(1) {
            self.save_cursor()?;
        }
        Ok(())
    }

    /// Deletes acknowledged segments whose newest reading is older than the retention window
    /// at `now_ms`.
    pub fn prune(&mut self, now_ms: i64) -> Result<(), SpoolError> {
        let keep = i64::try_from(self.config.retention.as_millis()).unwrap_or(i64::MAX);
        let horizon = now_ms.saturating_sub(keep);
        while self.segments.len() > 1
            && self
                .segments
                .front()
                .is_some_and(|s| s.last_id <= self.acked && s.newest_ms < horizon)
        {
            self.remove_acked_front();
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

    fn write_state(&mut self) -> Result<(), SpoolError> {
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

    /// Makes the next [`Self::next_unsent`] start again at the oldest unacknowledged record
    /// (after a reconnect: whatever was in flight is sent again).
    pub fn rewind(&mut self) {
        // Retained acknowledged segments are not read again.
        let seg = self
            .segments
            .iter()
            .find(|s| s.last_id > self.acked)
            .or(self.segments.back())
            .expect("segment");
        self.send = (seg.first_id, 0);
        self.reader = None;
    }

    /// The next record to publish, oldest first; `None` when everything spooled has been handed
    /// out. Already acknowledged records are skipped.
    pub fn next_unsent(&mut self) -> Result<Option<Record>, SpoolError> {
        loop {
            let Some(idx) = self.segments.iter().position(|s| s.first_id == self.send.0) else {
                self.rewind();
                continue;
            };
            let seg = &self.segments[idx];
            if self.send.1 >= seg.bytes {
                if idx + 1 < self.segments.len() {
                    self.send = (self.segments[idx + 1].first_id, 0);
                    self.reader = None;
                    continue;
                }
                return Ok(None);
            }
            let (first, path, limit) = (seg.first_id, seg.path.clone(), seg.bytes);
            let offset = self.send.1;
            let record = self.read_at(first, &path, offset, limit)?;
            match record {
                Some((rec, len)) => {
                    self.send.1 += len;
                    if rec.id <= self.acked || self.acked_above.contains(&rec.id) {
                        continue;
                    }
                    return Ok(Some(rec));
                }
                None => {
                    // Changed under us on disk: skip the rest of this segment.
                    self.stats.corrupt_regions += 1;
                    self.stats.corrupt_bytes += limit - offset;
                    tracing::warn!(segment = %path.display(), offset, "spool: unreadable record while sending; skipping the rest of the segment");
                    self.send.1 = limit;
                }
            }
        }
    }

    fn read_at(
        &mut self,
        first: u64,
        path: &Path,
        offset: u64,
        limit: u64,
    ) -> Result<Option<(Record, u64)>, SpoolError> {
        let reusable = matches!(&self.reader, Some((f, _, pos)) if *f == first && *pos == offset);
        if !reusable {
            let mut file = File::open(path).map_err(ctx(path))?;
            file.seek(SeekFrom::Start(offset)).map_err(ctx(path))?;
            self.reader = Some((first, BufReader::with_capacity(64 << 10, file), offset));
        }
        let (_, reader, pos) = self.reader.as_mut().expect("reader");
        let mut head = [0u8; HEADER];
        if reader.read_exact(&mut head).is_err() {
            self.reader = None;
            return Ok(None);
        }
        let n = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes")) as usize;
        if head[..4] != MAGIC || n > MAX_RECORD || offset + (HEADER + n) as u64 > limit {
            self.reader = None;
            return Ok(None);
        }
        let mut buf = vec![0u8; HEADER + n];
        buf[..HEADER].copy_from_slice(&head);
        if reader.read_exact(&mut buf[HEADER..]).is_err() || check_record(&buf).is_none() {
            self.reader = None;
            return Ok(None);
        }
        *pos += buf.len() as u64;
        let p = parse_body(&buf[HEADER..]).expect("checked");
        Ok(Some((
            Record {
                id: p.id,
                ts_ms: p.ts_ms,
                seq: p.seq,
                topic: p.topic.to_owned(),
                body: p.body.to_vec(),
            },
            buf.len() as u64,
        )))
    }

    /// `device`'s readings with `from_seq <= seq <= to_seq` that the spool still holds
    /// (acknowledged or not), oldest first, at most `max` of them; and the inclusive sub-ranges
    /// of the covered range it cannot provide (evicted, past retention, damaged, never
    /// produced). The covered range is `from_seq..=to_seq`, or ends at the seq of the last
    /// record returned when `max` cut the scan short (continue from there).
    pub fn replay(
        &mut self,
        device: &str,
        from_seq: u64,
        to_seq: u64,
        max: usize,
    ) -> Result<(Vec<Record>, Vec<[u64; 2]>), SpoolError> {
        let mut out: Vec<Record> = Vec::new();
        if from_seq > to_seq {
            return Ok((out, Vec::new()));
        }
        let wanted: Vec<(PathBuf, u64)> = self
            .segments
            .iter()
            .filter(|s| {
                s.seqs
                    .get(device)
                    .is_some_and(|&(lo, hi)| lo <= to_seq && hi >= from_seq)
            })
            .map(|s| (s.path.clone(), s.bytes))
            .collect();
        'segments: for (path, bytes) in wanted {
            let data = fs::read(&path).map_err(ctx(&path))?;
            let data = &data[..(bytes as usize).min(data.len())];
            let mut at = 0;
            while at < data.len() {
                let Some(len) = check_record(&data[at..]) else {
                    // Damaged since it was verified: resynchronise on the next intact record.
                    let next = (at + 1..data.len()).find(|&k| {
                        data[k..].starts_with(&MAGIC) && check_record(&data[k..]).is_some()
                    });
                    tracing::warn!(segment = %path.display(), offset = at, "spool: unreadable record while replaying; skipped");
                    match next {
                        Some(k) => {
                            at = k;
                            continue;
                        }
                        None => break,
                    }
                };
                let p = parse_body(&data[at + HEADER..at + len]).expect("checked");
                at += len;
                if p.device != device || p.seq < from_seq || p.seq > to_seq {
                    continue;
                }
                out.push(Record {
                    id: p.id,
                    ts_ms: p.ts_ms,
                    seq: p.seq,
                    topic: p.topic.to_owned(),
                    body: p.body.to_vec(),
                });
                if out.len() >= max {
                    break 'segments;
                }
            }
        }
        out.sort_by_key(|r| r.seq);
        out.dedup_by_key(|r| r.seq);
        let covered_to = if out.len() >= max {
            out.last().map_or(to_seq, |r| r.seq)
        } else {
            to_seq
        };
        let present: Vec<u64> = out.iter().map(|r| r.seq).collect();
        let unavailable = gaps(&present, from_seq, covered_to);
        Ok((out, unavailable))
    }

    /// Poll time (ms since the epoch) of the oldest unacknowledged reading.
    pub fn oldest_pending_ms(&self) -> Result<Option<i64>, SpoolError> {
        if self.stats.pending == 0 {
            return Ok(None);
        }
        for seg in &self.segments {
            if seg.last_id <= self.acked {
                continue;
            }
            let data = fs::read(&seg.path).map_err(ctx(&seg.path))?;
            let data = &data[..(seg.bytes as usize).min(data.len())];
            let mut at = 0;
            while at < data.len() {
                let Some(len) = check_record(&data[at..]) else {
                    break;
                };
                let p = parse_body(&data[at + HEADER..at + len]).expect("checked");
                if p.id > self.acked && !self.acked_above.contains(&p.id) {
                    return Ok(Some(p.ts_ms));
                }
                at += len;
            }
        }
        Ok(None)
    }
}

/// A spool shared by the writer, the publisher, the replay task and the metrics endpoint.
pub type SharedSpool = std::sync::Arc<std::sync::Mutex<Spool>>;

/// The spool, whatever a panicking holder left behind (its state is kept consistent per call).
pub fn lock(spool: &SharedSpool) -> std::sync::MutexGuard<'_, Spool> {
    spool.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use kilowatch_site::payload::{Quality, Reading, SCHEMA_VERSION};

    fn poll(device: &str, i: i64) -> DevicePoll {
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

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kw-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn open(d: &Path, budget: u64) -> Spool {
        Spool::open(SpoolConfig {
            dir: d.to_owned(),
            budget,
            fsync: false,
            retention: Duration::from_secs(86_400),
        })
        .unwrap()
    }

    fn drain(s: &mut Spool) -> Vec<Record> {
        std::iter::from_fn(|| s.next_unsent().unwrap()).collect()
    }

    #[test]
    fn replays_unacked_in_order_across_reopen_and_numbers_without_gaps() {
        let d = dir("replay");
        let mut s = open(&d, 1 << 20);
        let mut polls: Vec<_> = (0..10)
            .map(|i| poll(if i % 2 == 0 { "a" } else { "b" }, i))
            .collect();
        s.append(&mut polls).unwrap();
        assert_eq!(
            polls.iter().map(|p| p.seq).collect::<Vec<_>>(),
            [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
        );
        let sent = drain(&mut s);
        assert_eq!(sent.len(), 10);
        for r in &sent[..4] {
            s.ack(r.id).unwrap();
        }
        s.ack(sent[6].id).unwrap(); // out of order
        s.save_cursor().unwrap();
        drop(s);

        let mut s = open(&d, 1 << 20);
        // The cursor covers 1-4; the out-of-order ack of 7 was not persisted, so 7 is sent
        // again (at-least-once), never lost.
        assert_eq!(s.stats().pending, 6);
        let again: Vec<u64> = drain(&mut s).iter().map(|r| r.id).collect();
        assert_eq!(again, sent[4..].iter().map(|r| r.id).collect::<Vec<_>>());
        let mut more = vec![poll("a", 11)];
        s.append(&mut more).unwrap();
        assert_eq!(more[0].seq, 6, "numbering continues after a restart");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn rewind_sends_unacked_again() {
        let d = dir("rewind");
        let mut s = open(&d, 1 << 20);
        let mut polls: Vec<_> = (0..5).map(|i| poll("a", i)).collect();
        s.append(&mut polls).unwrap();
        let sent = drain(&mut s);
        s.ack(sent[0].id).unwrap();
        s.ack(sent[1].id).unwrap();
        s.rewind();
        let ids: Vec<u64> = drain(&mut s).iter().map(|r| r.id).collect();
        assert_eq!(ids, [sent[2].id, sent[3].id, sent[4].id]);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn torn_tail_is_cut_and_corrupt_middle_skipped() {
        let d = dir("torn");
        let mut s = open(&d, 1 << 20);
        let mut polls: Vec<_> = (0..6).map(|i| poll("a", i)).collect();
        s.append(&mut polls).unwrap();
        let path = s.segments.back().unwrap().path.clone();
        drop(s);
        let mut data = fs::read(&path).unwrap();
        let rec = data.len() / 6;
        data[rec * 2 + 20] ^= 0xff; // flip a byte inside record 3
        data.extend_from_within(..rec / 2); // half a record at the end
        fs::write(&path, &data).unwrap();

        let mut s = open(&d, 1 << 20);
        assert_eq!(s.stats().corrupt_regions, 2);
        let got: Vec<i64> = drain(&mut s).iter().map(|r| r.ts_ms).collect();
        assert_eq!(got.len(), 5, "records 1, 2, 4, 5, 6 survive");
        assert_eq!(
            fs::metadata(&path).unwrap().len() as usize,
            rec * 5,
            "damage cut out"
        );
        // The missing record does not block the ack cursor.
        let ids: Vec<u64> = {
            s.rewind();
            drain(&mut s).iter().map(|r| r.id).collect()
        };
        for id in ids {
            s.ack(id).unwrap();
        }
        assert_eq!(s.stats().pending, 0);
        let mut more = vec![poll("a", 7)];
        s.append(&mut more).unwrap();
        assert_eq!(drain(&mut s).len(), 1);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn budget_evicts_oldest_and_counts() {
        let d = dir("budget");
        let budget = 32 << 10;
        let mut s = open(&d, budget);
        for i in 0..400 {
            s.append(&mut [poll("a", i)]).unwrap();
        }
        let st = s.stats();
        assert!(st.bytes <= budget, "{} bytes on disk", st.bytes);
        assert!(st.evicted > 0);
        assert_eq!(st.evicted + st.pending, 400);
        let sent = drain(&mut s);
        assert_eq!(sent.len() as u64, st.pending);
        // What is left is the newest, in order.
        assert_eq!(sent.last().unwrap().ts_ms, 1_700_000_000_000 + 399 * 1000);
        assert!(sent.windows(2).all(|w| w[0].id + 1 == w[1].id));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn acked_segments_are_deleted() {
        let d = dir("delete");
        let mut s = open(&d, 64 << 10); // 8 KiB segments
        for i in 0..200 {
            s.append(&mut [poll("a", i)]).unwrap();
        }
        let segs = s.segments.len();
        assert!(segs > 3);
        for r in drain(&mut s) {
            s.ack(r.id).unwrap();
        }
        assert_eq!(s.segments.len(), 1);
        assert_eq!(s.stats().pending, 0);
        let files = fs::read_dir(&d).unwrap().filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "seg")
        });
        assert_eq!(files.count(), 1);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn absurd_cursor_and_segment_names_on_disk_do_not_panic_or_stop_the_spool() {
        let d = dir("absurd");
        let mut s = open(&d, 1 << 20);
        s.append(&mut [poll("a", 1)]).unwrap();
        drop(s);
        fs::write(d.join("acked"), u64::MAX.to_string()).unwrap();
        fs::write(d.join("00000000000000000000.seg"), b"junk").unwrap();
        fs::write(d.join(format!("{}.seg", u64::MAX)), b"junk").unwrap();
        let mut s = open(&d, 1 << 20);
        s.append(&mut [poll("a", 2)]).unwrap();
        assert_eq!(s.last_seq("a"), 2);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_full_disk_takes_the_room_of_acknowledged_polls_kept_for_replay() {
        let d = dir("shed");
        let mut s = open(&d, 64 << 10); // 8 KiB segments
        for i in 0..200 {
            s.append(&mut [recent("a", 300 - i)]).unwrap();
        }
        for r in drain(&mut s) {
            s.ack(r.id).unwrap();
        }
        let kept = s.segments.len();
        assert!(
            kept > 3,
            "acknowledged segments are kept for replay: {kept}"
        );
        // The disk is full: only what the spool holds now fits.
        s.disk_capacity_for_test(Some(s.stats().bytes));
        s.append(&mut [recent("a", 1)]).unwrap();
        assert!(
            s.segments.len() < kept,
            "acknowledged segments gave their room"
        );
        assert_eq!(s.last_seq("a"), 201);
        assert_eq!(s.stats().pending, 1);
        assert_eq!(drain(&mut s).len(), 1, "the new poll is sent");
        // Nothing left to give: the next append fails and numbers nothing.
        s.disk_capacity_for_test(Some(0));
        let err = s.append(&mut [recent("a", 0)]).unwrap_err();
        assert!(err.is_disk_full());
        assert_eq!(s.last_seq("a"), 201);
        let _ = fs::remove_dir_all(&d);
    }

    /// A poll taken `ago` seconds before now (inside the 24 h retention).
    fn recent(device: &str, ago: i64) -> DevicePoll {
        let mut p = poll(device, 0);
        p.ts = Utc::now() - chrono::Duration::seconds(ago);
        p
    }

    fn seqs_of(records: &[Record]) -> Vec<u64> {
        records.iter().map(|r| r.seq).collect()
    }

    #[test]
    fn replays_acknowledged_readings_with_their_original_bytes_and_survives_reopen() {
        let d = dir("replay-acked");
        let mut s = open(&d, 1 << 20);
        let mut polls: Vec<_> = (0..10)
            .map(|i| recent(if i % 2 == 0 { "a" } else { "b" }, 100 - i))
            .collect();
        s.append(&mut polls).unwrap();
        let sent = drain(&mut s);
        for r in &sent {
            s.ack(r.id).unwrap();
        }
        assert_eq!(s.stats().pending, 0);
        let (got, unavailable) = s.replay("a", 2, 4, 100).unwrap();
        assert_eq!(seqs_of(&got), [2, 3, 4]);
        assert!(unavailable.is_empty());
        let originals: Vec<&Record> = sent
            .iter()
            .filter(|r| r.topic.ends_with("/a/data"))
            .collect();
        for r in &got {
            let o = originals[(r.seq - 1) as usize];
            assert_eq!((&r.topic, &r.body, r.id), (&o.topic, &o.body, o.id));
        }
        s.save_cursor().unwrap();
        drop(s);

        // Acknowledged and retained: not sent again after a restart, but still replayable.
        let mut s = open(&d, 1 << 20);
        assert_eq!(s.stats().pending, 0);
        assert!(drain(&mut s).is_empty());
        let (got, unavailable) = s.replay("b", 1, 5, 100).unwrap();
        assert_eq!(seqs_of(&got), [1, 2, 3, 4, 5]);
        assert!(unavailable.is_empty());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn replay_reports_what_was_never_produced_and_what_the_cap_left() {
        let d = dir("replay-beyond");
        let mut s = open(&d, 1 << 20);
        let mut polls: Vec<_> = (0..5).map(|i| recent("a", 10 - i)).collect();
        s.append(&mut polls).unwrap();
        let (got, unavailable) = s.replay("a", 4, 8, 100).unwrap();
        assert_eq!(seqs_of(&got), [4, 5]);
        assert_eq!(unavailable, [[6, 8]]);
        let (got, unavailable) = s.replay("nobody", 1, 3, 100).unwrap();
        assert!(got.is_empty());
        assert_eq!(unavailable, [[1, 3]]);
        // Capped: covers up to the last record returned; the rest is asked for again.
        let (got, unavailable) = s.replay("a", 1, 9, 2).unwrap();
        assert_eq!(seqs_of(&got), [1, 2]);
        assert!(unavailable.is_empty());
        let (got, unavailable) = s.replay("a", 3, 9, 2).unwrap();
        assert_eq!(seqs_of(&got), [3, 4]);
        assert!(unavailable.is_empty());
        let (got, unavailable) = s.replay("a", 5, 9, 2).unwrap();
        assert_eq!(seqs_of(&got), [5]);
        assert_eq!(unavailable, [[6, 9]]);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn budget_drops_acknowledged_readings_first_and_replay_says_so() {
        let d = dir("replay-evicted");
        let budget = 32 << 10;
        let mut s = open(&d, budget);
        for i in 0..100 {
            s.append(&mut [recent("a", 1000 - i)]).unwrap();
        }
        assert_eq!(s.stats().evicted, 0);
        for r in drain(&mut s) {
            s.ack(r.id).unwrap();
        }
        // Retention (24 h) keeps them; only the budget removes any.
        for i in 0..60 {
            s.append(&mut [recent("a", 800 - i)]).unwrap();
        }
        let st = s.stats();
        assert_eq!(st.evicted, 0, "acknowledged segments made the room");
        assert_eq!(st.pending, 60);
        assert!(st.bytes <= budget);
        let (got, unavailable) = s.replay("a", 1, 160, 1000).unwrap();
        let first = got[0].seq;
        assert!(first > 1, "the oldest went to the budget");
        assert_eq!(unavailable, [[1, first - 1]]);
        assert_eq!(seqs_of(&got), (first..=160).collect::<Vec<_>>());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn retention_deletes_only_acknowledged_segments_older_than_the_window() {
        let d = dir("retention");
        let mut s = open(&d, 64 << 10); // 8 KiB segments
        for i in 0..100 {
            s.append(&mut [poll("a", i)]).unwrap(); // 2023: past any retention
        }
        for i in 0..100 {
            s.append(&mut [recent("a", 1000 - i)]).unwrap();
        }
        let old_segments = s.segments.len();
        // Unacknowledged: nothing goes, however old.
        s.prune(now_ms()).unwrap();
        assert_eq!(s.segments.len(), old_segments);
        for r in drain(&mut s) {
            s.ack(r.id).unwrap();
        }
        let (got, unavailable) = s.replay("a", 1, 200, 1000).unwrap();
        let first = got[0].seq;
        assert_eq!(unavailable, [[1, first - 1]]);
        // Old readings survive only in the segment shared with recent ones (~40 a segment).
        let old_kept = got.iter().filter(|r| r.seq <= 100).count();
        assert!(old_kept < 50, "{old_kept} old readings kept");
        assert_eq!(seqs_of(&got), (first..=200).collect::<Vec<_>>());
        // Everything past the window once the clock moves on (the active segment stays).
        s.prune(now_ms() + 2 * 86_400_000).unwrap();
        assert_eq!(s.segments.len(), 1);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn replay_skips_a_corrupted_region_and_reports_it() {
        let d = dir("replay-corrupt");
        let mut s = open(&d, 1 << 20);
        let mut polls: Vec<_> = (0..6).map(|i| recent("a", 100 - i)).collect();
        s.append(&mut polls).unwrap();
        let path = s.segments.back().unwrap().path.clone();
        drop(s);
        let mut data = fs::read(&path).unwrap();
        let rec = data.len() / 6;
        data[rec * 2 + 20] ^= 0xff; // record 3
        fs::write(&path, &data).unwrap();
        let mut s = open(&d, 1 << 20);
        let (got, unavailable) = s.replay("a", 1, 6, 100).unwrap();
        assert_eq!(seqs_of(&got), [1, 2, 4, 5, 6]);
        assert_eq!(unavailable, [[3, 3]]);

        // Damage that appears while running is skipped the same way.
        let mut data = fs::read(&path).unwrap();
        data[rec * 3 + 20] ^= 0xff; // now seq 5 (the fourth record left)
        fs::write(&path, &data).unwrap();
        let (got, unavailable) = s.replay("a", 1, 6, 100).unwrap();
        assert_eq!(seqs_of(&got), [1, 2, 4, 6]);
        assert_eq!(unavailable, [[3, 3], [5, 5]]);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn gaps_are_inclusive_ranges() {
        assert_eq!(gaps(&[], 1, 3), [[1, 3]]);
        assert_eq!(gaps(&[1, 2, 3], 1, 3), Vec::<[u64; 2]>::new());
        assert_eq!(gaps(&[2, 5], 1, 6), [[1, 1], [3, 4], [6, 6]]);
        assert_eq!(
            gaps(&[u64::MAX], u64::MAX - 1, u64::MAX),
            [[u64::MAX - 1, u64::MAX - 1]]
        );
    }
}
