//! `/api/v1/demand-response/events`: demand-response events (see `crate::dr`): list them with
//! their verification, show one, add one (stored by the writer). Every read verifies the
//! events on the store's current data and stores results that changed (late data).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kilowatch_site::config::DrEvent;

use super::{bad_request, with_store, ApiError, AppState};
use crate::dr::{self, Verification};
use crate::store::DrRow;

const NEEDS: &str = "the site needs a plant asset (type = \"plant\")";

fn status(code: StatusCode, msg: String) -> Response {
    (code, Json(serde_json::json!({ "error": msg }))).into_response()
}

/// Every event verified, with changed results stored. `None`: no plant asset.
async fn verified(state: Arc<AppState>) -> Result<Option<Vec<Verification>>, ApiError> {
    let assets = state.assets.clone();
    let writer = state.writer.clone();
    let now = chrono::Utc::now().timestamp_millis();
    let Some((rows, v)) = with_store(state, move |s| dr::verify_stored(s, &assets, now)).await?
    else {
        return Ok(None);
    };
    let changed = dr::changed_results(&rows, &v);
    if let (Some(w), false) = (writer, changed.is_empty()) {
        w.call(move |s| s.save_dr_results(&changed, now))
            .await
            .map_err(|e| ApiError(e.to_string()))?;
    }
    Ok(Some(v))
}

pub(super) async fn list(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    match verified(state).await? {
        Some(v) => Ok(Json(serde_json::json!({ "events": v })).into_response()),
        None => Ok(bad_request(NEEDS.into())),
    }
}

pub(super) async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Some(v) = verified(state).await? else {
        return Ok(bad_request(NEEDS.into()));
    };
    match v.into_iter().find(|v| v.event.id == id) {
        Some(v) => Ok(Json(v).into_response()),
        None => Ok(status(
            StatusCode::NOT_FOUND,
            format!("no demand-response event `{id}`"),
        )),
    }
}

const EXAMPLE: &str = "{\"id\": \"2026-07-01-a\", \"date\": \"2026-07-01\", \"start\": \"13:00\", \
\"end\": \"15:00\", \"committed_kw\": 50}";

pub(super) async fn add(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    // The path names the bad field (`date`, `committed_kw`) as the site file's errors do.
    let de = &mut serde_json::Deserializer::from_slice(&body);
    let event: DrEvent = match serde_path_to_error::deserialize(de) {
        Ok(e) => e,
        Err(e) => {
            let path = e.path().to_string();
            let at = if path == "." {
                "body".to_owned()
            } else {
                format!("`{path}`")
            };
            return Ok(bad_request(format!(
                "{at}: {} (send {EXAMPLE})",
                e.into_inner()
            )));
        }
    };
    if let Err(e) = event.check() {
        return Ok(bad_request(e.to_string()));
    }
    if dr::incomers_missing(&state.assets) {
        return Ok(bad_request(NEEDS.into()));
    }
    if state
        .assets
        .demand_response
        .iter()
        .any(|e| e.id == event.id)
    {
        return Ok(status(
            StatusCode::CONFLICT,
            format!("`id`: `{}` is an event of the site file", event.id),
        ));
    }
    let Some(writer) = state.writer.clone() else {
        return Ok(status(
            StatusCode::SERVICE_UNAVAILABLE,
            "this API serves no store writer: events cannot be added here".into(),
        ));
    };
    let row = DrRow {
        id: event.id.clone(),
        source: dr::API.into(),
        event: serde_json::to_string(&event).map_err(|e| ApiError(e.to_string()))?,
        created_at: chrono::Utc::now().timestamp_millis(),
        result: None,
        computed_at: None,
    };
    let added = writer
        .call(move |s| s.add_dr_event(&row))
        .await
        .map_err(|e| ApiError(e.to_string()))?;
    if !added {
        return Ok(status(
            StatusCode::CONFLICT,
            format!("`id`: an event `{}` exists", event.id),
        ));
    }
    let id = event.id.clone();
    let v = verified(state).await?.unwrap_or_default();
    match v.into_iter().find(|v| v.event.id == id) {
        Some(v) => Ok((StatusCode::CREATED, Json(v)).into_response()),
        None => Err(ApiError(format!(
            "event `{id}` was stored but is not listed"
        ))),
    }
}
