//! Unit tests: appending, numbering, acknowledging and reopening.

use std::fs;

use super::test_util::*;

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
