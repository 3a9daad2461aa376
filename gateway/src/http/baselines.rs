//! `/api/v1/baselines`: saved energy baselines (see `baseline/`): list, save (fitted on a
//! reader, written by the store's writer thread), track one by month, delete.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{bad_request, with_store, ApiError, ApiQuery, AppState};
use crate::baseline::{self, BaselineError, Record, SaveRequest};

fn status(code: StatusCode, msg: String) -> Response {
    (code, Json(serde_json::json!({ "error": msg }))).into_response()
}

fn failed(e: BaselineError) -> Result<Response, ApiError> {
    match e {
        BaselineError::Input(m) => Ok(bad_request(m)),
        BaselineError::Invalid(m) => Ok(bad_request(m.en())),
        BaselineError::Store(e) => Err(ApiError(e.to_string())),
    }
}

pub(super) async fn list(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let rows = with_store(state, |s| s.baselines()).await?;
    let recs: Result<Vec<Record>, _> = rows.iter().map(Record::from_row).collect();
    match recs {
        Ok(r) => Ok(Json(serde_json::json!({ "baselines": r })).into_response()),
        Err(e) => failed(e),
    }
}

pub(super) async fn save(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: SaveRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return Ok(bad_request(format!(
                "body: {e} (send {{\"name\": \"…\", \"asset\": \"…\", \"from\": \"2025-01-01\", \"to\": \"2025-12-31\"}})"
            )))
        }
    };
    let Some(writer) = state.writer.clone() else {
        return Ok(status(
            StatusCode::SERVICE_UNAVAILABLE,
            "this API serves no store writer: baselines cannot be saved here".into(),
        ));
    };
    let assets = state.assets.clone();
    let now = chrono::Utc::now().timestamp_millis();
    let replace = req.replace;
    let fitted = with_store(state, move |s| Ok(baseline::fit(s, &assets, &req, now))).await?;
    let rec = match fitted {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    let row = rec.to_row(now);
    let stored = writer
        .call(move |s| s.put_baseline(&row, replace))
        .await
        .map_err(|e| ApiError(e.to_string()))?;
    if !stored {
        return Ok(status(
            StatusCode::CONFLICT,
            format!(
                "a baseline `{}` exists: choose another name, or send \"replace\": true",
                rec.name
            ),
        ));
    }
    Ok((StatusCode::CREATED, Json(rec)).into_response())
}

#[derive(Deserialize)]
pub(super) struct ShowParams {
    /// Track up to this instant (RFC 3339 or a plant-local date; default now).
    to: Option<String>,
    /// The target's calendar year (default: the last one tracked).
    year: Option<i32>,
}

pub(super) async fn show(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<ShowParams>,
) -> Result<Response, ApiError> {
    let assets = state.assets.clone();
    let to = match q.to.as_deref() {
        Some(t) => match crate::when::instant(t, assets.timezone) {
            Ok(t) => t.timestamp_millis(),
            Err(e) => return Ok(bad_request(format!("`to`: {e}"))),
        },
        None => chrono::Utc::now().timestamp_millis(),
    };
    if q.year.is_some_and(|y| !(1..=9999).contains(&y)) {
        return Ok(bad_request("`year`: 1 to 9999".into()));
    }
    let answer = with_store(state, move |s| {
        let Some(row) = s.baseline(&name)? else {
            return Ok(Err(None));
        };
        Ok(Record::from_row(&row)
            .and_then(|rec| baseline::track(s, &assets, &rec, to, q.year))
            .map_err(Some))
    })
    .await?;
    match answer {
        Ok(t) => Ok(Json(t).into_response()),
        Err(None) => Ok(status(StatusCode::NOT_FOUND, "no such baseline".into())),
        Err(Some(e)) => failed(e),
    }
}

pub(super) async fn delete(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let Some(writer) = state.writer.clone() else {
        return Ok(status(
            StatusCode::SERVICE_UNAVAILABLE,
            "this API serves no store writer: baselines cannot be deleted here".into(),
        ));
    };
    let gone = writer
        .call(move |s| s.delete_baseline(&name))
        .await
        .map_err(|e| ApiError(e.to_string()))?;
    Ok(if gone {
        StatusCode::NO_CONTENT.into_response()
    } else {
        status(StatusCode::NOT_FOUND, "no such baseline".into())
    })
}
