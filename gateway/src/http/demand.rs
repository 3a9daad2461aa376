//! `/api/v1/demand/{profile,events,shave}`: demand management (see `crate::demand`), the
//! `demand` command's answers, over `[from, to)` (default the 30 days before now).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{bad_request, with_store, ApiError, ApiQuery, AppState};
use crate::demand;

#[derive(Deserialize)]
pub(super) struct Params {
    from: Option<String>,
    to: Option<String>,
    /// events: how many (default 10).
    top: Option<usize>,
    /// shave: kW to take off the peak.
    cut_kw: Option<f64>,
}

const NEEDS: &str = "the site needs a tariff (site.tariff) and a plant asset (type = \"plant\")";

/// The range asked for, or the message saying what is wrong with it.
fn range(state: &AppState, q: &Params) -> Result<(i64, i64), String> {
    let tz = state.assets.timezone;
    let time = |name: &str, v: &Option<String>| {
        v.as_deref()
            .map(|t| {
                crate::when::instant(t, tz)
                    .map(|t| t.timestamp_millis())
                    .map_err(|e| format!("`{name}`: {e}"))
            })
            .transpose()
    };
    let to = time("to", &q.to)?.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    let from = time("from", &q.from)?.unwrap_or(to - demand::DEFAULT_SPAN_MS);
    if from >= to {
        return Err("`from` must be before `to`".into());
    }
    if state.assets.tariff.is_none() || demand::incomers(&state.assets).is_none() {
        return Err(NEEDS.into());
    }
    Ok((from, to))
}

async fn quarters(state: Arc<AppState>, r: (i64, i64)) -> Result<Vec<demand::Quarter>, ApiError> {
    let assets = state.assets.clone();
    Ok(
        with_store(state, move |s| demand::plant_quarters(s, &assets, r))
            .await?
            .unwrap_or_default(),
    )
}

pub(super) async fn profile(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<Params>,
) -> Result<Response, ApiError> {
    let r = match range(&state, &q) {
        Ok(r) => r,
        Err(e) => return Ok(bad_request(e)),
    };
    let assets = state.assets.clone();
    let qs = quarters(state, r).await?;
    let Some(t) = &assets.tariff else {
        return Ok(bad_request(NEEDS.into()));
    };
    Ok(Json(demand::profile(t, assets.timezone, &qs)).into_response())
}

pub(super) async fn events(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<Params>,
) -> Result<Response, ApiError> {
    let r = match range(&state, &q) {
        Ok(r) => r,
        Err(e) => return Ok(bad_request(e)),
    };
    let n = q.top.unwrap_or(10);
    let assets = state.assets.clone();
    let tree = state.review.tree.clone();
    let e = with_store(state, move |s| {
        demand::events_from_store(s, &assets, &tree, r, n)
    })
    .await?
    .unwrap_or_default();
    Ok(Json(e).into_response())
}

pub(super) async fn shave(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<Params>,
) -> Result<Response, ApiError> {
    let r = match range(&state, &q) {
        Ok(r) => r,
        Err(e) => return Ok(bad_request(e)),
    };
    let Some(x) = q.cut_kw.filter(|x| x.is_finite() && *x > 0.0) else {
        return Ok(bad_request(
            "`cut_kw`: a positive number of kW is needed".into(),
        ));
    };
    let tz = state.assets.timezone;
    let qs = quarters(state, r).await?;
    match demand::shave(tz, &qs, x) {
        Some(s) => Ok(Json(s).into_response()),
        None => Ok(bad_request("no demand in the range".into())),
    }
}
