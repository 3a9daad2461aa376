//! The writer: one thread owns the write connection; everything that writes (ingest, rollups,
//! the outbox, retention, EnPIs and M&V plan results) sends it a job and awaits the reply, so
//! writes never block the async runtime and never contend for SQLite's write lock inside the
//! service.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::conn::Store;
use super::error::StoreError;

type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// A handle on the writer thread; clones share it. The thread ends (closing the connection)
/// when the last handle is dropped, after the jobs already sent.
#[derive(Clone)]
pub struct StoreWriter {
    jobs: mpsc::Sender<Job>,
}

impl StoreWriter {
    /// Starts the thread that owns `store`.
    pub fn spawn(mut store: Store) -> std::io::Result<Self> {
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                for job in rx {
                    job(&mut store);
                }
            })?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the writer thread and returns its result. A job that panics answers
    /// [`StoreError::Panicked`]; the thread and its connection carry on.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |store| {
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| f(store)))
                .unwrap_or(Err(StoreError::Panicked));
            let _ = reply.send(r);
        });
        self.jobs.send(job).map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Like [`call`](Self::call), lending `state` to `f` and giving it back with the result,
    /// also when `f` panics. Fails only when the writer thread is gone (`state` with it).
    pub async fn call_with<S: Send + 'static, T: Send + 'static>(
        &self,
        state: S,
        f: impl FnOnce(&mut Store, &mut S) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<(S, Result<T, StoreError>), StoreError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |store| {
            let mut state = state;
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| f(store, &mut state)))
                .unwrap_or(Err(StoreError::Panicked));
            let _ = reply.send((state, r));
        });
        self.jobs.send(job).map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)
    }
}
