//! Read-only connections for the API's queries: a few, each used by one query at a time on
//! the blocking pool, so reads run in parallel with each other and with the writer (WAL).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use super::conn::Store;
use super::error::StoreError;

/// A pool of read-only connections to one database.
pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
    permits: Arc<Semaphore>,
}

impl Readers {
    /// Up to `n` connections to the database at `path`, which a writer has already opened.
    /// One is opened now, to fail early; the others when first needed.
    pub fn open(path: &Path, n: usize) -> Result<Self, StoreError> {
        let first = Store::open_read_only(path)?;
        Ok(Self {
            path: path.to_owned(),
            idle: Mutex::new(vec![first]),
            permits: Arc::new(Semaphore::new(n.max(1))),
        })
    }

    /// Runs `f` on an idle connection on the blocking pool, waiting for one if all are busy.
    pub async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Stopped)?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let idle = me.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            // A connection lost to a panicking query is replaced here.
            let store = match idle {
                Some(s) => s,
                None => Store::open_read_only(&me.path)?,
            };
            let r = f(&store);
            me.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(store);
            r
        })
        .await
        .map_err(|_| StoreError::Panicked)?
    }
}
