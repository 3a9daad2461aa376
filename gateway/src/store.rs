//! Sink stage: the embedded time-series store (SQLite, WAL).
//!
//! Samples are keyed by (series, ts) in a `WITHOUT ROWID` table, and written with an upsert, so
//! a reading delivered twice (MQTT at-least-once, replay after an outage) is stored once.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use kilowatch_agent::payload::{DevicePoll, Quality};
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

/// Bumped whenever the schema changes; checked at open.
const SCHEMA_VERSION: i64 = 1;

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
CREATE TABLE IF NOT EXISTS dead_letter (
    id          INTEGER PRIMARY KEY,
    received_ts INTEGER NOT NULL,
    topic       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    payload     BLOB NOT NULL
);
";

/// A message that could not be stored as readings, kept for inspection.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub received: DateTime<Utc>,
    pub topic: String,
    pub reason: String,
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

pub struct Store {
    conn: Connection,
    series: HashMap<(String, String, String), i64>,
}

fn quality_str(q: Quality) -> &'static str {
    match q {
        Quality::Good => "good",
        Quality::Unavailable => "unavailable",
        Quality::Bad => "bad",
    }
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
            Some(v) => {
                return Err(open_err(rusqlite::Error::InvalidParameterName(format!(
                    "schema version {v}, this build reads {SCHEMA_VERSION}"
                ))))
            }
        }
        Ok(Self {
            conn,
            series: HashMap::new(),
        })
    }

    fn series_id(
        tx: &rusqlite::Transaction<'_>,
        cache: &mut HashMap<(String, String, String), i64>,
        site: &str,
        device: &str,
        quantity: &str,
        unit: &str,
    ) -> Result<i64, rusqlite::Error> {
        let key = (site.to_owned(), device.to_owned(), quantity.to_owned());
        if let Some(&id) = cache.get(&key) {
            return Ok(id);
        }
        tx.execute(
            "INSERT INTO series(site, device, quantity, unit) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(site, device, quantity) DO NOTHING",
            params![site, device, quantity, unit],
        )?;
        let id = tx.query_row(
            "SELECT id FROM series WHERE site=?1 AND device=?2 AND quantity=?3",
            params![site, device, quantity],
            |r| r.get(0),
        )?;
        cache.insert(key, id);
        Ok(id)
    }

    /// Writes a batch in one transaction: all of it is committed or none of it.
    pub fn write(&mut self, batch: &[Incoming]) -> Result<WriteStats, StoreError> {
        let mut stats = WriteStats::default();
        let tx = self.conn.transaction()?;
        // New series ids are only cached once the transaction commits.
        let mut cache = self.series.clone();
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO samples(series_id, ts, value, quality) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(series_id, ts) DO UPDATE SET value=excluded.value,
                 quality=excluded.quality",
            )?;
            let mut dead = tx.prepare_cached(
                "INSERT INTO dead_letter(received_ts, topic, reason, payload)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for item in batch {
                match item {
                    Incoming::Poll(p) => {
                        let ts = p.ts.timestamp_millis();
                        for r in &p.readings {
                            let id = Self::series_id(
                                &tx,
                                &mut cache,
                                &p.site,
                                &p.device,
                                &r.quantity,
                                &r.unit,
                            )?;
                            upsert.execute(params![id, ts, r.value, quality_str(r.quality)])?;
                            stats.samples += 1;
                        }
                        stats.polls += 1;
                    }
                    Incoming::Dead(d) => {
                        dead.execute(params![
                            d.received.timestamp_millis(),
                            d.topic,
                            d.reason,
                            d.payload
                        ])?;
                        stats.dead += 1;
                    }
                }
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
}
