//! Unit tests: the disk budget, retention and a full disk.

use std::fs;

use super::store::now_ms;
use super::test_util::*;

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
