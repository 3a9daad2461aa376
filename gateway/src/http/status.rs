//! `GET /api/v1/latest` and `GET /api/v1/health`, answered from the writer's in-memory view
//! ([`Live`](crate::store::Live)): they never wait for a database connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::{ApiError, AppState};
use crate::ingest::IngestSnapshot;

/// `/latest` is re-serialised at most this often while readings arrive (with 20 000 series
/// the answer is megabytes); an answer is never older than this.
const LATEST_MAX_AGE: Duration = Duration::from_millis(200);

/// The last serialised `/latest` answer, with the view's version it was built from, and
/// whether a request is building the next one (the others meanwhile get this one).
#[derive(Default)]
pub struct LatestBody {
    last: Mutex<Option<(u64, Instant, Bytes)>>,
    building: AtomicBool,
}

/// Clears `building` when the builder finishes or fails.
struct Building<'a>(&'a AtomicBool);

impl Drop for Building<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[derive(Serialize)]
pub(super) struct Health {
    status: &'static str,
    site: String,
    /// The site's time zone (IANA name): days, shifts and dashboards' clocks are in it.
    timezone: String,
    ingest: IngestSnapshot,
    series: i64,
    samples: i64,
    dead_letters: i64,
    /// 1-minute buckets whose rollups are not computed yet (they catch up every 2 s).
    rollups_pending: i64,
    influx: crate::influx::InfluxSnapshot,
    /// Each agent's latest health message: spool backlog, publishing, per-device errors.
    agents: Vec<serde_json::Value>,
    /// Each device's poll numbering as received: holes, repairs, losses.
    sequences: Vec<crate::ingest::sequence::SequenceSnapshot>,
}

pub(super) async fn latest(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let version = state.live.version();
    let cache = &state.latest_body;
    let last = cache.last.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let current = last
        .as_ref()
        .filter(|(v, at, _)| *v == version || at.elapsed() < LATEST_MAX_AGE)
        .map(|(_, _, b)| b.clone());
    let body = match current {
        Some(b) => b,
        // One request rebuilds; the others answer with the previous body meanwhile.
        None => match (cache.building.swap(true, Ordering::AcqRel), last) {
            (true, Some((_, _, b))) => b,
            (was_building, _) => {
                let _done = (!was_building).then(|| Building(&cache.building));
                let live = state.live.clone();
                // Sorting and serialising thousands of series is blocking work.
                let body = tokio::task::spawn_blocking(move || live.latest_json())
                    .await
                    .map_err(|e| ApiError(e.to_string()))?
                    .map_err(|e| ApiError(e.to_string()))?;
                let body = Bytes::from(body);
                *cache.last.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((version, Instant::now(), body.clone()));
                body
            }
        },
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

pub(super) async fn health(State(state): State<Arc<AppState>>) -> Json<Health> {
    let counts = state.live.counts();
    let ingest = state.ingest.snapshot();
    let health = Health {
        status: if ingest.mqtt_connected {
            "ok"
        } else {
            "degraded"
        },
        site: state.site_name.clone(),
        timezone: state.assets.timezone.name().to_owned(),
        ingest,
        series: counts.series,
        samples: counts.samples,
        dead_letters: counts.dead_letters,
        rollups_pending: counts.rollups_pending,
        influx: state.influx.snapshot(),
        agents: state.ingest.agents(),
        sequences: state.ingest.sequences(),
    };
    Json(health)
}
