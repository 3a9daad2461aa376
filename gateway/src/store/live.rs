//! What the writer keeps in memory for the API: the newest sample of every series, the health
//! counts and the rollup backlog, updated after each commit. `/api/v1/latest` and
//! `/api/v1/health` answer from here without touching SQLite, so they never wait behind a
//! query or the writer.
//!
//! Another process writing the same database (`kilowatch-gateway import` beside a running
//! gateway) is not seen here until the next reload (`Store::sync_live`, every minute).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::delta::Delta;
use super::rollup_cache::RollupCache;
use super::types::{ms_to_utc, Latest};

/// Who a series is, shared by every update of its newest sample.
#[derive(Debug)]
struct SeriesName {
    site: String,
    device: String,
    quantity: String,
    unit: String,
}

#[derive(Debug)]
struct Newest {
    name: Arc<SeriesName>,
    ts: i64,
    value: Option<f64>,
    quality: &'static str,
}

#[derive(Debug, Default)]
struct State {
    latest: HashMap<i64, Newest>,
    series: i64,
    samples: i64,
    dead_letters: i64,
    rollups_pending: i64,
    /// The writer connection's `PRAGMA data_version` at the last reload: it changes only
    /// when another connection commits.
    data_version: i64,
}

/// What the database holds, for [`Live::reload`].
pub(super) struct Snapshot {
    /// (series id, newest sample) of every series with samples.
    pub latest: Vec<(i64, Latest)>,
    /// Series, samples, dead letters.
    pub counts: (i64, i64, i64),
    pub rollups_pending: i64,
    pub data_version: i64,
}

/// One sample just committed: (series id, ts ms, value, quality).
pub(super) type Committed = (i64, i64, Option<f64>, &'static str);

/// The writer's in-memory view; cheap to share (`Arc`).
#[derive(Debug, Default)]
pub struct Live {
    state: Mutex<State>,
    /// Bumped by every change, so readers can tell whether a cached answer is current.
    version: AtomicU64,
    rollups: RollupCache,
}

/// Counts for `/api/v1/health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveCounts {
    pub series: i64,
    pub samples: i64,
    pub dead_letters: i64,
    pub rollups_pending: i64,
}

impl Live {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self) {
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Closed buckets' rollups, ready as JSON, kept current by the writer.
    pub fn rollups(&self) -> &RollupCache {
        &self.rollups
    }

    /// A number that changes whenever anything here does.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The writer connection's `PRAGMA data_version` at the last reload.
    pub(super) fn data_version(&self) -> i64 {
        self.lock().data_version
    }

    /// Replaces everything with `snap`, read from the database (at start, after a bulk load,
    /// and when another process wrote), and forgets the cached rollups.
    pub(super) fn reload(&self, snap: Snapshot) {
        let mut names: HashMap<(String, String, String), Arc<SeriesName>> = HashMap::new();
        let latest = snap
            .latest
            .into_iter()
            .map(|(id, l)| {
                let key = (l.site.clone(), l.device.clone(), l.quantity.clone());
                let name = names
                    .entry(key)
                    .or_insert_with(|| {
                        Arc::new(SeriesName {
                            site: l.site,
                            device: l.device,
                            quantity: l.quantity,
                            unit: l.unit,
                        })
                    })
                    .clone();
                let newest = Newest {
                    name,
                    ts: l.ts.timestamp_millis(),
                    value: l.value,
                    quality: quality_static(&l.quality),
                };
                (id, newest)
            })
            .collect();
        let (series, samples, dead_letters) = snap.counts;
        *self.lock() = State {
            latest,
            series,
            samples,
            dead_letters,
            rollups_pending: snap.rollups_pending,
            data_version: snap.data_version,
        };
        self.rollups.clear();
        self.changed();
    }

    /// After a committed write: the samples (with the names of series seen for the first
    /// time, looked up by `name_of`), the count changes and the newly marked rollup minutes.
    pub(super) fn committed(
        &self,
        samples: &[Committed],
        name_of: impl Fn(usize) -> (String, String, String, String),
        delta: Delta,
        marked: i64,
    ) {
        let mut s = self.lock();
        for (i, &(id, ts, value, quality)) in samples.iter().enumerate() {
            match s.latest.get_mut(&id) {
                Some(n) if ts < n.ts => {}
                Some(n) => {
                    n.ts = ts;
                    n.value = value;
                    n.quality = quality;
                }
                None => {
                    let (site, device, quantity, unit) = name_of(i);
                    let name = Arc::new(SeriesName {
                        site,
                        device,
                        quantity,
                        unit,
                    });
                    s.latest.insert(
                        id,
                        Newest {
                            name,
                            ts,
                            value,
                            quality,
                        },
                    );
                }
            }
        }
        s.series += delta.series;
        s.samples += delta.samples;
        s.dead_letters += delta.dead_letters;
        s.rollups_pending += marked;
        drop(s);
        self.changed();
    }

    /// After a committed change of counts alone (retention, the outbox's dead letters).
    pub(super) fn counted(&self, delta: Delta) {
        let mut s = self.lock();
        s.series += delta.series;
        s.samples += delta.samples;
        s.dead_letters += delta.dead_letters;
        drop(s);
        self.changed();
    }

    /// After a rollup refresh cleared `n` dirty minutes.
    pub(super) fn rolled_up(&self, n: i64) {
        let mut s = self.lock();
        s.rollups_pending = (s.rollups_pending - n).max(0);
        drop(s);
        self.changed();
    }

    /// The counts for health reporting.
    pub fn counts(&self) -> LiveCounts {
        let s = self.lock();
        LiveCounts {
            series: s.series,
            samples: s.samples,
            dead_letters: s.dead_letters,
            rollups_pending: s.rollups_pending,
        }
    }

    /// The newest sample of every series, ordered as [`Store::latest`] orders them.
    pub fn latest(&self) -> Vec<Latest> {
        self.sorted_rows()
            .into_iter()
            .map(|r| Latest {
                site: r.name.site.clone(),
                device: r.name.device.clone(),
                quantity: r.name.quantity.clone(),
                value: r.value,
                unit: r.name.unit.clone(),
                quality: r.quality.to_owned(),
                ts: ms_to_utc(r.ts),
            })
            .collect()
    }

    /// `{"readings": [...]}` of [`latest`](Self::latest), serialised as `/api/v1/latest`
    /// answers, without copying the names.
    pub fn latest_json(&self) -> serde_json::Result<Vec<u8>> {
        let rows = self.sorted_rows();
        let readings: Vec<LatestRef<'_>> = rows
            .iter()
            .map(|r| LatestRef {
                site: &r.name.site,
                device: &r.name.device,
                quantity: &r.name.quantity,
                value: r.value,
                unit: &r.name.unit,
                quality: r.quality,
                ts: ms_to_utc(r.ts),
            })
            .collect();
        let mut out = Vec::with_capacity(rows.len() * 160 + 16);
        serde_json::to_writer(&mut out, &LatestAnswer { readings })?;
        Ok(out)
    }

    /// Every series' newest sample, sorted by (site, device, id). The lock is held only to
    /// copy them: the writer must not wait while thousands of them are sorted.
    fn sorted_rows(&self) -> Vec<Row> {
        let mut rows: Vec<Row> = {
            let s = self.lock();
            s.latest
                .iter()
                .map(|(&id, n)| Row {
                    id,
                    name: n.name.clone(),
                    ts: n.ts,
                    value: n.value,
                    quality: n.quality,
                })
                .collect()
        };
        rows.sort_by(|a, b| {
            (&a.name.site, &a.name.device, a.id).cmp(&(&b.name.site, &b.name.device, b.id))
        });
        rows
    }
}

/// A copy of one [`Newest`] with its id, taken under the lock.
struct Row {
    id: i64,
    name: Arc<SeriesName>,
    ts: i64,
    value: Option<f64>,
    quality: &'static str,
}

/// [`Latest`] borrowed: serialises to the same JSON.
#[derive(Serialize)]
struct LatestRef<'a> {
    site: &'a str,
    device: &'a str,
    quantity: &'a str,
    value: Option<f64>,
    unit: &'a str,
    quality: &'a str,
    ts: DateTime<Utc>,
}

#[derive(Serialize)]
struct LatestAnswer<'a> {
    readings: Vec<LatestRef<'a>>,
}

fn quality_static(q: &str) -> &'static str {
    match q {
        "good" => "good",
        "unavailable" => "unavailable",
        _ => "bad",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_json_is_the_latest_rows_serialised_in_catalogue_order() {
        let row = |device: &str, quantity: &str, value| Latest {
            site: "s".into(),
            device: device.into(),
            quantity: quantity.into(),
            value,
            unit: "kW".into(),
            quality: "good".into(),
            ts: ms_to_utc(1_700_000_000_123),
        };
        let live = Live::default();
        live.reload(Snapshot {
            latest: vec![
                (3, row("b", "x", Some(1.5))),
                (1, row("b", "y", None)),
                (2, row("a", "z", Some(-0.1))),
            ],
            counts: (3, 3, 0),
            rollups_pending: 0,
            data_version: 0,
        });
        #[derive(Serialize)]
        struct Answer {
            readings: Vec<Latest>,
        }
        let latest = live.latest();
        let order: Vec<(&str, &str)> = latest
            .iter()
            .map(|l| (l.device.as_str(), l.quantity.as_str()))
            .collect();
        assert_eq!(order, [("a", "z"), ("b", "y"), ("b", "x")]);
        let expected = serde_json::to_vec(&Answer { readings: latest }).unwrap();
        assert_eq!(live.latest_json().unwrap(), expected);
    }
}
