//! Keeping the writer's in-memory view ([`Live`]) in step with the database it reflects.

use std::sync::Arc;

use super::conn::Store;
use super::error::StoreError;
use super::live::{Live, Snapshot};

impl Store {
    /// Keeps an in-memory view (newest samples, counts, rollup backlog) current after each
    /// commit, starting from what the database holds now. Returns the view to share.
    pub fn keep_live(&mut self) -> Result<Arc<Live>, StoreError> {
        let live = Arc::new(Live::default());
        live.reload(self.snapshot()?);
        self.live = Some(live.clone());
        Ok(live)
    }

    /// Reloads the in-memory view if another connection (another process) committed since
    /// the last reload; call on the connection that keeps it. Returns whether it reloaded.
    pub fn sync_live(&mut self) -> Result<bool, StoreError> {
        let Some(live) = self.live.clone() else {
            return Ok(false);
        };
        if self.data_version()? == live.data_version() {
            return Ok(false);
        }
        tracing::info!(
            "the database was changed by another process: reloading latest values and counts"
        );
        live.reload(self.snapshot()?);
        Ok(true)
    }

    /// Reloads the in-memory view, if kept, after writes that bypassed it (a bulk load).
    pub(super) fn reload_live(&self) -> Result<(), StoreError> {
        if let Some(live) = &self.live {
            live.reload(self.snapshot()?);
        }
        Ok(())
    }

    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        // The version first: another process's commit after it is seen at the next sync.
        let data_version = self.data_version()?;
        Ok(Snapshot {
            data_version,
            counts: self.counts()?,
            rollups_pending: self.rollups_pending()?,
            latest: self.latest_rows()?,
        })
    }

    /// Changes only when another connection commits (SQLite's `PRAGMA data_version`).
    fn data_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }
}
