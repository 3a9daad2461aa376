//! Source stage driver: one task per device polls on its drift-free schedule, records health and
//! hands each successful poll to the next stage. Failed polls back off on the device's own
//! schedule, so a dead meter never delays a healthy one.

use chrono::Utc;
use tokio::sync::mpsc;

use crate::health::Health;
use crate::poll::Poller;
use crate::rbe::Rbe;
use crate::schedule::{backoff, Schedule};
use kilowatch_site::payload::{DevicePoll, SCHEMA_VERSION};

/// Polls `poller`'s device until `out` is closed, through the report-by-exception filter
/// `rbe` if there is one. The `seq` of each [`DevicePoll`] is left at 0:
/// the stage that makes a poll durable numbers it, so numbers survive restarts without gaps.
pub async fn device_loop(
    mut poller: Poller,
    site: String,
    health: Health,
    mut rbe: Option<Rbe>,
    out: mpsc::Sender<DevicePoll>,
) {
    let device = poller.device().clone();
    let mut schedule = Schedule::new(tokio::time::Instant::now(), device.interval);
    let mut failures = 0u32;
    loop {
        tokio::time::sleep_until(schedule.due()).await;
        // Timestamp at poll time, not at publish time.
        let ts = Utc::now();
        match poller.poll().await {
            Ok(outcome) => {
                if failures > 0 {
                    tracing::info!(device = %device.id, "device answers again");
                }
                failures = 0;
                health.ok(&device.id, outcome.latency, outcome.exceptions);
                let msg = DevicePoll {
                    version: SCHEMA_VERSION,
                    site: site.clone(),
                    device: device.id.clone(),
                    seq: 0,
                    ts,
                    readings: outcome.readings,
                };
                let kept = match rbe.as_mut() {
                    Some(f) => f.filter(msg),
                    None => Some(msg),
                };
                if let Some(msg) = kept {
                    if out.send(msg).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(device = %device.id, "poll failed: {e}");
                } else {
                    tracing::debug!(device = %device.id, failures, "poll failed: {e}");
                }
                health.failed(&device.id, e.kind(), e.to_string());
            }
        }
        let hold = backoff(failures, device.interval);
        let (missed, held) = schedule.advance(tokio::time::Instant::now(), hold);
        if missed > 0 || held > 0 {
            health.update(&device.id, |h| {
                h.missed_polls += missed;
                h.backoff_skips += held;
            });
        }
    }
}
