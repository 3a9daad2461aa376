//! Sink stage: the embedded time-series store (SQLite, WAL).
//!
//! Samples are keyed by (series, ts) in a `WITHOUT ROWID` table, and written with an upsert, so
//! a reading delivered twice (MQTT at-least-once, replay after an outage) is stored once.
//!
//! [`Store`] is one connection; its methods are grouped by concern in the files below
//! (schema, samples, rollups, outbox, bulk, catalogue, queries, retention, meta, enpi,
//! health). In the service one writer thread owns the write connection ([`StoreWriter`]) and a
//! few read-only connections serve queries ([`Readers`]).

mod alarms;
mod baselines;
mod bulk;
mod catalogue;
mod conn;
mod coverage;
mod delta;
mod dirty_marks;
mod dr_events;
mod enpi;
mod error;
mod health;
#[cfg(test)]
mod held_tests;
mod hub_outbox;
mod live;
mod live_sync;
mod meta;
mod mv_results;
pub mod notify_outbox;
#[cfg(test)]
mod notify_outbox_tests;
mod outbox;
mod queries;
mod readers;
mod reports;
mod retention;
mod rollup_cache;
mod rollup_rows;
mod rollups;
mod samples;
mod schema;
mod series_ids;
mod series_rules;
mod settings;
#[cfg(test)]
mod tests;
mod types;
mod virtuals;
mod writer;

pub use alarms::{AlarmFilter, AlarmRow, NewAlarm};
pub use baselines::BaselineRow;
pub use catalogue::SeriesInfo;
pub use conn::Store;
pub use coverage::Coverage;
pub use dr_events::DrRow;
pub use enpi::EnpiLine;
pub use error::StoreError;
pub use hub_outbox::{HubRow, HubTriggers};
pub use live::{Live, LiveCounts};
pub use mv_results::MvResultRow;
pub use notify_outbox::{enqueue as notify_enqueue, OutboxRow, Settle};
pub use readers::Readers;
pub use reports::{NewReport, ReportRow};
pub use rollup_cache::{Plan as RollupPlan, RollupCache, SEAL_MS};
pub use samples::{DeadLetter, Incoming, WriteStats, DEAD_LETTER_ROWS};
pub use settings::{HeldDevice, StoreSettings};
pub use types::{EnergyPoint, EnergySource, Latest, Point};
pub use writer::StoreWriter;
