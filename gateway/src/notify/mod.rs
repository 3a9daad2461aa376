//! Alarm notifications: email and webhooks, through a durable outbox in the store.
//!
//! The alarm engine enqueues an [`Event`] with [`crate::store::notify_enqueue`] inside the
//! transaction that stores the alarm's transition; the [`sender`] task delivers the queued rows,
//! retries failures with backoff, paces each channel (hourly limit, quiet hours) and sends the
//! daily digest. `event` and `route` import nothing of the store, which imports them.

pub mod email;
pub mod event;
pub mod route;
pub mod sender;
pub mod stats;
pub mod templates;
pub mod webhook;

pub use event::{Event, Severity};
pub use route::Channel;
pub use sender::{run, Sender};
pub use stats::NotifyStats;
