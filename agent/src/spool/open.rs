//! Opening a spool: reads the cursor and state files, verifies every segment, cuts out damage
//! and rebuilds what the files cannot say (numbering, gaps in the ids).

use std::collections::{BTreeSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::time::Instant;

use super::format::{next_intact, record_at};
use super::segment::{segment_limit, segment_path, Segment, State};
use super::store::Spool;
use super::types::{ctx, SpoolConfig, SpoolError, SpoolStats};

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
            let data = fs::read(&path).map_err(ctx(&path))?;
            let mut at = 0usize;
            let mut damaged = false;
            let mut kept: Vec<u8> = Vec::new();
            let mut expect = first;
            let mut segment = Segment::new(first, path.clone());
            while at < data.len() {
                match record_at(&data, at) {
                    Some((p, len)) => {
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
                        let skip_to = next_intact(&data, at);
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
            if let Some(&next_first) = firsts.get(i + 1) {
                if next_first > last_id + 1 {
                    missing.push((last_id + 1, next_first - 1));
                }
            }
            segment.last_id = last_id;
            segment.bytes = kept.len() as u64;
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

        let segment_limit = segment_limit(config.budget);
        if segments.back().is_none_or(|s| s.bytes >= segment_limit) {
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
}
