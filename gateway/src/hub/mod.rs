//! The portfolio hub (`kilowatch-gateway hub`): many sites' records, received over MQTT from
//! their gateways (see `uplink/`), kept in PostgreSQL for the portfolio's API and pages.
//!
//! Layout:
//! - `wire`: the record format on the wire (shared with the site's `uplink`);
//! - `config`: `hub.toml`;
//! - `pg`: the connection pool, the numbered SQL migrations, the upserts;
//! - `ingest`: the shared subscription, acknowledging a message only after its commit;
//! - `api`: the JSON API under `/api/v1/portfolio`, limited to the caller's sites;
//! - `portfolio`, `guarantees`: the figures the API reads from the records;
//! - `auth/`: users, roles, sessions, tokens, the audit log;
//! - `server`: the HTTP routes.

pub mod api;
pub mod auth;
pub mod config;
pub mod guarantees;
pub mod ingest;
pub mod pg;
pub mod portfolio;
pub mod server;
pub mod wire;

use std::future::Future;
use std::sync::Arc;

/// Runs one hub instance until `shutdown` completes: migrations, then the subscription.
/// With `http` (or `[http] listen`), the portfolio is served beside it.
pub async fn run(
    cfg: config::HubFile,
    client_id: Option<String>,
    http: Option<std::net::SocketAddr>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let pool = pg::pool(&cfg.postgres)?;
    let version = pg::prepare(&pool).await?;
    tracing::info!(schema = version, "hub database ready");
    let client_id = client_id.unwrap_or_else(|| cfg.client_id());
    let stats = Arc::new(ingest::HubStats::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let api = match http.or(cfg.http.listen) {
        Some(addr) => {
            let stopped = crate::service::stopped(stop_rx);
            let shared = Arc::new(auth::http::Hub {
                pool: pool.clone(),
                policy: cfg.policy()?,
                public_url: cfg.http.public_url.clone(),
                metrics: Default::default(),
                stats: stats.clone(),
            });
            Some(tokio::spawn(server::serve(addr, shared, stopped)))
        }
        None => None,
    };
    let result = ingest::run(&cfg, client_id, pool, stats, shutdown).await;
    let _ = stop_tx.send(true);
    if let Some(api) = api {
        api.await??;
    }
    result
}
