//! Sink stage: the embedded time-series store (SQLite, WAL).
//!
//! Samples are keyed by (series, ts) in a `WITHOUT ROWID` table, and written with an upsert, so
//! a reading delivered twice (MQTT at-least-once, replay after an outage) is stored once.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use kilowatch_agent::payload::{DevicePoll, Quality};
use kilowatch_agent::vocab::Kind;

mod mv_results;
pub use mv_results::MvResultRow;

use crate::rollup::{self, Agg};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
}

impl StoreError {
    /// A failure of the database, not of what was written: busy or locked by another writer,
    /// a full disk, an I/O error, read-only. Retried; never blamed on a message.
    pub fn is_transient(&self) -> bool {
        use rusqlite::ErrorCode::*;
        let (StoreError::Open { source: e, .. } | StoreError::Sql(e)) = self;
        match e.sqlite_error_code() {
            Some(code) => matches!(
                code,
                DatabaseBusy
                    | DatabaseLocked
                    | DiskFull
                    | SystemIoFailure
                    | ReadOnly
                    | OutOfMemory
                    | CannotOpen
                    | FileLockingProtocolFailed
                    | DatabaseCorrupt
                    | NotADatabase
            ),
            // Not an SQLite answer at all (e.g. a value rusqlite refused to bind): the message.
            None => false,
        }
    }
}

/// Bumped whenever the schema changes; checked at open, older versions are migrated.
const SCHEMA_VERSION: i64 = 5;

/// Dead letters kept (the newest); older ones are deleted as new ones arrive, so a hostile
/// publisher cannot fill the disk through them.
pub const DEAD_LETTER_ROWS: i64 = 100_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series (
    id       INTEGER PRIMARY KEY,
    site     TEXT NOT NULL,
    device   TEXT NOT NULL,
    quantity TEXT NOT NULL,
    unit     TEXT NOT NULL,
    asset    TEXT,
    UNIQUE (site, device, quantity)
);
-- ts: milliseconds since the Unix epoch, UTC. value is NULL when quality is not good.
CREATE TABLE IF NOT EXISTS samples (
    series_id INTEGER NOT NULL REFERENCES series(id),
    ts        INTEGER NOT NULL,
    value     REAL,
    quality   TEXT NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
-- Rollups: res in seconds (60, 900, 3600, 86400), bucket start in ms. See rollup.rs.
CREATE TABLE IF NOT EXISTS rollups (
    series_id INTEGER NOT NULL,
    res       INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    avg       REAL,
    min       REAL,
    max       REAL,
    delta     REAL,
    integral  REAL,
    gaps      INTEGER NOT NULL,
    resets    INTEGER NOT NULL,
    PRIMARY KEY (series_id, res, bucket)
) WITHOUT ROWID;
-- 1-minute buckets whose samples changed since their rollups were computed.
CREATE TABLE IF NOT EXISTS rollup_dirty (
    series_id INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
-- Line protocol waiting for InfluxDB, one row per ingest batch (see influx.rs).
CREATE TABLE IF NOT EXISTS influx_outbox (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    lines TEXT NOT NULL
);
-- Energy-performance indicators (see enpi/): per asset, step (15m, 1h, 1d, 1mo) and bucket
-- start (ms), the interval's facts (compact JSON: kWh, m³, TR·h, loaded hours, demand, …);
-- every indicator is an exact function of them, evaluated when read.
CREATE TABLE IF NOT EXISTS enpi (
    asset   TEXT NOT NULL,
    step    TEXT NOT NULL,
    bucket  INTEGER NOT NULL,
    partial INTEGER NOT NULL,
    facts   TEXT NOT NULL,
    PRIMARY KEY (asset, step, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letter (
    id          INTEGER PRIMARY KEY,
    received_ts INTEGER NOT NULL,
    topic       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    -- the first bytes of the payload; size is the whole payload's
    payload     BLOB NOT NULL,
    size        INTEGER NOT NULL DEFAULT 0
);
-- M&V plan results (see mv/plan_eval.rs): per plan and period [from, to) in ms, the period's
-- savings summary as JSON; recomputed when the fingerprint (plan and data) changes.
CREATE TABLE IF NOT EXISTS mv_results (
    plan_id     TEXT NOT NULL,
    period_from INTEGER NOT NULL,
    period_to   INTEGER NOT NULL,
    computed_at INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    json        TEXT NOT NULL,
    PRIMARY KEY (plan_id, period_from, period_to)
) WITHOUT ROWID;
-- per device: the gateway's view of the poll numbering (holes, repairs, losses), as JSON
CREATE TABLE IF NOT EXISTS sequence (
    device TEXT PRIMARY KEY,
    state  TEXT NOT NULL
) WITHOUT ROWID;
";

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

/// The newest sample of one series.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latest {
    pub site: String,
    pub device: String,
    pub quantity: String,
    pub value: Option<f64>,
    pub unit: String,
    pub quality: String,
    pub ts: DateTime<Utc>,
}

/// What the store needs to know about the site to roll data up.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub timezone: chrono_tz::Tz,
    /// Samples further apart are not integrated across.
    pub gap_limit_ms: i64,
    /// (device, quantity) → register range in canonical units, for integer counters that wrap.
    pub wraps: HashMap<(String, String), f64>,
    /// device → asset, recorded in the series catalogue.
    pub assets: HashMap<String, String>,
    /// Queue line protocol for InfluxDB with every write.
    pub influx: bool,
    /// InfluxDB instead of SQLite: samples are not kept here.
    pub influx_only: bool,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            timezone: chrono_tz::UTC,
            gap_limit_ms: 300_000,
            wraps: HashMap::new(),
            assets: HashMap::new(),
            influx: false,
            influx_only: false,
        }
    }
}

impl StoreSettings {
    /// From the site file and the profiles its devices use.
    pub fn for_site(
        config: &kilowatch_agent::config::SiteConfig,
        profiles: &kilowatch_agent::profile::ProfileLibrary,
    ) -> Self {
        let mut wraps = HashMap::new();
        for d in &config.devices {
            if let Some(p) = profiles.get(&d.profile) {
                for r in &p.registers {
                    if let Some(w) = r.counter_wrap() {
                        wraps.insert((d.id.clone(), r.quantity.clone()), w);
                    }
                }
            }
        }
        Self {
            timezone: config.timezone(),
            gap_limit_ms: i64::try_from(config.gateway.gap_limit.as_millis()).unwrap_or(i64::MAX),
            wraps,
            assets: config
                .devices
                .iter()
                .filter_map(|d| Some((d.id.clone(), d.asset.clone()?)))
                .collect(),
            influx: config.gateway.influx.is_some(),
            influx_only: config.gateway.influx.as_ref().is_some_and(|i| i.only),
        }
    }
}

/// One entry of the series catalogue.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SeriesInfo {
    pub id: i64,
    pub site: String,
    pub device: String,
    pub quantity: String,
    pub unit: String,
    pub asset: Option<String>,
    /// `instantaneous`, `counter` or `state`.
    pub kind: &'static str,
}

/// One point of a query result.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Point {
    pub ts: DateTime<Utc>,
    #[serde(flatten)]
    pub agg: Agg,
}

/// Where an energy figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnergySource {
    /// Differences of the meter's import register.
    Counter,
    /// ∫ active power dt, for devices without an energy register.
    IntegratedPower,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EnergyPoint {
    pub ts: DateTime<Utc>,
    pub kwh: Option<f64>,
    pub gaps: i64,
    pub resets: i64,
}

pub struct Store {
    conn: Connection,
    series: HashMap<(String, String, String), i64>,
    settings: StoreSettings,
}

fn kind_of(quantity: &str) -> Kind {
    kilowatch_agent::vocab::quantity(quantity).map_or(Kind::Instantaneous, |q| q.kind)
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Instantaneous => "instantaneous",
        Kind::Counter => "counter",
        Kind::State => "state",
    }
}

fn quality_str(q: Quality) -> &'static str {
    match q {
        Quality::Good => "good",
        Quality::Unavailable => "unavailable",
        Quality::Bad => "bad",
    }
}

fn row_agg(r: &rusqlite::Row<'_>) -> rusqlite::Result<Agg> {
    Ok(Agg {
        count: r.get(0)?,
        avg: r.get(1)?,
        min: r.get(2)?,
        max: r.get(3)?,
        delta: r.get(4)?,
        integral: r.get(5)?,
        gaps: r.get(6)?,
        resets: r.get(7)?,
    })
}

fn ms_to_utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        // WAL: readers (the HTTP API) never block the writer. NORMAL sync is durable across
        // process crashes; an OS crash may lose the last transactions, which the agent's
        // at-least-once delivery replays because acks follow commits.
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        let version: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key='schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(open_err)?;
        match version {
            None => {
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION.to_string()],
                )
                .map_err(open_err)?;
            }
            Some(v) if v == SCHEMA_VERSION.to_string() => {}
            Some(v) if v == "4" => {
                // v4 → v5: the mv_results table, created above.
                conn.execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
                    [SCHEMA_VERSION.to_string()],
                )
                .map_err(open_err)?;
            }
            Some(v) if v == "1" || v == "2" || v == "3" => {
                if v == "1" {
                    // v1 → v2: the asset column; the rollup tables were created above.
                    // Rollups of existing samples are rebuilt from the raw data.
                    conn.execute_batch(
                        "ALTER TABLE series ADD COLUMN asset TEXT;
                         INSERT OR IGNORE INTO rollup_dirty(series_id, bucket)
                           SELECT DISTINCT series_id, ts - (ts % 60000) FROM samples;",
                    )
                    .map_err(open_err)?;
                }
                // v2 → v3: the enpi table, created above and filled by the next computation.
                // v3 → v4: the dead letters' size (the sequence table was created above);
                // v4 → v5: the mv_results table, created above.
                conn.execute_batch(
                    "ALTER TABLE dead_letter ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
                     UPDATE dead_letter SET size = length(payload);",
                )
                .map_err(open_err)?;
                conn.execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
                    [SCHEMA_VERSION.to_string()],
                )
                .map_err(open_err)?;
            }
            Some(v) => {
                return Err(open_err(rusqlite::Error::InvalidParameterName(format!(
                    "schema version {v}, this build reads {SCHEMA_VERSION}"
                ))))
            }
        }
        Ok(Self {
            conn,
            series: HashMap::new(),
            settings: StoreSettings::default(),
        })
    }

    /// Sets the site knowledge rollups need (time zone, gap limit, counter wraps, assets).
    pub fn with_settings(mut self, settings: StoreSettings) -> Self {
        self.settings = settings;
        self
    }

    fn series_id(
        tx: &rusqlite::Transaction<'_>,
        cache: &mut HashMap<(String, String, String), i64>,
        settings: &StoreSettings,
        site: &str,
        device: &str,
        quantity: &str,
        unit: &str,
    ) -> Result<i64, rusqlite::Error> {
        if let Some(&id) = cache.get(&(site.to_owned(), device.to_owned(), quantity.to_owned())) {
            return Ok(id);
        }
        let key = (site.to_owned(), device.to_owned(), quantity.to_owned());
        let asset = settings.assets.get(device);
        tx.execute(
            "INSERT INTO series(site, device, quantity, unit, asset) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(site, device, quantity) DO UPDATE SET asset = coalesce(excluded.asset, asset)",
            params![site, device, quantity, unit, asset],
        )?;
        let id = tx.query_row(
            "SELECT id FROM series WHERE site=?1 AND device=?2 AND quantity=?3",
            params![site, device, quantity],
            |r| r.get(0),
        )?;
        cache.insert(key, id);
        Ok(id)
    }

    // Every write transaction is IMMEDIATE: a deferred one that reads first cannot wait for
    // the write lock (SQLite answers BUSY at once to avoid a deadlock), and the ingest, the
    // maintenance task and the CLI write to the same database.

    /// Writes a batch in one transaction: all of it is committed or none of it.
    pub fn write(&mut self, batch: &[Incoming]) -> Result<WriteStats, StoreError> {
        let mut stats = WriteStats::default();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // New series ids are only cached once the transaction commits.
        let mut cache = self.series.clone();
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO samples(series_id, ts, value, quality) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(series_id, ts) DO UPDATE SET value=excluded.value,
                 quality=excluded.quality",
            )?;
            let mut dead = tx.prepare_cached(
                "INSERT INTO dead_letter(received_ts, topic, reason, payload, size)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut dirty = std::collections::HashSet::new();
            let mut lines = String::new();
            for item in batch {
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
                        for r in &p.readings {
                            let id = Self::series_id(
                                &tx,
                                &mut cache,
                                &self.settings,
                                &p.site,
                                &p.device,
                                &r.quantity,
                                &r.unit,
                            )?;
                            upsert.execute(params![id, ts, r.value, quality_str(r.quality)])?;
                            dirty.insert((id, minute));
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
                    }
                }
            }
            let mut mark = tx.prepare_cached(
                "INSERT INTO rollup_dirty(series_id, bucket) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
            )?;
            for (id, minute) in dirty {
                mark.execute(params![id, minute])?;
            }
            if !lines.is_empty() {
                tx.prepare_cached("INSERT INTO influx_outbox(lines) VALUES (?1)")?
                    .execute([&lines])?;
            }
            if stats.dead > 0 {
                tx.prepare_cached(
                    "DELETE FROM dead_letter WHERE id <= (SELECT max(id) FROM dead_letter) - ?1",
                )?
                .execute([DEAD_LETTER_ROWS])?;
            }
        }
        tx.commit()?;
        self.series = cache;
        Ok(stats)
    }

    /// The newest sample of every series.
    pub fn latest(&self) -> Result<Vec<Latest>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.site, s.device, s.quantity, s.unit, x.ts, x.value, x.quality
             FROM series s
             JOIN samples x ON x.series_id = s.id
              AND x.ts = (SELECT max(ts) FROM samples WHERE series_id = s.id)
             ORDER BY s.site, s.device, s.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Latest {
                site: r.get(0)?,
                device: r.get(1)?,
                quantity: r.get(2)?,
                unit: r.get(3)?,
                ts: ms_to_utc(r.get(4)?),
                value: r.get(5)?,
                quality: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Recomputes the rollups of up to `limit` changed 1-minute buckets (and the 15-minute,
    /// hourly and daily buckets above them) in one transaction. Returns how many were done;
    /// call until it returns 0 to catch up completely.
    pub fn refresh_rollups(&mut self, limit: usize) -> Result<usize, StoreError> {
        let tz = self.settings.timezone;
        let gap = self.settings.gap_limit_ms;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let dirty: Vec<(i64, i64)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT series_id, bucket FROM rollup_dirty ORDER BY series_id, bucket LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        if dirty.is_empty() {
            return Ok(0);
        }
        let meta: HashMap<i64, (Kind, Option<f64>)> = {
            let mut stmt = tx.prepare_cached("SELECT id, device, quantity FROM series")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            let mut m = HashMap::new();
            for row in rows {
                let (id, device, quantity) = row?;
                let wrap = self
                    .settings
                    .wraps
                    .get(&(device, quantity.clone()))
                    .copied();
                m.insert(id, (kind_of(&quantity), wrap));
            }
            m
        };
        let mut minutes: std::collections::BTreeSet<(i64, i64)> = dirty.iter().copied().collect();
        {
            // A changed bucket can change the first increment of the next one with data.
            let mut next = tx.prepare_cached(
                "SELECT ts FROM samples WHERE series_id = ?1 AND ts >= ?2 AND quality = 'good'
                 ORDER BY ts LIMIT 1",
            )?;
            for &(id, b) in &dirty {
                let t: Option<i64> = next
                    .query_row(params![id, b + 60_000], |r| r.get(0))
                    .optional()?;
                if let Some(t) = t {
                    minutes.insert((id, t - t.rem_euclid(60_000)));
                }
            }
        }
        let mut touched: std::collections::BTreeSet<(i64, i64, i64)> = Default::default();
        {
            let mut before = tx.prepare_cached(
                "SELECT ts, value FROM samples WHERE series_id = ?1 AND ts < ?2
                 AND quality = 'good' AND value IS NOT NULL ORDER BY ts DESC LIMIT 1",
            )?;
            let mut inside = tx.prepare_cached(
                "SELECT ts, value FROM samples WHERE series_id = ?1 AND ts >= ?2 AND ts < ?3
                 AND quality = 'good' AND value IS NOT NULL ORDER BY ts",
            )?;
            for &(id, b) in &minutes {
                let (kind, wrap) = meta
                    .get(&id)
                    .copied()
                    .unwrap_or((Kind::Instantaneous, None));
                let prev: Option<(i64, f64)> = before
                    .query_row(params![id, b], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let samples: Vec<(i64, f64)> = inside
                    .query_map(params![id, b, b + 60_000], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                let agg = rollup::aggregate(kind, prev, &samples, gap, wrap);
                Self::put_rollup(&tx, id, 60, b, &agg)?;
                for &res in &rollup::RESOLUTIONS[1..] {
                    touched.insert((res, id, rollup::bucket_start(b, res, tz)));
                }
            }
        }
        // Coarser levels in order, each from the one below.
        for (i, &res) in rollup::RESOLUTIONS.iter().enumerate().skip(1) {
            let finer = rollup::RESOLUTIONS[i - 1];
            let mut parts = tx.prepare_cached(
                "SELECT count, avg, min, max, delta, integral, gaps, resets FROM rollups
                 WHERE series_id = ?1 AND res = ?2 AND bucket >= ?3 AND bucket < ?4",
            )?;
            for &(_, id, b) in
                touched.range((res, i64::MIN, i64::MIN)..(res + 1, i64::MIN, i64::MIN))
            {
                let end = rollup::bucket_end(b, res, tz);
                let aggs: Vec<Agg> = parts
                    .query_map(params![id, finer, b, end], row_agg)?
                    .collect::<Result<_, _>>()?;
                Self::put_rollup(&tx, id, res, b, &rollup::combine(&aggs))?;
            }
        }
        {
            let mut done =
                tx.prepare_cached("DELETE FROM rollup_dirty WHERE series_id = ?1 AND bucket = ?2")?;
            for &(id, b) in &dirty {
                done.execute(params![id, b])?;
            }
        }
        tx.commit()?;
        Ok(dirty.len())
    }

    fn put_rollup(
        tx: &rusqlite::Transaction<'_>,
        id: i64,
        res: i64,
        bucket: i64,
        a: &Agg,
    ) -> Result<(), rusqlite::Error> {
        if a.count == 0 {
            tx.prepare_cached(
                "DELETE FROM rollups WHERE series_id = ?1 AND res = ?2 AND bucket = ?3",
            )?
            .execute(params![id, res, bucket])?;
            return Ok(());
        }
        tx.prepare_cached(
            "INSERT INTO rollups(series_id, res, bucket, count, avg, min, max, delta, integral, gaps, resets)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT(series_id, res, bucket) DO UPDATE SET count = excluded.count,
               avg = excluded.avg, min = excluded.min, max = excluded.max, delta = excluded.delta,
               integral = excluded.integral, gaps = excluded.gaps, resets = excluded.resets",
        )?
        .execute(params![
            id, res, bucket, a.count, a.avg, a.min, a.max, a.delta, a.integral, a.gaps, a.resets
        ])?;
        Ok(())
    }

    /// The oldest outbox rows holding up to about `max_lines` lines (at least one row).
    pub fn outbox_batch(&self, max_lines: usize) -> Result<Option<(Vec<i64>, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, lines FROM influx_outbox ORDER BY id LIMIT 1000")?;
        let mut rows = stmt.query([])?;
        let (mut ids, mut text, mut n) = (Vec::new(), String::new(), 0usize);
        while let Some(row) = rows.next()? {
            let lines: String = row.get(1)?;
            let k = lines.lines().count();
            if !ids.is_empty() && n + k > max_lines {
                break;
            }
            ids.push(row.get(0)?);
            text.push_str(&lines);
            n += k;
        }
        Ok((!ids.is_empty()).then_some((ids, text)))
    }

    pub fn outbox_len(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM influx_outbox", [], |r| r.get(0))?)
    }

    /// Removes sent rows; with `dead`, keeps their lines in the dead-letter table first.
    pub fn outbox_done(
        &mut self,
        ids: &[i64],
        dead: Option<(&str, &[u8])>,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if let Some((reason, payload)) = dead {
            tx.execute(
                "INSERT INTO dead_letter(received_ts, topic, reason, payload) VALUES (?1, ?2, ?3, ?4)",
                params![Utc::now().timestamp_millis(), "influx", reason, payload],
            )?;
        }
        {
            let mut del = tx.prepare_cached("DELETE FROM influx_outbox WHERE id = ?1")?;
            for id in ids {
                del.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The id of a series, creating it (with the configured asset) if needed.
    pub fn ensure_series(
        &mut self,
        site: &str,
        device: &str,
        quantity: &str,
        unit: &str,
    ) -> Result<i64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut cache = self.series.clone();
        let id = Self::series_id(
            &tx,
            &mut cache,
            &self.settings,
            site,
            device,
            quantity,
            unit,
        )?;
        tx.commit()?;
        self.series = cache;
        Ok(id)
    }

    /// Bulk load for history backfills: good samples (series, ts, value) and finished rollup
    /// rows (series, res, bucket, agg) in one transaction, bypassing the dirty-bucket queue.
    pub fn bulk_load(
        &mut self,
        samples: &[(i64, i64, f64)],
        rollups: &[(i64, i64, i64, Agg)],
    ) -> Result<(), StoreError> {
        // A backfill can be re-run after a crash, so it need not wait for the disk.
        self.conn.execute_batch("PRAGMA synchronous=OFF")?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT OR REPLACE INTO samples(series_id, ts, value, quality) VALUES (?1, ?2, ?3, 'good')",
            )?;
            for (id, ts, v) in samples {
                ins.execute(params![id, ts, v])?;
            }
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO rollups(series_id, res, bucket, count, avg, min, max, delta, integral, gaps, resets)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for (id, res, bucket, a) in rollups {
                if a.count > 0 {
                    put.execute(params![
                        id, res, bucket, a.count, a.avg, a.min, a.max, a.delta, a.integral, a.gaps,
                        a.resets
                    ])?;
                }
            }
        }
        tx.commit()?;
        self.conn.execute_batch("PRAGMA synchronous=NORMAL")?;
        Ok(())
    }

    /// 1-minute buckets still waiting for their rollups.
    pub fn rollups_pending(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM rollup_dirty", [], |r| r.get(0))?)
    }

    /// The series catalogue.
    pub fn series(&self) -> Result<Vec<SeriesInfo>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, site, device, quantity, unit, asset FROM series ORDER BY site, device, id",
        )?;
        let rows = stmt.query_map([], |r| {
            let quantity: String = r.get(3)?;
            Ok(SeriesInfo {
                id: r.get(0)?,
                site: r.get(1)?,
                device: r.get(2)?,
                kind: kind_name(kind_of(&quantity)),
                quantity,
                unit: r.get(4)?,
                asset: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Finds a series by `site/device/quantity` or by its numeric id.
    pub fn find_series(&self, name: &str) -> Result<Option<SeriesInfo>, StoreError> {
        let all = self.series()?;
        Ok(all.into_iter().find(|s| {
            name.parse::<i64>().is_ok_and(|id| id == s.id)
                || format!("{}/{}/{}", s.site, s.device, s.quantity) == name
        }))
    }

    /// Points of one series in [from, to): raw samples when `res` is 0 (avg = min = max =
    /// value), otherwise the rollups of `res` seconds.
    pub fn query(
        &self,
        series: i64,
        from: i64,
        to: i64,
        res: i64,
    ) -> Result<Vec<Point>, StoreError> {
        if res == 0 {
            let mut stmt = self.conn.prepare_cached(
                "SELECT ts, value FROM samples WHERE series_id = ?1 AND ts >= ?2 AND ts < ?3
                 AND quality = 'good' AND value IS NOT NULL ORDER BY ts",
            )?;
            let rows = stmt.query_map(params![series, from, to], |r| {
                let v: f64 = r.get(1)?;
                Ok(Point {
                    ts: ms_to_utc(r.get(0)?),
                    agg: Agg {
                        count: 1,
                        avg: Some(v),
                        min: Some(v),
                        max: Some(v),
                        ..Agg::default()
                    },
                })
            })?;
            return Ok(rows.collect::<Result<_, _>>()?);
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT bucket, count, avg, min, max, delta, integral, gaps, resets FROM rollups
             WHERE series_id = ?1 AND res = ?2 AND bucket >= ?3 AND bucket < ?4 ORDER BY bucket",
        )?;
        let rows = stmt.query_map(params![series, res, from, to], |r| {
            Ok(Point {
                ts: ms_to_utc(r.get(0)?),
                agg: Agg {
                    count: r.get(1)?,
                    avg: r.get(2)?,
                    min: r.get(3)?,
                    max: r.get(4)?,
                    delta: r.get(5)?,
                    integral: r.get(6)?,
                    gaps: r.get(7)?,
                    resets: r.get(8)?,
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A series by its key, without scanning the catalogue.
    pub fn series_by_key(
        &self,
        site: &str,
        device: &str,
        quantity: &str,
    ) -> Result<Option<SeriesInfo>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, unit, asset FROM series WHERE site = ?1 AND device = ?2 AND quantity = ?3",
        )?;
        Ok(stmt
            .query_row(params![site, device, quantity], |r| {
                Ok(SeriesInfo {
                    id: r.get(0)?,
                    site: site.to_owned(),
                    device: device.to_owned(),
                    quantity: quantity.to_owned(),
                    unit: r.get(1)?,
                    asset: r.get(2)?,
                    kind: kind_name(kind_of(quantity)),
                })
            })
            .optional()?)
    }

    /// Rollup rows (bucket start ms, aggregate) of one series in [from, to), in order.
    pub fn rollup_rows(
        &self,
        series: i64,
        res: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, Agg)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT count, avg, min, max, delta, integral, gaps, resets, bucket FROM rollups
             WHERE series_id = ?1 AND res = ?2 AND bucket >= ?3 AND bucket < ?4 ORDER BY bucket",
        )?;
        let rows = stmt.query_map(params![series, res, from, to], |r| {
            Ok((r.get(8)?, row_agg(r)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The earliest and latest 15-minute rollup buckets (ms), if any.
    pub fn rollup_span(&self) -> Result<Option<(i64, i64)>, StoreError> {
        let (lo, hi): (Option<i64>, Option<i64>) = self.conn.query_row(
            "SELECT min(bucket), max(bucket) FROM rollups WHERE res = 900",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(lo.zip(hi))
    }

    /// Energy of one device per bucket of `res` seconds (≥ 60): the import counter's delta
    /// where the device has one, otherwise the integral of active power (gaps longer than the
    /// gap limit not bridged, and counted). Returns the source used and the points.
    pub fn energy(
        &self,
        site: &str,
        device: &str,
        from: i64,
        to: i64,
        res: i64,
    ) -> Result<Option<(EnergySource, Vec<EnergyPoint>)>, StoreError> {
        let find = |q: &str| self.find_series(&format!("{site}/{device}/{q}"));
        let (source, series) = if let Some(s) = find("active_energy_import")? {
            (EnergySource::Counter, s)
        } else if let Some(s) = find("active_power")? {
            (EnergySource::IntegratedPower, s)
        } else {
            return Ok(None);
        };
        let points = self
            .query(series.id, from, to, res.max(60))?
            .into_iter()
            .map(|p| EnergyPoint {
                ts: p.ts,
                kwh: match source {
                    EnergySource::Counter => p.agg.delta,
                    EnergySource::IntegratedPower => p.agg.integral,
                },
                gaps: p.agg.gaps,
                resets: p.agg.resets,
            })
            .collect();
        Ok(Some((source, points)))
    }

    /// Deletes what is older than each resolution's retention. Returns rows deleted.
    pub fn purge(
        &mut self,
        now_ms: i64,
        retention: &kilowatch_agent::config::Retention,
    ) -> Result<usize, StoreError> {
        let cutoff = |d: Option<std::time::Duration>| {
            d.map(|d| now_ms - i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2))
        };
        let ids: Vec<i64> = {
            let mut stmt = self.conn.prepare_cached("SELECT id FROM series")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut n = 0;
        // One short transaction per series: ingest is never locked out for long.
        for id in ids {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if let Some(c) = cutoff(retention.raw) {
                n += tx
                    .prepare_cached("DELETE FROM samples WHERE series_id = ?1 AND ts < ?2")?
                    .execute(params![id, c])?;
            }
            for (res, keep) in [
                (60, retention.minute),
                (900, retention.quarter),
                (3600, retention.hour),
                (86_400, retention.day),
            ] {
                if let Some(c) = cutoff(keep) {
                    n += tx
                        .prepare_cached(
                            "DELETE FROM rollups WHERE series_id = ?1 AND res = ?2 AND bucket < ?3",
                        )?
                        .execute(params![id, res, c])?;
                }
            }
            tx.commit()?;
        }
        Ok(n)
    }

    /// A value of the meta table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// Replaces the EnPI rows of one asset: `(step, bucket, partial, facts)`.
    pub fn put_enpi(
        &mut self,
        asset: &str,
        rows: &[(&str, i64, bool, String)],
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO enpi(asset, step, bucket, partial, facts)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (step, bucket, partial, facts) in rows {
                put.execute(params![asset, step, bucket, partial, facts])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Stored EnPI rows `(bucket, partial, facts)` of one asset and step in [from, to).
    pub fn enpi_rows(
        &self,
        asset: &str,
        step: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, bool, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT bucket, partial, facts FROM enpi
             WHERE asset = ?1 AND step = ?2 AND bucket >= ?3 AND bucket < ?4 ORDER BY bucket",
        )?;
        let rows = stmt.query_map(params![asset, step, from, to], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes stored EnPIs of assets no longer configured.
    pub fn retain_enpi_assets(&mut self, keep: &[&str]) -> Result<usize, StoreError> {
        let assets: Vec<String> = {
            let mut stmt = self.conn.prepare("SELECT DISTINCT asset FROM enpi")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut n = 0;
        for a in assets {
            if !keep.contains(&a.as_str()) {
                n += self
                    .conn
                    .execute("DELETE FROM enpi WHERE asset = ?1", [&a])?;
            }
        }
        Ok(n)
    }

    /// Devices of `site` that have series in the catalogue.
    pub fn devices(&self, site: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT device FROM series WHERE site = ?1 ORDER BY device")?;
        let rows = stmt.query_map([site], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Saved poll-numbering state, (device, JSON).
    pub fn sequences(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT device, state FROM sequence")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn save_sequences(&mut self, rows: &[(String, String)]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO sequence(device, state) VALUES (?1, ?2)
                 ON CONFLICT(device) DO UPDATE SET state = excluded.state",
            )?;
            for (device, state) in rows {
                put.execute([device, state])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Counts of series, samples and dead letters, for health reporting.
    pub fn counts(&self) -> Result<(i64, i64, i64), StoreError> {
        Ok(self.conn.query_row(
            "SELECT (SELECT count(*) FROM series), (SELECT count(*) FROM samples),
                    (SELECT count(*) FROM dead_letter)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kilowatch_agent::payload::{Reading, SCHEMA_VERSION};

    fn poll(seq: u64, ts: &str, kw: f64) -> Incoming {
        Incoming::Poll(DevicePoll {
            version: SCHEMA_VERSION,
            site: "s".into(),
            device: "m".into(),
            seq,
            ts: ts.parse().unwrap(),
            readings: vec![
                Reading {
                    quantity: "active_power".into(),
                    value: Some(kw),
                    unit: "kW".into(),
                    quality: Quality::Good,
                },
                Reading {
                    quantity: "power_factor".into(),
                    value: None,
                    unit: "".into(),
                    quality: Quality::Unavailable,
                },
            ],
        })
    }

    fn temp_db(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("kw-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("t.db")
    }

    #[test]
    fn replays_never_duplicate() {
        let path = temp_db("replay");
        let mut s = Store::open(&path).unwrap();
        let a = poll(1, "2026-01-01T00:00:00Z", 10.0);
        let b = poll(2, "2026-01-01T00:00:01Z", 11.0);
        s.write(&[a.clone(), b.clone()]).unwrap();
        s.write(&[a, b]).unwrap();
        assert_eq!(s.counts().unwrap(), (2, 4, 0));
        let latest = s.latest().unwrap();
        let p = latest
            .iter()
            .find(|l| l.quantity == "active_power")
            .unwrap();
        assert_eq!(p.value, Some(11.0));
        let pf = latest
            .iter()
            .find(|l| l.quantity == "power_factor")
            .unwrap();
        assert_eq!((pf.value, pf.quality.as_str()), (None, "unavailable"));
        // Reopening keeps everything and the schema check passes.
        drop(s);
        let s = Store::open(&path).unwrap();
        assert_eq!(s.counts().unwrap(), (2, 4, 0));
    }

    #[test]
    fn dead_letters_are_kept_beside_good_data() {
        let mut s = Store::open(&temp_db("dead")).unwrap();
        let stats = s
            .write(&[
                poll(1, "2026-01-01T00:00:00Z", 10.0),
                Incoming::Dead(DeadLetter {
                    received: Utc::now(),
                    topic: "kilowatch/v1/s/m/data".into(),
                    reason: "malformed JSON".into(),
                    size: 1,
                    payload: b"{".to_vec(),
                }),
            ])
            .unwrap();
        assert_eq!(
            stats,
            WriteStats {
                polls: 1,
                samples: 2,
                dead: 1
            }
        );
        assert_eq!(s.counts().unwrap(), (2, 2, 1));
    }

    fn counter_poll(ts_ms: i64, kwh: f64, kw: f64) -> Incoming {
        Incoming::Poll(DevicePoll {
            version: SCHEMA_VERSION,
            site: "s".into(),
            device: "m".into(),
            seq: 0,
            ts: ms_to_utc(ts_ms),
            readings: vec![
                Reading {
                    quantity: "active_energy_import".into(),
                    value: Some(kwh),
                    unit: "kWh".into(),
                    quality: Quality::Good,
                },
                Reading {
                    quantity: "active_power".into(),
                    value: Some(kw),
                    unit: "kW".into(),
                    quality: Quality::Good,
                },
            ],
        })
    }

    #[test]
    fn rollups_give_counter_deltas_across_reset_and_wrap_and_integrate_power() {
        let wrap = 4_294_967_296.0 * 0.01;
        let mut settings = StoreSettings::default();
        settings
            .wraps
            .insert(("m".into(), "active_energy_import".into()), wrap);
        let mut s = Store::open(&temp_db("rollup"))
            .unwrap()
            .with_settings(settings);
        // 2026-01-01T00:00Z, one poll a minute for 3 hours at 60 kW = 1 kWh per minute.
        let t0 = 1_767_225_600_000i64;
        let mut kwh = wrap - 30.5; // wraps after 30 minutes
        let mut batch = Vec::new();
        for i in 0..180 {
            if i == 90 {
                kwh = 0.0; // meter reset to zero: the step is not counted
            } else if i > 0 {
                kwh += 1.0;
                if kwh >= wrap {
                    kwh -= wrap;
                }
            }
            batch.push(counter_poll(t0 + i * 60_000, kwh, 60.0));
        }
        // Replayed out of order and twice: the rollups must not care.
        batch.reverse();
        s.write(&batch).unwrap();
        s.write(&batch[..50]).unwrap();
        while s.refresh_rollups(7).unwrap() > 0 {}
        assert_eq!(s.rollups_pending().unwrap(), 0);
        let energy = s.find_series("s/m/active_energy_import").unwrap().unwrap();
        let power = s.find_series("s/m/active_power").unwrap().unwrap();
        assert_eq!((energy.kind, power.kind), ("counter", "instantaneous"));
        let hours = s.query(energy.id, t0, t0 + 3 * 3_600_000, 3600).unwrap();
        let deltas: Vec<f64> = hours.iter().map(|p| p.agg.delta.unwrap()).collect();
        // Hour 1: 59 steps (the first poll has nothing before it), one across the wrap at
        // minute 31; hour 2: 60 steps, one of them the reset at minute 90 (not counted);
        // hour 3: 60 steps.
        assert_eq!(deltas.len(), 3);
        assert!((deltas[0] - 59.0).abs() < 1e-6, "{deltas:?}");
        assert!((deltas[1] - 59.0).abs() < 1e-6, "{deltas:?}");
        assert!((deltas[2] - 60.0).abs() < 1e-6, "{deltas:?}");
        assert_eq!(
            (
                hours[0].agg.resets,
                hours[1].agg.resets,
                hours[2].agg.resets
            ),
            (0, 1, 0)
        );
        let day = s
            .query(energy.id, t0 - 86_400_000, t0 + 86_400_000, 86_400)
            .unwrap();
        assert_eq!(day.len(), 1);
        assert!((day[0].agg.delta.unwrap() - 178.0).abs() < 1e-6);
        // Power integrates to the same energy: 179 one-minute trapezoids of 60 kW.
        let p_day = s
            .query(power.id, t0 - 86_400_000, t0 + 86_400_000, 86_400)
            .unwrap();
        assert!((p_day[0].agg.integral.unwrap() - 179.0).abs() < 1e-6);
        assert_eq!(p_day[0].agg.count, 180);
        let quarter = s.query(power.id, t0, t0 + 3_600_000, 900).unwrap();
        assert_eq!(quarter.len(), 4);
        assert!(quarter
            .iter()
            .all(|p| p.agg.count == 15 && p.agg.avg == Some(60.0)));
    }

    #[test]
    fn retention_deletes_per_resolution() {
        let mut s = Store::open(&temp_db("retention")).unwrap();
        let t0 = 1_767_225_600_000i64;
        s.write(&[
            counter_poll(t0, 1.0, 5.0),
            counter_poll(t0 + 10 * 86_400_000, 2.0, 5.0),
        ])
        .unwrap();
        while s.refresh_rollups(100).unwrap() > 0 {}
        let r = kilowatch_agent::config::Retention {
            raw: Some(std::time::Duration::from_secs(5 * 86_400)),
            minute: None,
            quarter: None,
            hour: None,
            day: None,
        };
        let n = s.purge(t0 + 11 * 86_400_000, &r).unwrap();
        assert_eq!(n, 2, "the old poll's two samples");
        let id = s.find_series("s/m/active_power").unwrap().unwrap().id;
        assert_eq!(s.query(id, 0, i64::MAX, 0).unwrap().len(), 1);
        assert_eq!(
            s.query(id, 0, i64::MAX, 60).unwrap().len(),
            2,
            "rollups kept forever"
        );
    }

    #[test]
    fn energy_prefers_the_counter_and_integrates_power_otherwise() {
        let mut s = Store::open(&temp_db("energy")).unwrap();
        let t0 = 1_767_225_600_000i64;
        let power_only = |i: i64| {
            Incoming::Poll(DevicePoll {
                version: SCHEMA_VERSION,
                site: "s".into(),
                device: "p".into(),
                seq: 0,
                ts: ms_to_utc(t0 + i * 60_000),
                readings: vec![Reading {
                    quantity: "active_power".into(),
                    value: Some(30.0),
                    unit: "kW".into(),
                    quality: Quality::Good,
                }],
            })
        };
        let mut batch: Vec<Incoming> = (0..61).map(power_only).collect();
        batch.extend((0..61).map(|i| counter_poll(t0 + i * 60_000, 100.0 + i as f64 * 0.5, 999.0)));
        s.write(&batch).unwrap();
        while s.refresh_rollups(1000).unwrap() > 0 {}
        let (src, pts) = s
            .energy("s", "p", t0, t0 + 7_200_000, 3600)
            .unwrap()
            .unwrap();
        assert_eq!(src, EnergySource::IntegratedPower);
        assert!((pts[0].kwh.unwrap() - 29.5).abs() < 1e-9, "{pts:?}");
        // Device m has a counter: its (inconsistent) power reading is not used.
        let (src, pts) = s
            .energy("s", "m", t0, t0 + 7_200_000, 3600)
            .unwrap()
            .unwrap();
        assert_eq!(src, EnergySource::Counter);
        assert!((pts[0].kwh.unwrap() - 29.5).abs() < 1e-9, "{pts:?}");
        assert!(s.energy("s", "nothing", t0, t0 + 1, 60).unwrap().is_none());
    }
}
