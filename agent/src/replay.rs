//! Loss repair: the gateway asks (on `kilowatch/v1/<site>/<device>/replay`) for a range of a
//! device's `seq` it never received; the agent publishes those spooled readings again, with the
//! bytes first published, then a [`ReplayReport`] on `.../replayed` naming what it could not
//! provide.
//!
//! Served by one task per broker connection, through the publisher's [`Outbox`], with its own
//! small window of unacknowledged publishes so live readings keep flowing. Spool scans run on
//! the spool's owner thread in chunks, so neither the async runtime nor the pollers wait on
//! them.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{mpsc, Semaphore};

use crate::outbox::{Item, Outbox};
use crate::spool::SpoolHandle;
use kilowatch_site::mqtt::Client;
use kilowatch_site::payload::{self, ReplayReport, ReplayRequest, REPLAY_VERSION};

/// Re-sent readings unacknowledged at once (live publishing has its own, larger window).
pub const WINDOW: usize = 64;
/// Requests waiting to be served; more are dropped (and counted) rather than blocking.
pub const QUEUE: usize = 256;
/// Readings read from the spool per scan (one request to the spool).
const CHUNK: usize = 500;
/// Readings re-sent for one request at most; the report's `to_seq` says where it stopped.
pub const MAX_PER_REQUEST: u64 = 100_000;

/// The site and the devices this agent polls: requests for other devices are not ours.
#[derive(Debug, Clone)]
pub struct ReplayScope {
    pub site: String,
    pub devices: BTreeSet<String>,
}

/// Counters for metrics and the health topic.
#[derive(Debug, Default, Serialize)]
pub struct ReplayStats {
    /// The broker confirmed the subscription to replay requests on this connection.
    pub subscribed: std::sync::atomic::AtomicBool,
    /// Valid requests for devices this agent polls.
    pub requests: AtomicU64,
    /// Requests that could not be parsed.
    pub malformed: AtomicU64,
    /// Requests for devices this agent does not poll.
    pub ignored: AtomicU64,
    /// Requests dropped because too many were waiting.
    pub dropped: AtomicU64,
    /// Readings published again.
    pub resent: AtomicU64,
    /// Sub-ranges reported unavailable.
    pub unavailable_ranges: AtomicU64,
    /// Readings in those sub-ranges.
    pub unavailable_readings: AtomicU64,
}

/// What a request on `topic` asks, if it is one for this site and well formed.
fn request(scope: &ReplayScope, topic: &str, bytes: &[u8]) -> Result<ReplayRequest, String> {
    let device = topic
        .strip_prefix(payload::TOPIC_ROOT)
        .and_then(|t| t.strip_prefix('/'))
        .and_then(|t| t.strip_prefix(scope.site.as_str()))
        .and_then(|t| t.strip_prefix('/'))
        .and_then(|t| t.strip_suffix("/replay"))
        .ok_or_else(|| format!("not a replay topic of site {}", scope.site))?;
    let req = ReplayRequest::parse(bytes).map_err(|e| e.to_string())?;
    if req.device != device {
        return Err(format!(
            "device `{}` in the payload, `{device}` in the topic",
            req.device
        ));
    }
    Ok(req)
}

/// Appends `more` to `ranges`, joining ranges that touch.
fn merge(ranges: &mut Vec<[u64; 2]>, more: Vec<[u64; 2]>) {
    for r in more {
        match ranges.last_mut() {
            Some(last) if last[1].checked_add(1) == Some(r[0]) => last[1] = r[1],
            _ => ranges.push(r),
        }
    }
}

/// Subscribes to the site's replay requests, then answers those `rx` brings until the
/// connection ends (the task is aborted) or a publish fails.
pub async fn serve(
    scope: ReplayScope,
    client: Client,
    spool: SpoolHandle,
    outbox: Arc<Outbox>,
    permits: Arc<Semaphore>,
    stats: Arc<ReplayStats>,
    mut rx: mpsc::Receiver<(String, Vec<u8>)>,
) {
    // On every connection: a persistent session normally keeps it, but a broker that lost its
    // state must not silently stop delivering requests.
    let filter = payload::replay_request_subscription(&scope.site);
    if let Err(e) = client.subscribe(&filter).await {
        tracing::warn!("cannot subscribe to replay requests ({filter}): {e}");
        return;
    }
    while let Some((topic, bytes)) = rx.recv().await {
        let req = match request(&scope, &topic, &bytes) {
            Ok(r) => r,
            Err(e) => {
                stats.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%topic, "replay request ignored: {e}");
                continue;
            }
        };
        if !scope.devices.contains(&req.device) {
            stats.ignored.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(device = %req.device, "replay request for a device this agent does not poll");
            continue;
        }
        stats.requests.fetch_add(1, Ordering::Relaxed);
        if answer(&req, &scope, &client, &spool, &outbox, &permits, &stats)
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn answer(
    req: &ReplayRequest,
    scope: &ReplayScope,
    client: &Client,
    spool: &SpoolHandle,
    outbox: &Outbox,
    permits: &Arc<Semaphore>,
    stats: &ReplayStats,
) -> Result<(), String> {
    let mut from = req.from_seq;
    let mut resent = 0u64;
    let mut unavailable = Vec::new();
    let mut covered_to = req.to_seq;
    while from <= req.to_seq {
        if resent >= MAX_PER_REQUEST {
            covered_to = from - 1;
            break;
        }
        let (records, gaps) = match spool.replay(&req.device, from, req.to_seq, CHUNK).await {
            Ok(found) => found,
            Err(e) => {
                // Report nothing rather than a wrong "unavailable": the gateway asks again.
                tracing::error!(device = %req.device, "replay: {e}");
                return Ok(());
            }
        };
        merge(&mut unavailable, gaps);
        let full = records.len() >= CHUNK;
        let last = records.last().map(|r| r.seq);
        for r in records {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return Err("closed".into());
            };
            permit.forget();
            outbox
                .publish(client, &r.topic, false, r.body, Item::Replay)
                .await?;
            resent += 1;
            stats.resent.fetch_add(1, Ordering::Relaxed);
        }
        match (full, last) {
            (true, Some(seq)) if seq < req.to_seq => from = seq + 1,
            _ => break,
        }
    }
    let missing: u64 = unavailable.iter().map(|[a, b]| b - a + 1).sum();
    stats
        .unavailable_ranges
        .fetch_add(unavailable.len() as u64, Ordering::Relaxed);
    stats
        .unavailable_readings
        .fetch_add(missing, Ordering::Relaxed);
    tracing::info!(
        device = %req.device,
        from = req.from_seq,
        to = covered_to,
        resent,
        unavailable = missing,
        "replay request answered"
    );
    let report = ReplayReport {
        version: REPLAY_VERSION,
        device: req.device.clone(),
        from_seq: req.from_seq,
        to_seq: covered_to,
        resent,
        unavailable,
    };
    outbox
        .publish(
            client,
            &payload::replay_report_topic(&scope.site, &req.device),
            false,
            report.to_json(),
            Item::Control,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> ReplayScope {
        ReplayScope {
            site: "plant".into(),
            devices: ["incomer".to_owned()].into(),
        }
    }

    #[test]
    fn reads_requests_for_this_site_only() {
        let body = ReplayRequest::new("incomer", 3, 9).to_json();
        let r = request(&scope(), "kilowatch/v1/plant/incomer/replay", &body).unwrap();
        assert_eq!((r.from_seq, r.to_seq), (3, 9));
        assert!(request(&scope(), "kilowatch/v1/other/incomer/replay", &body).is_err());
        assert!(request(&scope(), "kilowatch/v1/plant/incomer/data", &body).is_err());
        // The topic and the payload must name the same device.
        assert!(request(&scope(), "kilowatch/v1/plant/feeder/replay", &body).is_err());
        assert!(request(&scope(), "kilowatch/v1/plant/incomer/replay", b"\xff\x00").is_err());
    }

    #[test]
    fn merges_touching_ranges() {
        let mut r = vec![[1, 2]];
        merge(&mut r, vec![[3, 4], [6, 6], [7, u64::MAX]]);
        assert_eq!(r, [[1, 4], [6, u64::MAX]]);
        merge(&mut r, vec![[1, 1]]);
        assert_eq!(r.len(), 3);
    }
}
