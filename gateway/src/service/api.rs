//! The HTTP API on a runtime of its own, at a lower CPU priority than ingest.
//!
//! On a small gateway the API's clients can ask for more than the machine has (a dashboard
//! left open on a year of data, a script polling in a loop). Readings arriving from the plant
//! must not slow down because of it: the API's threads (its workers and the blocking threads
//! running its queries) run at nice [`API_NICE`], so under contention ingest and the store
//! writer get the CPU first and the API answers more slowly, instead of the other way round.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::http::{self, AppState};

/// Niceness of the API's threads (0 is the process's; 19 the lowest priority).
pub const API_NICE: i32 = 10;

/// Worker threads of the API's runtime.
const WORKERS: usize = 2;

/// Serves the API on its own threads until `shutdown`; the returned handle finishes with
/// the server.
pub fn spawn(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<std::io::Result<()>>> {
    let listener = listener.into_std()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name("api")
        .on_thread_start(lower_priority)
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("api".into())
        .spawn(move || {
            // The accept loop runs on this thread.
            lower_priority();
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener)?;
                http::serve(listener, state, shutdown).await
            })
        })
}

/// Lowers the calling thread's priority to [`API_NICE`] (Linux: niceness is per thread).
/// Failing is harmless (the API then competes evenly), so it is only logged.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take no pointers and affect only this thread.
        let r = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, API_NICE)
        };
        if r != 0 {
            tracing::debug!(
                "cannot lower the API thread's priority: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}
