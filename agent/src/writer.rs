//! The spool writer: polls → disk, never making the pollers wait.
//!
//! Polls are taken off the channel at once into a bounded memory buffer (`agent.memory_buffer`
//! polls) and appended from there in batches by the spool's owner thread, one batch at a time. While the spool cannot be
//! written (typically a full disk) the buffer holds the polls and appends are retried with
//! backoff; once it is full, further polls are dropped and counted. When the disk takes writes
//! again the buffer is spooled in poll order and published from the spool as usual.
//!
//! Nothing is published from memory: a reading gets its `seq` when it is spooled, so what the
//! broker sees is always numbered, in order, and can be replayed later with the same bytes.
//!
//! One WARN names the spool directory and the OS error when writes start failing, one WARN
//! when polls start being dropped, one INFO when the disk takes writes again; metrics and the
//! health message carry the state meanwhile.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::spool::{Appended, SpoolHandle};
use kilowatch_site::payload::DevicePoll;

/// Most polls appended (and fsynced) at once.
const BATCH: usize = 256;
/// Most polls taken off the channel at one wake.
const MAX_DRAIN: usize = 4 * BATCH;
/// Longest wait between two attempts while the spool cannot be written.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Spool writer state for metrics and the health message.
#[derive(Debug, Default, Serialize)]
pub struct WriterStats {
    /// The last append failed because the disk (or quota) is full.
    pub disk_full: AtomicBool,
    /// The last append failed, whatever the reason.
    pub write_failing: AtomicBool,
    /// Failed appends (each retry counts).
    pub write_errors: AtomicU64,
    /// The error of the last failed append while it is failing.
    pub last_error: Mutex<Option<String>>,
    /// Polls waiting in memory to be spooled.
    pub buffered: AtomicU64,
    /// `agent.memory_buffer`.
    pub buffer_capacity: AtomicU64,
    /// Polls dropped because the memory buffer was full (never spooled, never numbered).
    pub dropped: AtomicU64,
}

fn backoff(failures: u32) -> Duration {
    Duration::from_millis(100u64 << (failures.clamp(1, 6) - 1)).min(MAX_BACKOFF)
}

/// An episode of failing appends, for the one log line at its start and its end.
struct Outage {
    since: Instant,
    dropped_before: u64,
    dropping: bool,
}

/// Appends polls from `rx` to the spool until `rx` closes and everything buffered is spooled
/// (or, at shutdown, the spool still refuses it). The spool wakes the publisher after each
/// batch.
pub async fn spool_writer(
    mut rx: mpsc::Receiver<DevicePoll>,
    spool: SpoolHandle,
    stats: Arc<WriterStats>,
    capacity: usize,
) {
    let capacity = capacity.max(1);
    stats
        .buffer_capacity
        .store(capacity as u64, Ordering::Relaxed);
    let dir = spool.dir().to_owned();
    let mut buffer: VecDeque<DevicePoll> = VecDeque::new();
    let mut flushing: Option<oneshot::Receiver<Appended>> = None;
    let mut in_flight = 0usize;
    let mut failures = 0u32;
    let mut retry_at = Instant::now();
    let mut outage: Option<Outage> = None;
    let mut open = true;
    loop {
        if flushing.is_none() && !buffer.is_empty() && Instant::now() >= retry_at {
            let batch: Vec<DevicePoll> = buffer.drain(..buffer.len().min(BATCH)).collect();
            in_flight = batch.len();
            flushing = Some(spool.append(batch));
        }
        stats
            .buffered
            .store((buffer.len() + in_flight) as u64, Ordering::Relaxed);
        if !open && buffer.is_empty() && flushing.is_none() {
            return;
        }
        let retry = tokio::time::sleep_until(retry_at);
        tokio::select! {
            joined = async { flushing.as_mut().expect("guarded").await }, if flushing.is_some() => {
                flushing = None;
                let (result, batch) = match joined {
                    Ok(done) => done,
                    Err(_) => {
                        tracing::error!("spool append failed unexpectedly; {in_flight} polls lost");
                        stats.dropped.fetch_add(in_flight as u64, Ordering::Relaxed);
                        in_flight = 0;
                        continue;
                    }
                };
                in_flight = 0;
                match result {
                    Ok(()) => {
                        failures = 0;
                        if let Some(o) = outage.take() {
                            stats.disk_full.store(false, Ordering::Relaxed);
                            stats.write_failing.store(false, Ordering::Relaxed);
                            *stats.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                            tracing::info!(
                                dir = %dir.display(),
                                after_s = o.since.elapsed().as_secs(),
                                buffered = buffer.len() + batch.len(),
                                dropped = stats.dropped.load(Ordering::Relaxed) - o.dropped_before,
                                "spool writable again: the polls held in memory are spooled and published in order"
                            );
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        retry_at = Instant::now() + backoff(failures);
                        stats.write_errors.fetch_add(1, Ordering::Relaxed);
                        stats.write_failing.store(true, Ordering::Relaxed);
                        stats.disk_full.store(e.is_disk_full(), Ordering::Relaxed);
                        *stats.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                        if outage.is_none() {
                            tracing::warn!(
                                dir = %dir.display(),
                                capacity,
                                "cannot write to the spool ({e}){}; polling continues into memory and writes are retried",
                                if e.is_disk_full() { ": the disk is full" } else { "" },
                            );
                            outage = Some(Outage {
                                since: Instant::now(),
                                dropped_before: stats.dropped.load(Ordering::Relaxed),
                                dropping: false,
                            });
                        } else {
                            tracing::debug!(failures, "spool append failed again: {e}");
                        }
                        if !open {
                            let lost = buffer.len() + batch.len();
                            tracing::error!(dir = %dir.display(), lost, "stopping with the spool unwritable ({e}): polls held in memory are lost");
                            stats.dropped.fetch_add(lost as u64, Ordering::Relaxed);
                            return;
                        }
                        // Back to the front, in order.
                        for p in batch.into_iter().rev() {
                            buffer.push_front(p);
                        }
                    }
                }
            }
            p = rx.recv(), if open => match p {
                Some(first) => {
                    let mut next = Some(first);
                    let mut taken = 0;
                    while let Some(p) = next {
                        taken += 1;
                        if buffer.len() + in_flight < capacity {
                            buffer.push_back(p);
                        } else {
                            stats.dropped.fetch_add(1, Ordering::Relaxed);
                            let o = outage.get_or_insert_with(|| Outage {
                                since: Instant::now(),
                                dropped_before: stats.dropped.load(Ordering::Relaxed) - 1,
                                dropping: false,
                            });
                            if !o.dropping {
                                o.dropping = true;
                                tracing::warn!(
                                    dir = %dir.display(),
                                    capacity,
                                    "memory buffer full (agent.memory_buffer): new polls are dropped and counted until the spool takes writes again"
                                );
                            }
                        }
                        // Bounded: a producer as fast as this loop would otherwise keep it
                        // here, the batch in flight never joined and the buffered count stale.
                        next = if taken < MAX_DRAIN { rx.try_recv().ok() } else { None };
                    }
                }
                None => open = false,
            },
            () = retry, if flushing.is_none() && !buffer.is_empty() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::{Spool, SpoolConfig};
    use kilowatch_site::payload::SCHEMA_VERSION;

    fn poll(i: u32) -> DevicePoll {
        DevicePoll {
            version: SCHEMA_VERSION,
            site: "s".into(),
            device: "d".into(),
            seq: 0,
            ts: chrono::Utc::now(),
            readings: vec![kilowatch_site::payload::Reading {
                quantity: "active_power".into(),
                value: Some(f64::from(i)),
                unit: "kW".into(),
                quality: kilowatch_site::payload::Quality::Good,
            }],
        }
    }

    #[test]
    fn backoff_grows_to_a_bound() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }

    /// The spool directory made unwritable (a read-only segment stands in for a full disk
    /// here; the e2e test uses a real full tmpfs): polls keep being taken, the buffer holds
    /// up to its capacity, the rest is counted, and everything held is spooled in order once
    /// writes work again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn holds_polls_in_memory_while_the_spool_fails_and_drops_beyond_capacity() {
        let dir = std::env::temp_dir().join(format!("kw-writer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = SpoolConfig {
            dir: dir.clone(),
            budget: 1 << 20,
            fsync: false,
            retention: Duration::from_secs(3600),
        };
        let spool = SpoolHandle::open(config.clone()).unwrap();
        spool.fail_writes_for_test(true);
        let stats = Arc::new(WriterStats::default());
        let (tx, rx) = mpsc::channel(4);
        let writer = tokio::spawn(spool_writer(rx, spool.clone(), stats.clone(), 10));
        // The channel holds 4: 25 sends complete only because the writer keeps taking them.
        for i in 0..25 {
            tokio::time::timeout(Duration::from_secs(5), tx.send(poll(i)))
                .await
                .expect("the writer never blocks the sender")
                .unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while stats.dropped.load(Ordering::Relaxed) < 15 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 15);
        assert_eq!(stats.buffered.load(Ordering::Relaxed), 10);
        assert!(stats.write_failing.load(Ordering::Relaxed));
        assert!(stats.write_errors.load(Ordering::Relaxed) >= 1);
        assert!(stats.last_error.lock().unwrap().is_some());

        spool.fail_writes_for_test(false);
        let deadline = Instant::now() + Duration::from_secs(5);
        // Recovered: spooled, and the writer has said so (it clears the flags after the
        // append returns, so waiting on the spool alone races with it).
        while (spool.stats().appended < 10
            || stats.write_failing.load(Ordering::Relaxed)
            || stats.buffered.load(Ordering::Relaxed) > 0)
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!stats.write_failing.load(Ordering::Relaxed));
        assert_eq!(stats.buffered.load(Ordering::Relaxed), 0);
        drop(tx);
        writer.await.unwrap();
        let values: Vec<f64> = spool
            .next_batch(100)
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                let p: DevicePoll = serde_json::from_slice(&r.body).unwrap();
                assert_eq!(p.seq, r.seq);
                p.readings[0].value.unwrap()
            })
            .collect();
        // The first 10 polls, in order, numbered 1..=10.
        assert_eq!(values, (0..10).map(f64::from).collect::<Vec<_>>());
        assert_eq!(spool.close().await.unwrap().appended, 10);
        assert_eq!(Spool::open(config).unwrap().last_seq("d"), 10);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
