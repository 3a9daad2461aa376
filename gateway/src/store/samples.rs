//! Ingest writes: polls become samples (upserted, so replays are stored once), refused
//! messages become dead letters, changed minutes are marked for the rollup engine.

use chrono::{DateTime, Utc};
use kilowatch_site::payload::{DevicePoll, Quality};
use rusqlite::params;

use super::conn::Store;
use super::delta::Delta;
use super::error::StoreError;
use super::live::Committed;

/// Dead letters kept (the newest); older ones are deleted as new ones arrive, so a hostile
/// publisher cannot fill the disk through them.
pub const DEAD_LETTER_ROWS: i64 = 100_000;

/// A message that could not be stored as readings, kept for inspection.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub received: DateTime<Utc>,
    pub topic: String,
    pub reason: String,
    /// Size of the whole payload; `payload` may hold only its first bytes.
    pub size: usize,
    pub payload: Vec<u8>,
}

/// One incoming message, already validated or refused.
#[derive(Debug, Clone)]
pub enum Incoming {
    Poll(DevicePoll),
    Dead(DeadLetter),
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    pub polls: usize,
    pub samples: usize,
    pub dead: usize,
}

fn quality_str(q: Quality) -> &'static str {
    match q {
        Quality::Good => "good",
        Quality::Unavailable => "unavailable",
        Quality::Bad => "bad",
    }
}

impl Store {
    // Every write transaction is IMMEDIATE: a deferred one that reads first cannot wait for
    // the write lock (SQLite answers BUSY at once to avoid a deadlock), and the ingest, the
    // maintenance task and the CLI write to the same database.

    /// Writes a batch in one transaction: all of it is committed or none of it.
    pub fn write(&mut self, batch: &[Incoming]) -> Result<WriteStats, StoreError> {
        let written = self.write_batch(batch);
        // New series ids and rollup marks are only kept once the transaction committed.
        self.series.settle(written.is_ok());
        self.dirty_marks.settle(written.is_ok());
        written
    }

    fn write_batch(&mut self, batch: &[Incoming]) -> Result<WriteStats, StoreError> {
        let mut stats = WriteStats::default();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let data_version: i64 = tx.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        self.dirty_marks.check(data_version);
        let mut delta = Delta::default();
        // For the in-memory view: each sample written, and where in `batch` its names are.
        let keep = self.live.is_some();
        let mut committed: Vec<Committed> = Vec::new();
        let mut origin: Vec<(usize, usize)> = Vec::new();
        let mut marked = 0i64;
        {
            // Insert, else update: the same as an upsert, but it tells a new sample (counted)
            // from a replayed one.
            let mut insert = tx.prepare_cached(
                "INSERT INTO samples(series_id, ts, value, quality) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(series_id, ts) DO NOTHING",
            )?;
            let mut update = tx.prepare_cached(
                "UPDATE samples SET value = ?3, quality = ?4 WHERE series_id = ?1 AND ts = ?2",
            )?;
            let mut dead = tx.prepare_cached(
                "INSERT INTO dead_letter(received_ts, topic, reason, payload, size)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut dirty = std::collections::HashSet::new();
            let mut lines = String::new();
            for (at, item) in batch.iter().enumerate() {
                match item {
                    Incoming::Poll(p) if self.settings.influx_only => {
                        stats.samples += crate::line_protocol::poll_lines(
                            p,
                            self.settings.assets.get(&p.device).map(String::as_str),
                            &mut lines,
                        );
                        stats.polls += 1;
                    }
                    Incoming::Poll(p) => {
                        if self.settings.influx {
                            crate::line_protocol::poll_lines(
                                p,
                                self.settings.assets.get(&p.device).map(String::as_str),
                                &mut lines,
                            );
                        }
                        let ts = p.ts.timestamp_millis();
                        let minute = ts - ts.rem_euclid(60_000);
                        for (k, r) in p.readings.iter().enumerate() {
                            let id = Self::series_id(
                                &tx,
                                &mut self.series,
                                &mut delta,
                                &self.settings,
                                (&p.site, &p.device, &r.quantity),
                                &r.unit,
                            )?;
                            let row = params![id, ts, r.value, quality_str(r.quality)];
                            if insert.execute(row)? == 1 {
                                delta.samples += 1;
                            } else {
                                update.execute(row)?;
                            }
                            dirty.insert((id, minute));
                            if keep {
                                committed.push((id, ts, r.value, quality_str(r.quality)));
                                origin.push((at, k));
                            }
                            stats.samples += 1;
                        }
                        stats.polls += 1;
                    }
                    Incoming::Dead(d) => {
                        dead.execute(params![
                            d.received.timestamp_millis(),
                            d.topic,
                            d.reason,
                            d.payload,
                            i64::try_from(d.size).unwrap_or(i64::MAX)
                        ])?;
                        stats.dead += 1;
                        delta.dead_letters += 1;
                    }
                }
            }
            let mut mark = tx.prepare_cached(
                "INSERT INTO rollup_dirty(series_id, bucket) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
            )?;
            for (id, minute) in dirty {
                // A mark already made (and not yet cleared) would insert nothing.
                if self.dirty_marks.contains((id, minute)) {
                    continue;
                }
                marked += mark.execute(params![id, minute])? as i64;
                self.dirty_marks.insert((id, minute));
            }
            if !lines.is_empty() {
                tx.prepare_cached("INSERT INTO influx_outbox(lines) VALUES (?1)")?
                    .execute([&lines])?;
            }
            if stats.dead > 0 {
                let trimmed = tx
                    .prepare_cached(
                        "DELETE FROM dead_letter WHERE id <= (SELECT max(id) FROM dead_letter) - ?1",
                    )?
                    .execute([DEAD_LETTER_ROWS])?;
                delta.dead_letters -= trimmed as i64;
            }
        }
        delta.apply(&tx)?;
        tx.commit()?;
        if let Some(live) = &self.live {
            live.committed(
                &committed,
                |i| {
                    let (at, k) = origin[i];
                    match &batch[at] {
                        Incoming::Poll(p) => {
                            let r = &p.readings[k];
                            (
                                p.site.clone(),
                                p.device.clone(),
                                r.quantity.to_string(),
                                r.unit.to_string(),
                            )
                        }
                        Incoming::Dead(_) => Default::default(),
                    }
                },
                delta,
                marked,
            );
        }
        Ok(stats)
    }

    /// The id of a series, creating it (with the configured asset) if needed.
    pub fn ensure_series(
        &mut self,
        site: &str,
        device: &str,
        quantity: &str,
        unit: &str,
    ) -> Result<i64, StoreError> {
        let id = self.ensure_series_tx(site, device, quantity, unit);
        self.series.settle(id.is_ok());
        id
    }

    fn ensure_series_tx(
        &mut self,
        site: &str,
        device: &str,
        quantity: &str,
        unit: &str,
    ) -> Result<i64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut delta = Delta::default();
        let id = Self::series_id(
            &tx,
            &mut self.series,
            &mut delta,
            &self.settings,
            (site, device, quantity),
            unit,
        )?;
        delta.apply(&tx)?;
        tx.commit()?;
        if let Some(live) = &self.live {
            live.counted(delta);
        }
        Ok(id)
    }
}
