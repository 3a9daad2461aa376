//! Health per device: successes, errors by kind, last error, latency, missed polls. Shared by
//! the pollers (writers) and whatever reports it (logs, metrics, the health topic).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct DeviceHealth {
    pub polls_ok: u64,
    pub polls_failed: u64,
    /// Failed polls by kind: `timeout`, `connect`, `transport`.
    pub errors: BTreeMap<String, u64>,
    /// Requests the device answered with a Modbus exception.
    pub exceptions: u64,
    /// Scheduled polls that could not run on time (the previous one overran) and were skipped.
    pub missed_polls: u64,
    /// Scheduled polls skipped on purpose while a dead device backs off.
    pub backoff_skips: u64,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_ok_at: Option<DateTime<Utc>>,
    pub last_latency_ms: Option<f64>,
}

/// All devices' health, cheap to clone and share.
#[derive(Debug, Default, Clone)]
pub struct Health(Arc<Mutex<BTreeMap<String, DeviceHealth>>>);

impl Health {
    pub fn update(&self, device: &str, f: impl FnOnce(&mut DeviceHealth)) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Look up before inserting: the hot path must not allocate a key on every poll.
        match map.get_mut(device) {
            Some(h) => f(h),
            None => f(map.entry(device.to_owned()).or_default()),
        }
    }

    pub fn snapshot(&self) -> BTreeMap<String, DeviceHealth> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn ok(&self, device: &str, latency: Duration, exceptions: u32) {
        self.update(device, |h| {
            h.polls_ok += 1;
            h.exceptions += u64::from(exceptions);
            h.consecutive_failures = 0;
            h.last_ok_at = Some(Utc::now());
            h.last_latency_ms = Some(latency.as_secs_f64() * 1000.0);
        });
    }

    pub fn failed(&self, device: &str, kind: &str, message: String) {
        self.update(device, |h| {
            h.polls_failed += 1;
            *h.errors.entry(kind.to_owned()).or_default() += 1;
            h.consecutive_failures += 1;
            h.last_error = Some(message);
            h.last_error_at = Some(Utc::now());
        });
    }
}
