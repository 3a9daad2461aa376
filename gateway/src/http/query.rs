//! `GET /api/v1/query`: one series over a range, raw or from the rollups.
//!
//! Closed buckets come from the writer's [`RollupCache`](crate::store::RollupCache) as ready
//! JSON; only the open buckets (and whatever the cache lacks) are read from SQLite, in one
//! job on a read connection.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    bad_request, check_points, per_ms, pick_resolution, range, secs, with_store, ApiError,
    ApiQuery, AppState,
};
use crate::store::{Point, SeriesInfo, SEAL_MS};

#[derive(Deserialize)]
pub(super) struct QueryParams {
    series: String,
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
}

/// The answer without its points, which follow it as `"points": [...]`.
#[derive(Serialize)]
struct QueryHead<'a> {
    series: &'a SeriesInfo,
    /// Seconds per point: 0 for raw samples, else 60, 900, 3600 or 86400.
    resolution: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

/// What the read job found.
enum Found {
    /// Cached JSON of the closed buckets (a byte range of it) and the points after them.
    Cached(Arc<Vec<u8>>, std::ops::Range<usize>, Vec<Point>),
    /// Every point from the database (raw samples, or the cache changed meanwhile).
    Read(Vec<Point>),
}

pub(super) async fn query(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<QueryParams>,
) -> Result<Response, ApiError> {
    let (from, to) = match range(q.from.as_deref(), q.to.as_deref()) {
        Ok(r) => r,
        Err(e) => return Ok(bad_request(e)),
    };
    let step = match &q.step {
        None => None,
        Some(v) => match crate::when::duration(v) {
            Ok(d) => Some(d),
            Err(e) => return Ok(bad_request(format!("`step`: {e}"))),
        },
    };
    let span = (to - from).num_milliseconds();
    let res = pick_resolution(span, step.map(secs));
    if let Err(e) = check_points(span, per_ms(step, res), q.step.as_deref()) {
        return Ok(bad_request(e));
    }
    let (name, live, tz) = (q.series.clone(), state.live.clone(), state.assets.timezone);
    let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
    let found = with_store(state, move |s| {
        let Some(info) = s.find_series(&name)? else {
            return Ok(None);
        };
        if res == 0 {
            let points = s.query(info.id, from_ms, to_ms, 0)?;
            return Ok(Some((info, Found::Read(points))));
        }
        // Buckets starting before `closed` ended at least SEAL_MS ago.
        let now = Utc::now().timestamp_millis();
        let closed = crate::rollup::bucket_start(now - SEAL_MS, res, tz).clamp(from_ms, to_ms);
        let cache = live.rollups();
        let plan = cache.plan(info.id, res, from_ms, closed);
        let fetched = match plan.fetch {
            Some((a, b)) => s.query(info.id, a, b, res)?,
            None => Vec::new(),
        };
        let tail = s.query(info.id, closed, to_ms, res)?;
        let found = match cache.fill(&plan, &fetched, from_ms, closed) {
            Some((json, bytes)) => Found::Cached(json, bytes, tail),
            None => Found::Read(s.query(info.id, from_ms, to_ms, res)?),
        };
        Ok(Some((info, found)))
    })
    .await?;
    let Some((series, found)) = found else {
        return Ok((
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({
                "error": format!("no series `{}` (use site/device/quantity or an id from /api/v1/series)", q.series)
            })),
        )
            .into_response());
    };
    let head = QueryHead {
        series: &series,
        resolution: res,
        from,
        to,
    };
    let body = answer(&head, found).map_err(|e| ApiError(e.to_string()))?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response())
}

/// The JSON answer: the head's fields, then `"points"`.
fn answer(head: &QueryHead<'_>, found: Found) -> serde_json::Result<Vec<u8>> {
    let mut out = serde_json::to_vec(head)?;
    out.pop(); // the head's closing brace: the points follow
    out.extend_from_slice(br#","points":["#);
    let mut first = true;
    let tail = match found {
        Found::Cached(json, bytes, tail) => {
            if !bytes.is_empty() {
                out.reserve(bytes.len() + tail.len() * 160 + 2);
                out.extend_from_slice(&json[bytes]);
                first = false;
            }
            tail
        }
        Found::Read(points) => points,
    };
    for p in &tail {
        if !first {
            out.push(b',');
        }
        first = false;
        serde_json::to_writer(&mut out, p)?;
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}
