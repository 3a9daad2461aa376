//! End-to-end loss detection: every device numbers its polls (`seq`, +1 per poll, kept across
//! agent restarts), so a hole in the numbers the gateway received is a loss somewhere between
//! the poller and the store (a broker queue limit, an evicted spool segment). Holes are kept as
//! ranges, asked from the agent again after a grace period (messages of one device may arrive
//! out of order after a reconnect), and closed either by the replayed polls or by the agent's
//! report that it no longer holds them (then they are counted as lost, never silently).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Longest range asked for in one request (the agent caps its work per request too).
pub const MAX_REQUEST_SPAN: u64 = 10_000;

/// A jump in the numbering larger than this is not a hole (a day of 100 polls a second is
/// 8.6 million): the numbering started again somewhere else, or the number is not a poll's.
pub const MAX_HOLE: u64 = 10_000_000;

/// Counters of one device's numbering (or, summed, of all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Holes ever opened, and the polls they covered.
    pub gaps_detected: u64,
    pub missing_detected: u64,
    /// Polls that arrived inside a hole (replayed or late) and closed part of it.
    pub repaired: u64,
    /// Polls the agent reported it can no longer provide.
    pub lost: u64,
    /// Polls received again (at-least-once redelivery; stored once by the upsert).
    pub duplicates: u64,
    /// Times the device's numbering started again (agent spool wiped or replaced).
    pub restarts: u64,
    /// Polls received but refused (dead-lettered): delivered, so not missing.
    pub refused: u64,
    /// Single polls whose number broke the numbering and that the next poll did not follow
    /// (a forged or corrupt `seq`): undone, not counted as holes or losses.
    pub outliers: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        for (a, b) in [
            (&mut self.gaps_detected, o.gaps_detected),
            (&mut self.missing_detected, o.missing_detected),
            (&mut self.repaired, o.repaired),
            (&mut self.lost, o.lost),
            (&mut self.duplicates, o.duplicates),
            (&mut self.restarts, o.restarts),
            (&mut self.refused, o.refused),
            (&mut self.outliers, o.outliers),
        ] {
            *a = a.saturating_add(b);
        }
    }
}

/// What the gateway knows about one device's numbering. Persisted as JSON, so a restarted
/// gateway still knows the holes it was repairing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceSequence {
    /// Highest seq received.
    pub high: u64,
    /// Poll time (ms) of the newest poll received; tells a restarted numbering from a replay.
    pub newest_ts_ms: i64,
    /// Open holes: first seq → last seq (inclusive).
    pub gaps: BTreeMap<u64, u64>,
    /// When (ms since the epoch) each open hole was first seen, by its first seq at the time.
    #[serde(default)]
    pub gap_seen_ms: BTreeMap<u64, i64>,
    /// What happened to the numbering so far.
    #[serde(flatten)]
    pub counts: Counters,
    /// The state before the last jump of the numbering (a hole or a new numbering), kept until
    /// a following poll confirms the jump, so that a lone outlier can be undone.
    #[serde(default)]
    pub unconfirmed: Option<Box<DeviceSequence>>,
}

/// How a received poll relates to what came before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    Next,
    /// A hole of this many polls opened before it.
    Gap(u64),
    /// It filled part of a hole.
    Repaired,
    Duplicate,
    /// The numbering started again below what was seen.
    Restarted,
}

impl DeviceSequence {
    /// Polls currently missing.
    pub fn missing(&self) -> u64 {
        self.gaps
            .iter()
            .fold(0u64, |n, (a, b)| n.saturating_add(b - a + 1))
    }

    /// Records one received poll.
    pub fn observe(&mut self, seq: u64, ts_ms: i64, now_ms: i64) -> Observed {
        let prior = self.unconfirmed.take();
        // Only a poll that does not simply follow can jump: keep the state it may replace.
        let follows = self.high == 0 || self.high.checked_add(1) == Some(seq);
        let before = (!follows).then(|| self.clone());
        let observed = self.step(seq, ts_ms, now_ms);
        if observed == Observed::Next {
            // Whatever jump came before is followed: confirmed.
            return observed;
        }
        if let Some(prior) = prior {
            // The jump was not followed, but this poll follows the numbering from before it:
            // the jump was a lone outlier.
            let mut undone = (*prior).clone();
            if undone.step(seq, ts_ms, now_ms) == Observed::Next {
                tracing::warn!(
                    seq = self.high,
                    "a poll number that broke the numbering was not followed; ignored"
                );
                undone.counts.outliers = self.counts.outliers + 1;
                *self = undone;
                return Observed::Next;
            }
            if matches!(observed, Observed::Repaired | Observed::Duplicate) {
                self.unconfirmed = Some(prior);
                return observed;
            }
        }
        if matches!(observed, Observed::Gap(_) | Observed::Restarted) {
            self.unconfirmed = before.map(Box::new);
        }
        observed
    }

    fn step(&mut self, seq: u64, ts_ms: i64, now_ms: i64) -> Observed {
        let newer = ts_ms > self.newest_ts_ms;
        self.newest_ts_ms = self.newest_ts_ms.max(ts_ms);
        if self.high == 0 {
            // The first poll this gateway sees: what came before is not ours to claim.
            self.high = seq;
            return Observed::Next;
        }
        if self.high.checked_add(1) == Some(seq) {
            self.high = seq;
            return Observed::Next;
        }
        if seq > self.high && seq - self.high - 1 > MAX_HOLE {
            tracing::warn!(
                from = self.high,
                to = seq,
                "poll numbering jumped too far to be a hole; taken as a new numbering"
            );
            return self.restart(seq);
        }
        if seq > self.high {
            let (from, to) = (self.high + 1, seq - 1);
            self.gaps.insert(from, to);
            self.gap_seen_ms.insert(from, now_ms);
            self.counts.gaps_detected += 1;
            self.counts.missing_detected =
                self.counts.missing_detected.saturating_add(to - from + 1);
            self.high = seq;
            return Observed::Gap(to - from + 1);
        }
        if self.take(seq, seq) > 0 {
            self.counts.repaired += 1;
            return Observed::Repaired;
        }
        if newer {
            // Below the numbers seen, not a hole, yet newer than every poll seen: the agent
            // numbers afresh.
            return self.restart(seq);
        }
        self.counts.duplicates += 1;
        Observed::Duplicate
    }

    /// A new numbering starts at `seq`. The old holes can no longer be asked for (the same
    /// numbers now name other polls): they are lost.
    fn restart(&mut self, seq: u64) -> Observed {
        self.counts.lost = self.counts.lost.saturating_add(self.missing());
        self.gaps.clear();
        self.gap_seen_ms.clear();
        self.counts.restarts += 1;
        self.high = seq;
        Observed::Restarted
    }

    /// A poll that arrived but was refused: delivered, so not missing. It may close a hole or
    /// take the next number, but never jump the numbering (its content is not trusted).
    pub fn refused(&mut self, seq: u64) {
        if self.high != 0 && self.high.checked_add(1) == Some(seq) {
            self.high = seq;
            self.counts.refused += 1;
        } else if self.take(seq, seq) > 0 {
            self.counts.refused += 1;
        }
    }

    /// The agent cannot provide `from..=to`: whatever of it is still open is lost.
    pub fn unavailable(&mut self, from: u64, to: u64) -> u64 {
        let n = self.take(from, to);
        self.counts.lost = self.counts.lost.saturating_add(n);
        n
    }

    /// Removes `from..=to` from the holes; returns how many open seqs it covered.
    fn take(&mut self, from: u64, to: u64) -> u64 {
        if from > to {
            return 0;
        }
        let overlapping: Vec<(u64, u64)> = self
            .gaps
            .range(..=to)
            .filter(|(_, &b)| b >= from)
            .map(|(&a, &b)| (a, b))
            .collect();
        let mut taken = 0u64;
        for (a, b) in overlapping {
            self.gaps.remove(&a);
            let seen = self.gap_seen_ms.remove(&a).unwrap_or(0);
            taken = taken.saturating_add(b.min(to) - a.max(from) + 1);
            if a < from {
                self.gaps.insert(a, from - 1);
                self.gap_seen_ms.insert(a, seen);
            }
            if b > to {
                self.gaps.insert(to + 1, b);
                self.gap_seen_ms.insert(to + 1, seen);
            }
        }
        taken
    }

    /// Holes old enough to ask for (seen at least `grace_ms` ago), at most `max` ranges, each
    /// at most [`MAX_REQUEST_SPAN`] long.
    pub fn due(&self, now_ms: i64, grace_ms: i64, max: usize) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        for (&a, &b) in &self.gaps {
            let seen = self.gap_seen_ms.get(&a).copied().unwrap_or(0);
            if now_ms.saturating_sub(seen) < grace_ms {
                continue;
            }
            let mut start = a;
            while start <= b && out.len() < max {
                let end = b.min(start.saturating_add(MAX_REQUEST_SPAN - 1));
                out.push((start, end));
                if end == u64::MAX {
                    break;
                }
                start = end + 1;
            }
            if out.len() >= max {
                break;
            }
        }
        out
    }
}

/// Counters of one device, as `/api/v1/health` and `/metrics` show them.
#[derive(Debug, Clone, Serialize)]
pub struct SequenceSnapshot {
    pub device: String,
    pub high_seq: u64,
    /// Polls missing now (asked for again, not yet back).
    pub missing: u64,
    #[serde(flatten)]
    pub counts: Counters,
}

/// Every device's numbering, with what changed since it was last saved.
#[derive(Debug, Default)]
pub struct Sequences {
    devices: BTreeMap<String, DeviceSequence>,
    dirty: std::collections::BTreeSet<String>,
    /// Per device: when its holes were last asked for (ms), how many times in a row without
    /// progress, and the polls missing then.
    asked: std::collections::HashMap<String, Asked>,
}

#[derive(Debug, Clone, Copy)]
struct Asked {
    at_ms: i64,
    unanswered: u32,
    missing: u64,
}

/// Longest wait between two requests for holes that do not close (an agent that is away).
const MAX_ASK_INTERVAL_MS: i64 = 600_000;

impl Sequences {
    /// From saved state (device, JSON); unreadable rows start afresh and are reported.
    pub fn restore(rows: Vec<(String, String)>) -> Self {
        let mut s = Self::default();
        for (device, json) in rows {
            match serde_json::from_str(&json) {
                Ok(d) => {
                    s.devices.insert(device, d);
                }
                Err(e) => {
                    tracing::warn!(%device, "saved sequence state unreadable ({e}); starting afresh")
                }
            }
        }
        s
    }

    pub fn observe(&mut self, device: &str, seq: u64, ts_ms: i64, now_ms: i64) -> Observed {
        self.dirty.insert(device.to_owned());
        self.devices
            .entry(device.to_owned())
            .or_default()
            .observe(seq, ts_ms, now_ms)
    }

    /// A poll that arrived but was refused (dead-lettered): it is not missing.
    pub fn refused(&mut self, device: &str, seq: u64) {
        if let Some(d) = self.devices.get_mut(device) {
            self.dirty.insert(device.to_owned());
            d.refused(seq);
        }
    }

    pub fn unavailable(&mut self, device: &str, from: u64, to: u64) -> u64 {
        match self.devices.get_mut(device) {
            Some(d) => {
                self.dirty.insert(device.to_owned());
                d.unavailable(from, to)
            }
            None => 0,
        }
    }

    /// State changed since the last call, as (device, JSON) rows to save.
    pub fn take_dirty(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.dirty)
            .into_iter()
            .filter_map(|d| {
                let json = serde_json::to_string(self.devices.get(&d)?).ok()?;
                Some((d, json))
            })
            .collect()
    }

    /// Ranges to ask for now: per device, holes past the grace period, at most once per
    /// `every_ms` per device, backing off (doubling, up to 10 min) while asking closes nothing.
    pub fn requests(
        &mut self,
        now_ms: i64,
        grace_ms: i64,
        every_ms: i64,
    ) -> Vec<(String, u64, u64)> {
        let mut out = Vec::new();
        for (device, d) in &self.devices {
            if d.gaps.is_empty() {
                self.asked.remove(device);
                continue;
            }
            let missing = d.missing();
            let asked = self.asked.get(device).copied();
            let unanswered = match asked {
                Some(a) if a.missing <= missing => a.unanswered,
                _ => 0,
            };
            if let Some(a) = asked {
                let wait = every_ms
                    .saturating_mul(1 << unanswered.min(16))
                    .min(MAX_ASK_INTERVAL_MS.max(every_ms));
                if now_ms.saturating_sub(a.at_ms) < wait {
                    continue;
                }
            }
            let due = d.due(now_ms, grace_ms, 8);
            if !due.is_empty() {
                let unanswered = match asked {
                    Some(a) if a.missing <= missing => unanswered + 1,
                    _ => 0,
                };
                self.asked.insert(
                    device.clone(),
                    Asked {
                        at_ms: now_ms,
                        unanswered,
                        missing,
                    },
                );
            }
            out.extend(due.into_iter().map(|(a, b)| (device.clone(), a, b)));
        }
        out
    }

    pub fn snapshot(&self) -> Vec<SequenceSnapshot> {
        self.devices
            .iter()
            .map(|(device, d)| Self::shown(device, d))
            .collect()
    }

    /// One device's counters, as [`snapshot`](Self::snapshot) shows them.
    pub fn snapshot_of(&self, device: &str) -> Option<SequenceSnapshot> {
        let (device, d) = self.devices.get_key_value(device)?;
        Some(Self::shown(device, d))
    }

    fn shown(device: &str, d: &DeviceSequence) -> SequenceSnapshot {
        SequenceSnapshot {
            device: device.to_owned(),
            high_seq: d.high,
            missing: d.missing(),
            counts: d.counts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(seqs: &[u64]) -> DeviceSequence {
        let mut d = DeviceSequence::default();
        for &s in seqs {
            d.observe(s, s as i64 * 1000, 0);
        }
        d
    }

    #[test]
    fn holes_open_and_close() {
        let mut d = seen(&[5, 6, 7, 12, 13]);
        assert_eq!(d.gaps, BTreeMap::from([(8, 11)]));
        assert_eq!(
            (
                d.counts.gaps_detected,
                d.counts.missing_detected,
                d.missing()
            ),
            (1, 4, 4)
        );
        // Replays arrive (with their old timestamps), in any order.
        assert_eq!(d.observe(10, 10_000, 0), Observed::Repaired);
        assert_eq!(d.gaps, BTreeMap::from([(8, 9), (11, 11)]));
        assert_eq!(d.observe(8, 8_000, 0), Observed::Repaired);
        assert_eq!(d.observe(8, 8_000, 0), Observed::Duplicate);
        assert_eq!(d.unavailable(9, 11), 2);
        assert_eq!(
            (
                d.missing(),
                d.counts.repaired,
                d.counts.lost,
                d.counts.duplicates
            ),
            (0, 2, 2, 1)
        );
        assert!(d.gap_seen_ms.is_empty());
    }

    #[test]
    fn the_first_poll_seen_opens_no_hole_and_a_restart_is_told_from_a_replay() {
        let mut d = seen(&[1000]);
        assert_eq!(d.missing(), 0);
        assert_eq!(d.observe(1, 2_000_000, 0), Observed::Restarted);
        assert_eq!(d.observe(2, 2_001_000, 0), Observed::Next);
        assert_eq!(d.counts.restarts, 1);
    }

    #[test]
    fn a_restart_loses_the_old_holes_and_an_absurd_jump_is_no_hole() {
        let mut d = seen(&[300, 400]);
        assert_eq!(d.missing(), 99);
        // The agent's spool was replaced: its new 350 is not the old 350.
        assert_eq!(d.observe(1, 1_000_000, 0), Observed::Restarted);
        assert_eq!((d.missing(), d.counts.lost), (0, 99));
        assert_eq!(d.observe(350, 350_000, 0), Observed::Gap(348));
        // One poll numbered u64::MAX opens no hole of 2^64 polls.
        assert_eq!(d.observe(u64::MAX, 2_000_000, 0), Observed::Restarted);
        // ... and the real numbering going on undoes it.
        assert_eq!(d.observe(351, 2_001_000, 0), Observed::Next);
        assert_eq!(d.observe(352, 2_002_000, 0), Observed::Next);
        assert_eq!((d.counts.outliers, d.counts.restarts), (1, 1));
    }

    #[test]
    fn requests_wait_for_the_grace_period_and_are_cut_to_size() {
        let mut d = DeviceSequence::default();
        d.observe(1, 1, 0);
        d.observe(25_002, 2, 1_000);
        assert!(d.due(5_000, 5_000, 10).is_empty());
        assert_eq!(
            d.due(6_000, 5_000, 10),
            vec![(2, 10_001), (10_002, 20_001), (20_002, 25_001)]
        );
        assert_eq!(d.due(6_000, 5_000, 2).len(), 2);
        // A range split by a late poll keeps its age.
        d.observe(7, 3, 2_000);
        assert_eq!(d.due(6_000, 5_000, 1), vec![(2, 6)]);
    }

    #[test]
    fn requests_back_off_while_nothing_closes_and_not_when_holes_shrink() {
        let mut s = Sequences::default();
        s.observe("d", 1, 1, 0);
        s.observe("d", 100, 2, 0);
        let asked_at = |s: &mut Sequences, t: i64| !s.requests(t, 0, 1_000).is_empty();
        assert!(asked_at(&mut s, 10_000));
        assert!(!asked_at(&mut s, 10_500));
        assert!(asked_at(&mut s, 11_000)); // 1 s: no answer yet
        assert!(!asked_at(&mut s, 12_500)); // now 2 s
        assert!(asked_at(&mut s, 13_000));
        // Progress: part of the hole came back, so the next ask is at the base interval.
        s.observe("d", 50, 1, 13_100);
        assert!(asked_at(&mut s, 14_000));
        // Closed: nothing to ask.
        s.unavailable("d", 0, 1_000);
        assert!(!asked_at(&mut s, 100_000));
    }

    #[test]
    fn a_lone_forged_number_is_undone_by_the_next_real_poll() {
        // A far jump, then the real numbering goes on: no hole, no loss.
        let mut d = seen(&[100]);
        d.observe(9_000_000, 101_000, 0);
        assert_eq!(d.observe(101, 101_000, 0), Observed::Next);
        assert_eq!(
            (d.missing(), d.counts.lost, d.counts.outliers, d.high),
            (0, 0, 1, 101)
        );
        // u64::MAX with a time in the future: the real polls are not taken as duplicates.
        d.observe(u64::MAX, 10_000_000, 0);
        assert_eq!(d.observe(102, 102_000, 0), Observed::Next);
        assert_eq!(d.observe(103, 103_000, 0), Observed::Next);
        assert_eq!(
            (
                d.missing(),
                d.counts.lost,
                d.counts.outliers,
                d.counts.restarts
            ),
            (0, 0, 2, 0)
        );
        // A real hole is confirmed by the poll after it and stays.
        d.observe(110, 110_000, 0);
        assert_eq!(d.observe(111, 111_000, 0), Observed::Next);
        assert_eq!(d.missing(), 6);
        // A refused poll closes its hole, and moves nothing.
        d.refused(105);
        assert_eq!((d.missing(), d.counts.refused, d.high), (5, 1, 111));
        d.refused(5_000_000);
        assert_eq!((d.missing(), d.counts.refused, d.high), (5, 1, 111));
        d.refused(112);
        assert_eq!((d.missing(), d.counts.refused, d.high), (5, 2, 112));
    }

    #[test]
    fn extreme_numbers_do_not_overflow() {
        let mut d = seen(&[u64::MAX - MAX_HOLE - 1, u64::MAX]);
        assert_eq!(d.missing(), MAX_HOLE);
        assert_eq!(
            d.due(i64::MAX, 0, 1),
            vec![(
                u64::MAX - MAX_HOLE,
                u64::MAX - MAX_HOLE + MAX_REQUEST_SPAN - 1
            )]
        );
        assert_eq!(d.unavailable(0, u64::MAX), MAX_HOLE);
        assert_eq!(d.observe(u64::MAX, 0, 0), Observed::Duplicate);
    }
}
