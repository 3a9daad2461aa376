//! Reading the spool back: the next records to publish, a device's readings for a replay
//! request, and the age of the oldest unsent reading.

use std::fs::{self, File};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::format::{check_record, next_intact, parse_body, record_at, HEADER, MAGIC, MAX_RECORD};
use super::store::Spool;
use super::types::{ctx, Record, SpoolError};

/// The inclusive sub-ranges of `from..=to` not in `present` (ascending).
pub(super) fn gaps(present: &[u64], from: u64, to: u64) -> Vec<[u64; 2]> {
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

impl Spool {
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

    /// Up to `max` records to publish, oldest first (fewer, or none, when that is all there
    /// is). A read error is returned only when no record was read before it.
    pub fn next_batch(&mut self, max: usize) -> Result<Vec<Record>, SpoolError> {
        let mut out = Vec::with_capacity(max.min(256));
        while out.len() < max {
            match self.next_unsent() {
                Ok(Some(r)) => out.push(r),
                Ok(None) => break,
                Err(e) if out.is_empty() => return Err(e),
                Err(e) => {
                    tracing::error!("{e}");
                    break;
                }
            }
        }
        Ok(out)
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
        let Some(p) = parse_body(&buf[HEADER..]) else {
            self.reader = None;
            return Ok(None);
        };
        Ok(Some((p.to_record(), buf.len() as u64)))
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
                let Some((p, len)) = record_at(data, at) else {
                    // Damaged since it was verified: resynchronise on the next intact record.
                    tracing::warn!(segment = %path.display(), offset = at, "spool: unreadable record while replaying; skipped");
                    match next_intact(data, at) {
                        Some(k) => {
                            at = k;
                            continue;
                        }
                        None => break,
                    }
                };
                at += len;
                if p.device != device || p.seq < from_seq || p.seq > to_seq {
                    continue;
                }
                out.push(p.to_record());
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
            while let Some((p, len)) = record_at(data, at) {
                if p.id > self.acked && !self.acked_above.contains(&p.id) {
                    return Ok(Some(p.ts_ms));
                }
                at += len;
            }
        }
        Ok(None)
    }
}
