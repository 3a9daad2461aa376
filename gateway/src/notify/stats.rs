//! Counters of the notification sender, for `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Shared between the sender and whoever reports it.
#[derive(Debug, Default)]
pub struct NotifyStats {
    /// Notifications (and digests) delivered.
    pub sent: AtomicU64,
    /// Failed attempts (each is retried later).
    pub failed: AtomicU64,
    /// Rows waiting to be sent, as of the sender's last pass.
    pub queued: AtomicU64,
    /// Rows held for the next digest, as of the sender's last pass.
    pub held: AtomicU64,
}

impl NotifyStats {
    /// The counters in the Prometheus text format, each with HELP and TYPE.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, kind, help, v) in [
            (
                "kilowatch_notifications_sent_total",
                "counter",
                "Notifications and digests delivered.",
                &self.sent,
            ),
            (
                "kilowatch_notifications_failed_total",
                "counter",
                "Failed notification attempts (retried with backoff).",
                &self.failed,
            ),
            (
                "kilowatch_notifications_queued",
                "gauge",
                "Notifications waiting in the outbox.",
                &self.queued,
            ),
            (
                "kilowatch_notifications_held",
                "gauge",
                "Notifications held for the next digest.",
                &self.held,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                v.load(Relaxed)
            );
        }
        out
    }
}
