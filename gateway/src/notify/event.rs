//! What the alarm engine hands to notifications: one alarm transition.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::i18n::Msg;

/// How serious an alarm is (info < warning < critical). Defined with the site file's
/// `min_severity`, so routing compares the same type.
pub use kilowatch_site::config::Severity;

/// One alarm transition to notify about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique per alarm transition (e.g. `<alarm id>:<raised at ms>:raised`): the outbox stores
    /// one row per (key, channel), so enqueueing the same transition again changes nothing.
    pub key: String,
    pub alarm_id: String,
    /// The rule that raised it (`demand`, `device-silent`, …).
    pub rule: String,
    pub severity: Severity,
    /// `raised`, `acknowledged` or `cleared`.
    pub state: String,
    /// In English; `title_message` for any language (absent from events queued before
    /// notifications spoke the site's language).
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_message: Option<Msg>,
    pub asset: Option<String>,
    /// The numbers behind the alarm (values, window, threshold): a JSON object whose fields are
    /// shown as a table; other values are shown as they are.
    pub evidence: serde_json::Value,
    /// Path of the page that shows it, e.g. `/#alarms`.
    pub link: String,
    pub at: DateTime<Utc>,
}

impl Event {
    /// The event `notify test` sends.
    pub fn test(at: DateTime<Utc>) -> Event {
        Event {
            key: format!("test:{}", at.timestamp_nanos_opt().unwrap_or_default()),
            alarm_id: "test".into(),
            rule: "test".into(),
            severity: Severity::Info,
            state: "raised".into(),
            title: Msg::new("notify-test-title").en(),
            title_message: Some(Msg::new("notify-test-title")),
            asset: None,
            evidence: serde_json::json!({
                "check": "kilowatch-gateway notify test",
                "sent_at": at.to_rfc3339(),
            }),
            link: "/#alarms".into(),
            at,
        }
    }
}

/// A digest's content: the channel's notifications of the 24 hours before it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Digest {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub items: Vec<DigestItem>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DigestItem {
    /// `sent` (already notified on its own) or `held` (first notified here), or `queued`.
    pub status: String,
    pub event: Event,
}

/// The outbox row's body for a report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReportMail {
    pub report_id: i64,
    pub subject: String,
    pub text: String,
    pub filename: String,
    pub content_type: String,
}
