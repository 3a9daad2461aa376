//! Durable store-and-forward spool: every reading is appended here before it is published and
//! leaves only when the broker acknowledged it.
//!
//! Layout of the spool directory:
//! - `<first-id>.seg`: append-only segments of framed records, named by the first record id;
//! - `acked`: the id up to which every record is acknowledged (rewritten through a temporary
//!   file and a rename, at most once a second and whenever a segment is deleted);
//! - `state.json`: the next record id and the last sequence number per device, written when a
//!   segment is closed, so numbering survives segments that were deleted.
//!
//! A record is `KWS1`, the length `n` of the rest (u32 LE), its CRC-32 (u32 LE), then `n` bytes:
//! id (u64), poll time in ms (i64), per-device seq (u64), device and topic (u16-length-prefixed)
//! and the JSON payload. On open every segment is verified; a torn or corrupt record is logged,
//! counted and skipped (resynchronising on the next valid record), and a torn tail is cut off so
//! appends continue cleanly. Nothing here panics on what it reads from disk.
//!
//! Acknowledged segments are kept for `retention` (judged by the poll time of their newest
//! record) so the gateway can ask for a range of a device's readings again ([`Spool::replay`]);
//! when the disk budget needs the space they go first, before any unacknowledged reading.
//!
//! fsync policy: with `fsync = true` (the default) a batch of records is `fdatasync`ed before
//! any of it is handed to the publisher, so a reading the broker has seen is always on disk and
//! a reading that was spooled survives SIGKILL and power loss. With `fsync = false` the kernel
//! decides (survives SIGKILL, not power loss).
//!
//! One thread owns the spool ([`SpoolHandle`]); the writer, the publisher, the replay task and
//! the metrics endpoint send it requests. The code: `format` (records), `segment` (files and
//! what is known about them), `open` (recovery), `store` (append, ack, cursor files), `read`
//! (publishing, replay), `retention` (deleting segments), `actor` (the owner thread).

mod actor;
mod format;
mod open;
mod read;
mod retention;
mod segment;
mod store;
mod types;

#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests_actor;
#[cfg(test)]
mod tests_log;
#[cfg(test)]
mod tests_replay;
#[cfg(test)]
mod tests_retention;

pub use actor::{Appended, Replayed, SpoolHandle};
pub use store::Spool;
pub use types::{Record, SpoolConfig, SpoolError, SpoolStats};
