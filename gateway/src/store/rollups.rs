//! The rollup engine: changed 1-minute buckets are recomputed from the samples, and the
//! 15-minute, hourly and daily buckets above them from the level below.
//!
//! One refresh, in one transaction: take a batch of dirty minutes, add the minutes whose
//! first increment they change, recompute those minutes, then each coarser level from the one
//! below, and clear the batch.
//!
//! A series reported by exception holds each value until the next sample (`rollup::
//! aggregate_held`): a minute depends on the last sample before it, its own and the first one
//! after it. So a changed minute also changes the minutes back to the sample before it and
//! forward to the sample after it, as far as a hold can reach (the gap limit); those are
//! recomputed with it, so the rollups come out as a full recompute would, whatever order the
//! samples arrived in.

use std::collections::BTreeSet;

use kilowatch_site::vocab::Kind;
use rusqlite::{params, OptionalExtension, Transaction};

use super::catalogue::kind_of;
use super::conn::Store;
use super::error::StoreError;
use super::rollup_rows::{put_rollup, roll_coarser, Touched};
use super::series_rules::{SeriesKinds, SeriesRule};
use super::settings::StoreSettings;
use crate::rollup;

impl Store {
    /// Recomputes the rollups of up to `limit` changed 1-minute buckets (and the 15-minute,
    /// hourly and daily buckets above them) in one transaction. Returns how many were done;
    /// call until it returns 0 to catch up completely.
    pub fn refresh_rollups(&mut self, limit: usize) -> Result<usize, StoreError> {
        let virtual_ids = self.virtual_series()?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let dirty = dirty_minutes(&tx, limit)?;
        if dirty.is_empty() {
            return Ok(0);
        }
        let settings = &self.settings;
        let dirty_set: BTreeSet<(i64, i64)> = dirty.iter().copied().collect();
        series_kinds(&tx, settings, &mut self.kinds, &dirty_set)?;
        let minutes = with_next_minutes(&tx, &dirty, &self.kinds, settings.gap_limit_ms)?;
        series_kinds(&tx, settings, &mut self.kinds, &minutes)?;
        let mut touched = roll_minutes(&tx, settings, &self.kinds, &minutes)?;
        let virtual_minutes =
            super::virtuals::roll(&tx, settings, &virtual_ids, &minutes, &mut touched)?;
        roll_coarser(&tx, settings, &touched)?;
        // Before the rows go: if this rolls back, a mark is only made again (a no-op).
        self.dirty_marks.cleared(&dirty);
        let cleared = clear_dirty(&tx, &dirty)?;
        tx.commit()?;
        if let Some(live) = &self.live {
            live.rolled_up(cleared);
            let (tz, now) = (
                self.settings.timezone,
                chrono::Utc::now().timestamp_millis(),
            );
            let cache = live.rollups();
            for &(id, b) in minutes.iter().chain(&virtual_minutes) {
                cache.rewritten(id, 60, b, b + 60_000, now);
            }
            for &(res, id, b) in &touched {
                cache.rewritten(id, res, b, rollup::bucket_end(b, res, tz), now);
            }
        }
        Ok(dirty.len())
    }

    /// 1-minute buckets still waiting for their rollups.
    pub fn rollups_pending(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM rollup_dirty", [], |r| r.get(0))?)
    }
}

/// The first `limit` dirty minutes, (series, bucket start), in order.
fn dirty_minutes(tx: &Transaction<'_>, limit: usize) -> rusqlite::Result<Vec<(i64, i64)>> {
    let mut stmt = tx.prepare_cached(
        "SELECT series_id, bucket FROM rollup_dirty ORDER BY series_id, bucket LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// The dirty minutes and, for each, the next minute of its series with data: a changed
/// bucket can change the first increment of the next one. Of a held series, also the minutes
/// its samples' holds reach (module doc).
fn with_next_minutes(
    tx: &Transaction<'_>,
    dirty: &[(i64, i64)],
    kinds: &SeriesKinds,
    gap: i64,
) -> rusqlite::Result<BTreeSet<(i64, i64)>> {
    let mut minutes: BTreeSet<(i64, i64)> = dirty.iter().copied().collect();
    let mut next = tx.prepare_cached(
        "SELECT ts FROM samples WHERE series_id = ?1 AND ts >= ?2 AND quality = 'good'
         AND value IS NOT NULL ORDER BY ts LIMIT 1",
    )?;
    let mut prev = tx.prepare_cached(
        "SELECT ts FROM samples WHERE series_id = ?1 AND ts < ?2 AND quality = 'good'
         AND value IS NOT NULL ORDER BY ts DESC LIMIT 1",
    )?;
    let minute = |t: i64| t - t.rem_euclid(60_000);
    for &(id, b) in dirty {
        let after: Option<i64> = next
            .query_row(params![id, b + 60_000], |r| r.get(0))
            .optional()?;
        if let Some(t) = after {
            minutes.insert((id, minute(t)));
        }
        if kinds.get(&id).and_then(|k| k.held).is_none() {
            continue;
        }
        // Back to the sample before (its hold now ends in this minute), forward to the one
        // after (held from this minute); a hold never reaches past the gap limit, and with no
        // sample after there is nothing held yet (the newest sample, the usual case live).
        let before: Option<i64> = prev.query_row(params![id, b], |r| r.get(0)).optional()?;
        let from = before.filter(|&t| t >= b - gap).map_or(b, minute);
        let to = after.map_or(b, |t| t.min(b + 60_000 + gap));
        let mut m = from;
        while m <= to {
            minutes.insert((id, m));
            m += 60_000;
        }
    }
    Ok(minutes)
}

/// Clears the batch; returns how many rows went.
fn clear_dirty(tx: &Transaction<'_>, dirty: &[(i64, i64)]) -> rusqlite::Result<i64> {
    let mut done =
        tx.prepare_cached("DELETE FROM rollup_dirty WHERE series_id = ?1 AND bucket = ?2")?;
    let mut n = 0;
    for &(id, b) in dirty {
        n += done.execute(params![id, b])? as i64;
    }
    Ok(n)
}

/// Adds to `kinds` the kind and counter wrap of each series of `minutes` not in it yet
/// (reading the whole catalogue for each refresh cost more than the refresh with 20 000 series).
fn series_kinds(
    tx: &Transaction<'_>,
    settings: &StoreSettings,
    kinds: &mut SeriesKinds,
    minutes: &BTreeSet<(i64, i64)>,
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached("SELECT device, quantity FROM series WHERE id = ?1")?;
    for &(id, _) in minutes {
        if kinds.contains_key(&id) {
            continue;
        }
        let row: Option<(String, String)> = stmt
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((device, quantity)) = row {
            let held = settings.held.get(&device).map(|d| d.interval_of(&quantity));
            let wrap = settings.wraps.get(&(device, quantity.clone())).copied();
            let kind = kind_of(&quantity);
            kinds.insert(id, SeriesRule { kind, wrap, held });
        }
    }
    Ok(())
}

/// Recomputes the 1-minute rollups of `minutes` from the samples; returns the coarser
/// buckets above them.
fn roll_minutes(
    tx: &Transaction<'_>,
    settings: &StoreSettings,
    kinds: &SeriesKinds,
    minutes: &BTreeSet<(i64, i64)>,
) -> rusqlite::Result<Touched> {
    let tz = settings.timezone;
    let gap = settings.gap_limit_ms;
    let mut touched = Touched::new();
    let mut before = tx.prepare_cached(
        "SELECT ts, value FROM samples WHERE series_id = ?1 AND ts < ?2
         AND quality = 'good' AND value IS NOT NULL ORDER BY ts DESC LIMIT 1",
    )?;
    let mut inside = tx.prepare_cached(
        "SELECT ts, value FROM samples WHERE series_id = ?1 AND ts >= ?2 AND ts < ?3
         AND quality = 'good' AND value IS NOT NULL ORDER BY ts",
    )?;
    let mut first_after = tx.prepare_cached(
        "SELECT ts FROM samples WHERE series_id = ?1 AND ts >= ?2
         AND quality = 'good' AND value IS NOT NULL ORDER BY ts LIMIT 1",
    )?;
    for &(id, b) in minutes {
        let SeriesRule { kind, wrap, held } = kinds.get(&id).copied().unwrap_or(SeriesRule {
            kind: Kind::Instantaneous,
            wrap: None,
            held: None,
        });
        let prev: Option<(i64, f64)> = before
            .query_row(params![id, b], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let samples: Vec<(i64, f64)> = inside
            .query_map(params![id, b, b + 60_000], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let agg = match held {
            None => rollup::aggregate(kind, prev, &samples, gap, wrap),
            Some(interval) => {
                let after: Option<i64> = first_after
                    .query_row(params![id, b + 60_000], |r| r.get(0))
                    .optional()?;
                let bucket = (b, b + 60_000);
                rollup::aggregate_held(kind, bucket, prev, &samples, after, gap, wrap, interval)
            }
        };
        put_rollup(tx, id, 60, b, &agg)?;
        for &res in &rollup::RESOLUTIONS[1..] {
            touched.insert((res, id, rollup::bucket_start(b, res, tz)));
        }
    }
    Ok(touched)
}
