//! The gateway service: ingest and HTTP side by side, stopped together.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use kilowatch_agent::config::SiteConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::http::{self, AppState};
use crate::ingest::{self, IngestStats};
use crate::store::Store;

/// Resolves once `rx` turns true.
pub async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Runs ingest and the HTTP server until `shutdown` completes.
pub async fn run(
    config: SiteConfig,
    db: PathBuf,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let stats = Arc::new(IngestStats::default());
    // Open the writer's schema first so the reader never sees a half-made database.
    drop(Store::open(&db)?);
    let state = Arc::new(AppState {
        site_name: config.site.name.clone().unwrap_or(config.site.id.clone()),
        store: Mutex::new(Store::open(&db)?),
        ingest: stats.clone(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let addr = listener.local_addr()?;
    let http = tokio::spawn(http::serve(listener, state, stopped(stop_rx.clone())));
    tracing::info!(%addr, db = %db.display(), "gateway serving");
    let ingest = ingest::consume(&config, db, stats, stopped(stop_rx));
    tokio::pin!(ingest);
    let result = tokio::select! {
        r = &mut ingest => r,
        () = shutdown => {
            let _ = stop_tx.send(true);
            ingest.await
        }
    };
    let _ = stop_tx.send(true);
    http.await??;
    result
}
