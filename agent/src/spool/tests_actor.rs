//! Unit tests: the spool behind its owner thread.

use std::fs;
use std::time::Duration;

use super::test_util::*;
use super::{Spool, SpoolConfig, SpoolHandle};

fn handle(d: &std::path::Path) -> SpoolHandle {
    SpoolHandle::open(SpoolConfig {
        dir: d.to_owned(),
        budget: 1 << 20,
        fsync: true,
        retention: Duration::from_secs(86_400),
    })
    .unwrap()
}

/// Append, publish in batches, acknowledge, replay: the same spool as without the thread,
/// with the counters kept current for readers that do not ask.
#[tokio::test(flavor = "current_thread")]
async fn serves_appends_batches_acks_and_replays_in_order() {
    let d = dir("actor");
    let spool = handle(&d);
    let polls: Vec<_> = (0..10).map(|i| recent("a", 100 - i)).collect();
    let (appended, polls) = spool.append(polls).await.unwrap();
    appended.unwrap();
    assert_eq!(
        polls.iter().map(|p| p.seq).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    // The publisher is woken by the append it did not wait for.
    tokio::time::timeout(Duration::from_secs(1), spool.appended())
        .await
        .expect("an append wakes the publisher");

    let first = spool.next_batch(4).await.unwrap();
    assert_eq!(seqs_of(&first), [1, 2, 3, 4]);
    let rest = spool.next_batch(100).await.unwrap();
    assert_eq!(seqs_of(&rest), (5..=10).collect::<Vec<_>>());
    assert!(spool.next_batch(100).await.unwrap().is_empty());
    for r in &first {
        spool.ack(r.id);
    }
    // Acks need no reply; a request behind them sees them done.
    spool.save_cursor().await.unwrap();
    assert_eq!(spool.stats().pending, 6);
    assert_eq!(spool.stats().acked, 4);
    assert_eq!(
        spool.oldest_pending_ms().await.unwrap(),
        Some(rest[0].ts_ms)
    );

    spool.rewind();
    assert_eq!(
        seqs_of(&spool.next_batch(100).await.unwrap()),
        seqs_of(&rest)
    );
    let (got, unavailable) = spool.replay("a", 3, 12, 100).await.unwrap();
    assert_eq!(seqs_of(&got), (3..=10).collect::<Vec<_>>());
    assert_eq!(unavailable, [[11, 12]]);

    let other = spool.clone();
    let stats = spool.close().await.unwrap();
    assert_eq!((stats.appended, stats.pending), (10, 6));
    // Closed: requests fail instead of hanging, and appends give the polls back.
    assert!(other.next_batch(1).await.is_err());
    let (appended, back) = other.append(vec![recent("a", 0)]).await.unwrap();
    assert!(appended.is_err());
    assert_eq!(back.len(), 1);

    // The cursor was saved: what was acknowledged is not sent again.
    let mut s = open(&d, 1 << 20);
    assert_eq!(seqs_of(&drain(&mut s)), (5..=10).collect::<Vec<_>>());
    drop(s);
    let _ = fs::remove_dir_all(&d);
}

/// A slow disk stalls only the owner thread: a single-threaded runtime keeps running its other
/// tasks while an append waits on the disk.
#[tokio::test(flavor = "current_thread")]
async fn a_held_spool_does_not_stall_the_runtime() {
    let d = dir("actor-stall");
    let spool = handle(&d);
    let (entered_tx, entered_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    // Stands in for a long fdatasync: the owner thread is busy until released.
    spool.run_for_test(move |_: &mut Spool| {
        entered_tx.send(()).unwrap();
        let _ = release_rx.recv();
    });
    entered_rx.recv().unwrap();
    let append = spool.append(vec![recent("a", 1)]);
    let ticker = tokio::spawn(async {
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    tokio::time::timeout(Duration::from_secs(5), ticker)
        .await
        .expect("the runtime ran other tasks meanwhile")
        .unwrap();
    release_tx.send(()).unwrap();
    let (appended, _) = append.await.unwrap();
    appended.unwrap();
    assert_eq!(spool.close().await.unwrap().appended, 1);
    let _ = fs::remove_dir_all(&d);
}

/// Acknowledgements need no request behind them: a burst is recorded by the owner on its own
/// (after `ACK_GATHER`), in any order, and the counters show it without asking.
#[tokio::test(flavor = "current_thread")]
async fn a_burst_of_acks_is_recorded_without_a_request_behind_it() {
    let d = dir("actor-acks");
    let spool = handle(&d);
    let polls: Vec<_> = (0..20).map(|i| recent("a", 100 - i)).collect();
    spool.append(polls).await.unwrap().0.unwrap();
    let records = spool.next_batch(100).await.unwrap();
    assert_eq!(records.len(), 20);
    // In publish order but for two swapped, and one acknowledged twice.
    let mut ids: Vec<u64> = records.iter().map(|r| r.id).collect();
    ids.swap(3, 7);
    ids.push(ids[0]);
    let mut stats = spool.subscribe_stats_for_test();
    for id in ids.iter().take(15) {
        spool.ack(*id);
    }
    tokio::time::timeout(
        Duration::from_secs(5),
        stats.wait_for(|s| s.acked == 15 && s.pending == 5),
    )
    .await
    .expect("the owner records a burst of acks by itself")
    .unwrap();
    for id in ids.iter().skip(15) {
        spool.ack(*id);
    }
    tokio::time::timeout(Duration::from_secs(5), stats.wait_for(|s| s.pending == 0))
        .await
        .expect("the rest is recorded too")
        .unwrap();
    assert_eq!(spool.close().await.unwrap().acked, 20);
    // The cursor covers all of them: nothing is sent again.
    let mut s = open(&d, 1 << 20);
    assert!(drain(&mut s).is_empty());
    drop(s);
    let _ = fs::remove_dir_all(&d);
}
