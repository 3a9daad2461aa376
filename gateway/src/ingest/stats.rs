//! Ingest counters, shown by `/api/v1/health`, `/metrics` and the device-health page.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use super::sequence::{Counters, SequenceSnapshot};

#[derive(Debug, Default)]
pub struct IngestStats {
    /// Set once the broker confirmed the subscription: from then on the persistent session
    /// keeps every reading for us.
    pub subscribed: tokio::sync::watch::Sender<bool>,
    pub messages: AtomicU64,
    pub stored_samples: AtomicU64,
    pub rejected: AtomicU64,
    /// Messages the store itself refused (while it took others): dead-lettered.
    pub poison: AtomicU64,
    pub store_errors: AtomicU64,
    /// QoS 0 messages dropped because too many were already waiting (a flood).
    pub dropped_qos0: AtomicU64,
    pub connected: AtomicBool,
    /// Replay requests sent to agents, and their reports received (and unreadable ones).
    pub replay_requests: AtomicU64,
    pub replay_reports: AtomicU64,
    pub bad_replay_reports: AtomicU64,
    /// The latest health message of each agent (spool backlog, device errors), by topic.
    pub agents: Mutex<BTreeMap<String, serde_json::Value>>,
    /// Each device's poll numbering (holes, repairs, losses), by device; the writer updates
    /// the devices of each batch only, not all of them.
    pub sequences: Mutex<BTreeMap<String, SequenceSnapshot>>,
}

/// Totals of the poll-numbering counters over every device.
#[derive(Debug, Default, Serialize)]
pub struct SequenceTotals {
    /// Polls missing now (asked from the agents again, not back yet).
    pub missing: u64,
    #[serde(flatten)]
    pub counts: Counters,
    pub replay_requests: u64,
    pub replay_reports: u64,
}

#[derive(Serialize)]
pub struct IngestSnapshot {
    pub mqtt_connected: bool,
    /// The broker confirmed the data subscription: readings published from now on are kept
    /// for the gateway even while it is away (persistent session).
    pub mqtt_subscribed: bool,
    pub messages: u64,
    pub stored_samples: u64,
    pub rejected: u64,
    pub poison: u64,
    pub store_errors: u64,
    pub dropped_qos0: u64,
    pub sequence: SequenceTotals,
}

impl IngestStats {
    /// The agents' latest health messages.
    pub fn agents(&self) -> Vec<serde_json::Value> {
        self.agents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Each device's poll-numbering counters.
    pub fn sequences(&self) -> Vec<SequenceSnapshot> {
        self.sequences
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn snapshot(&self) -> IngestSnapshot {
        let mut sequence = SequenceTotals {
            replay_requests: self.replay_requests.load(Ordering::Relaxed),
            replay_reports: self.replay_reports.load(Ordering::Relaxed),
            ..SequenceTotals::default()
        };
        for s in self
            .sequences
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
        {
            sequence.missing = sequence.missing.saturating_add(s.missing);
            sequence.counts.add(&s.counts);
        }
        IngestSnapshot {
            mqtt_connected: self.connected.load(Ordering::Relaxed),
            mqtt_subscribed: *self.subscribed.borrow(),
            messages: self.messages.load(Ordering::Relaxed),
            stored_samples: self.stored_samples.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            poison: self.poison.load(Ordering::Relaxed),
            store_errors: self.store_errors.load(Ordering::Relaxed),
            dropped_qos0: self.dropped_qos0.load(Ordering::Relaxed),
            sequence,
        }
    }
}
