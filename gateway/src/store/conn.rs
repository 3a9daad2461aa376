//! The store: one SQLite connection, the series id cache and the site settings.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};

use super::dirty_marks::DirtyMarks;
use super::error::StoreError;
use super::live::Live;
use super::schema;
use super::series_ids::SeriesIds;
use super::settings::StoreSettings;

pub struct Store {
    pub(super) conn: Connection,
    /// (site, device, quantity) → series id, for the writes.
    pub(super) series: SeriesIds,
    pub(super) settings: StoreSettings,
    /// The writer's in-memory view for the API, kept current after each commit.
    pub(super) live: Option<Arc<Live>>,
    /// Rollup marks this connection knows are made (see [`DirtyMarks`]).
    pub(super) dirty_marks: DirtyMarks,
    /// Kind and counter wrap of each series id the rollup engine met (series never change
    /// quantity or device; the wraps come from `settings`).
    pub(super) kinds: super::series_rules::SeriesKinds,
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
        schema::migrate(&conn).map_err(open_err)?;
        Ok(Self {
            conn,
            series: SeriesIds::default(),
            settings: StoreSettings::default(),
            live: None,
            dirty_marks: DirtyMarks::default(),
            kinds: HashMap::new(),
        })
    }

    /// Opens a read-only connection to a database a writer has already opened (and so
    /// created and migrated): for the API's and the CLI's queries.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        Ok(Self {
            conn,
            series: SeriesIds::default(),
            settings: StoreSettings::default(),
            live: None,
            dirty_marks: DirtyMarks::default(),
            kinds: HashMap::new(),
        })
    }

    /// Rows changed through this connection since it opened: tests check who wrote.
    #[cfg(test)]
    pub(crate) fn total_changes(&self) -> u64 {
        self.conn.total_changes()
    }

    /// Sets the site knowledge rollups need (time zone, gap limit, counter wraps, assets).
    pub fn with_settings(mut self, settings: StoreSettings) -> Self {
        self.settings = settings;
        self.kinds.clear();
        self
    }

    /// Gives this connection a page cache of up to `mib` MiB (SQLite's default is 2 MiB,
    /// allocated as pages are read). The writer of a large catalogue appends to the newest
    /// page of every series within seconds: with the default cache each of those pages was
    /// read again from the operating system for nearly every reading.
    pub fn set_cache_mib(&self, mib: u32) -> Result<(), StoreError> {
        self.conn
            .execute_batch(&format!("PRAGMA cache_size = -{}", u64::from(mib) * 1024))?;
        Ok(())
    }
}
