//! Deleting segments: acknowledged ones past the retention window, the oldest when the disk
//! budget is exceeded (unsent readings counted as evicted), and acknowledged ones kept for
//! replay when the disk is full.

use std::fs;

use super::segment::Segment;
use super::store::Spool;
use super::types::SpoolError;

impl Spool {
    /// The disk is full: deletes acknowledged segments kept only for replay, oldest first, so
    /// that unsent polls get the room. Returns the bytes freed.
    pub(super) fn shed_acked(&mut self) -> u64 {
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

    pub(super) fn enforce_budget(&mut self) -> Result<(), SpoolError> {
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
}
