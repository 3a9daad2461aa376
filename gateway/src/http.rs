//! The HTTP API and the live page.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use thiserror::Error;
use tokio::net::TcpListener;

use crate::ingest::{IngestSnapshot, IngestStats};
use crate::store::{Latest, Store};

/// The live page; its source lives with the other dashboard assets.
const LIVE_PAGE: &str = include_str!("../../dashboards/web/live.html");

pub struct AppState {
    pub site_name: String,
    pub store: Mutex<Store>,
    pub ingest: Arc<IngestStats>,
}

#[derive(Serialize)]
struct LatestResponse {
    readings: Vec<Latest>,
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    site: String,
    ingest: IngestSnapshot,
    series: i64,
    samples: i64,
    dead_letters: i64,
}

struct ApiError(String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        tracing::error!("API error: {}", self.0);
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({ "error": self.0 })),
        )
            .into_response()
    }
}

async fn with_store<T: Send + 'static>(
    state: Arc<AppState>,
    f: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || {
        let store = state.store.lock().unwrap_or_else(|p| p.into_inner());
        f(&store).map_err(|e| ApiError(e.to_string()))
    })
    .await
    .map_err(|e| ApiError(e.to_string()))?
}

async fn latest(State(state): State<Arc<AppState>>) -> Result<Json<LatestResponse>, ApiError> {
    let readings = with_store(state, |s| s.latest()).await?;
    Ok(Json(LatestResponse { readings }))
}

async fn health(State(state): State<Arc<AppState>>) -> Result<Json<Health>, ApiError> {
    let ingest = state.ingest.snapshot();
    let site = state.site_name.clone();
    let (series, samples, dead_letters) = with_store(state, |s| s.counts()).await?;
    Ok(Json(Health {
        status: if ingest.mqtt_connected {
            "ok"
        } else {
            "degraded"
        },
        site,
        ingest,
        series,
        samples,
        dead_letters,
    }))
}

async fn index() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-cache")], Html(LIVE_PAGE))
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/api/v1/latest", get(latest))
        .route("/api/v1/health", get(health))
        .with_state(state)
}

#[derive(Debug, Error)]
pub enum BindError {
    #[error("HTTP address {addr} is already in use (is another kilowatch or web server running?); choose another with --http, e.g. --http 127.0.0.1:{next}")]
    InUse { addr: SocketAddr, next: u16 },
    #[error("cannot listen on {addr}: {source}")]
    Other {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Binds the HTTP listener, turning the common failure into advice.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(addr).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            BindError::InUse {
                addr,
                next: addr.port().wrapping_add(1).max(1024),
            }
        } else {
            BindError::Other { addr, source }
        }
    })
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
