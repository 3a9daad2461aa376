//! Unit tests: replaying a device's readings.

use std::fs;

use super::read::gaps;
use super::test_util::*;
use super::Record;

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
