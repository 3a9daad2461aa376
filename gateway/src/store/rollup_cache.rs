//! Rollup rows of closed buckets, kept as ready JSON for `/api/v1/query`.
//!
//! A year at one hour is 8 760 points, about 1.3 MB of JSON: reading and serialising them for
//! every request is what made the query slow under load. A bucket that closed more than
//! [`SEAL_MS`] ago rarely changes again, so its point is serialised once and kept; a request
//! copies the cached points of its range and reads only the open buckets from SQLite.
//!
//! Late data does change closed buckets: every rollup the writer rewrites passes through
//! [`RollupCache::rewritten`] after its commit, which cuts the cached rows of that series at
//! that bucket and bumps the series' generation, so a reader that read SQLite before the
//! commit cannot put stale rows back. Entries also expire after [`TTL`], for writes this
//! process does not see (an `import` run beside the gateway).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::types::Point;

/// A bucket is cached once it ended this long ago.
pub const SEAL_MS: i64 = 120_000;
/// Entries are rebuilt from the database after this long.
const TTL: Duration = Duration::from_secs(60);
/// Memory the cached JSON may take; least recently used entries go first.
const MAX_BYTES: usize = 64 << 20;

type Key = (i64, i64);

#[derive(Debug)]
struct Entry {
    /// Every row with a bucket in [lo, hi) is here.
    lo: i64,
    hi: i64,
    buckets: Vec<i64>,
    /// Where each point's JSON starts in `json`; each point is followed by a comma.
    starts: Vec<usize>,
    /// `json[..end]` holds the points; rows cut off by a rewrite may remain beyond it.
    end: usize,
    /// Shared with requests copying from it; replaced (copied) only when rows are added.
    json: Arc<Vec<u8>>,
    built: Instant,
    used: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Key, Entry>,
    /// Per (series, res): bumped whenever a closed bucket is rewritten.
    generations: HashMap<Key, u64>,
    bytes: usize,
}

/// The cache, shared by the writer (which invalidates) and the API's readers.
#[derive(Debug, Default)]
pub struct RollupCache {
    inner: Mutex<Inner>,
}

/// What a request must read from the database: rows in [from, to) to add to the entry (none
/// when the entry covers them), with the generation the additions must still match.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    key: Key,
    generation: u64,
    /// `None`: the entry already covers the closed part.
    pub fetch: Option<(i64, i64)>,
    /// True when `fetch` extends the entry (from its `hi`) rather than replacing it.
    extend: bool,
}

impl RollupCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What to read to answer [from, closed) of (series, res) from the cache.
    pub fn plan(&self, series: i64, res: i64, from: i64, closed: i64) -> Plan {
        let key = (series, res);
        let mut g = self.lock();
        let generation = g.generations.get(&key).copied().unwrap_or(0);
        let (fetch, extend) = match g.entries.get(&key) {
            Some(e) if e.built.elapsed() < TTL && from >= e.lo => {
                if closed <= e.hi {
                    (None, false)
                } else {
                    (Some((e.hi, closed)), true)
                }
            }
            Some(_) => {
                remove(&mut g, key);
                (Some((from, closed)), false)
            }
            None => (Some((from, closed)), false),
        };
        Plan {
            key,
            generation,
            fetch,
            extend,
        }
    }

    /// Adds the rows `plan` asked for (read from the database) and returns the cached JSON
    /// with the byte range of the points in [from, to), comma-separated (empty when none).
    /// Returns `None`, adding nothing, when a rewrite came between plan and now: the caller
    /// then answers from the database alone.
    pub fn fill(
        &self,
        plan: &Plan,
        rows: &[Point],
        from: i64,
        to: i64,
    ) -> Option<(Arc<Vec<u8>>, Range<usize>)> {
        let mut g = self.lock();
        if g.generations.get(&plan.key).copied().unwrap_or(0) != plan.generation {
            return None;
        }
        if let Some((lo, hi)) = plan.fetch {
            let fresh = if plan.extend {
                match g.entries.get(&plan.key) {
                    Some(e) if e.hi == lo => None,
                    _ => return None,
                }
            } else {
                Some(lo)
            };
            add_rows(&mut g, plan.key, fresh, hi, rows);
            evict(&mut g, plan.key);
        }
        let e = g.entries.get_mut(&plan.key)?;
        if from < e.lo {
            return None;
        }
        e.used = Instant::now();
        let i = e.buckets.partition_point(|&b| b < from);
        let j = e.buckets.partition_point(|&b| b < to.min(e.hi));
        let range = if i < j {
            // Without the comma after the last point.
            e.starts[i]..e.starts.get(j).copied().unwrap_or(e.end) - 1
        } else {
            0..0
        };
        Some((e.json.clone(), range))
    }

    /// After the writer committed a rewrite of the bucket starting at `bucket` of (series,
    /// res), which closed at `end`: cached rows from that bucket on are dropped.
    pub fn rewritten(&self, series: i64, res: i64, bucket: i64, end: i64, now: i64) {
        if end > now - SEAL_MS {
            // Still open for readers too: never cached, nothing to drop.
            return;
        }
        let key = (series, res);
        let mut g = self.lock();
        *g.generations.entry(key).or_insert(0) += 1;
        let cut = match g.entries.get_mut(&key) {
            None => return,
            Some(e) if bucket <= e.lo => None,
            Some(e) => {
                let i = e.buckets.partition_point(|&b| b < bucket);
                e.end = e.starts.get(i).copied().unwrap_or(e.end);
                e.buckets.truncate(i);
                e.starts.truncate(i);
                e.hi = e.hi.min(bucket);
                Some(())
            }
        };
        if cut.is_none() {
            remove(&mut g, key);
        }
    }

    /// Drops everything cached of `series` (retention deleted its old rows).
    pub fn forget_series(&self, series: i64) {
        let mut g = self.lock();
        let keys: Vec<Key> = g
            .entries
            .keys()
            .filter(|k| k.0 == series)
            .copied()
            .collect();
        for k in keys {
            *g.generations.entry(k).or_insert(0) += 1;
            remove(&mut g, k);
        }
    }

    /// Drops everything (a bulk load wrote rows directly).
    pub fn clear(&self) {
        let mut g = self.lock();
        let keys: Vec<Key> = g.entries.keys().copied().collect();
        for k in keys {
            *g.generations.entry(k).or_insert(0) += 1;
        }
        g.entries.clear();
        g.bytes = 0;
    }
}

fn remove(g: &mut Inner, key: Key) {
    if let Some(e) = g.entries.remove(&key) {
        g.bytes = g.bytes.saturating_sub(e.json.len());
    }
}

/// Appends `rows` (all in [lo or the entry's hi, hi)) to the entry of `key`, creating it from
/// `fresh` (its lo) when given.
fn add_rows(g: &mut Inner, key: Key, fresh: Option<i64>, hi: i64, rows: &[Point]) {
    if let Some(lo) = fresh {
        remove(g, key);
        g.entries.insert(
            key,
            Entry {
                lo,
                hi: lo,
                buckets: Vec::new(),
                starts: Vec::new(),
                end: 0,
                json: Arc::new(Vec::new()),
                built: Instant::now(),
                used: Instant::now(),
            },
        );
    }
    let Some(e) = g.entries.get_mut(&key) else {
        return;
    };
    let before = e.json.len();
    let json = Arc::make_mut(&mut e.json);
    json.truncate(e.end);
    for p in rows {
        e.buckets.push(p.ts.timestamp_millis());
        e.starts.push(json.len());
        // A point is plain numbers and a timestamp: serialising it cannot fail.
        let _ = serde_json::to_writer(&mut *json, p);
        json.push(b',');
    }
    e.end = json.len();
    e.hi = hi;
    let after = json.len();
    g.bytes = (g.bytes + after).saturating_sub(before);
}

/// Evicts least recently used entries (never `keep`) until the JSON fits in [`MAX_BYTES`].
fn evict(g: &mut Inner, keep: Key) {
    while g.bytes > MAX_BYTES {
        let Some(oldest) = g
            .entries
            .iter()
            .filter(|(k, _)| **k != keep)
            .min_by_key(|(_, e)| e.used)
            .map(|(k, _)| *k)
        else {
            return;
        };
        remove(g, oldest);
    }
}
