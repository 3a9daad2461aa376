//! `/api/v1/alarms`: active alarms and their recent history, and acknowledgement.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{bad_request, with_store, ApiError, ApiQuery, AppState};
use crate::alarms::AckError;
use crate::store::{AlarmFilter, AlarmRow};

/// History listed by default: the last week (active alarms whatever their age).
const DEFAULT_SINCE_DAYS: i64 = 7;
const MAX_ROWS: usize = 1000;

#[derive(Deserialize)]
pub(super) struct ListParams {
    /// `active` (raised or acknowledged), `raised`, `acknowledged` or `cleared`.
    state: Option<String>,
    /// RFC 3339: occurrences raised since then (active ones always).
    since: Option<String>,
    /// The language of each alarm's `text` (`en`, `zh-TW`); the site's by default.
    lang: Option<String>,
}

#[derive(Serialize)]
struct AlarmList {
    alarms: Vec<Listed>,
}

/// A stored occurrence with its message in the asked language.
#[derive(Serialize)]
struct Listed {
    #[serde(flatten)]
    row: AlarmRow,
    /// `message` in the asked language (an occurrence stored before messages had keys: its
    /// English).
    text: String,
}

pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<Response, ApiError> {
    if let Some(s) = &q.state {
        if !matches!(s.as_str(), "active" | "raised" | "acknowledged" | "cleared") {
            return Ok(bad_request(format!(
                "`state`: `{s}` is not active, raised, acknowledged or cleared"
            )));
        }
    }
    let lang = match crate::i18n::pick(q.lang.as_deref(), Some(state.language)) {
        Ok(l) => l,
        Err(e) => return Ok(bad_request(format!("`lang`: {e}"))),
    };
    let since = match q.since.as_deref() {
        Some(t) => match crate::when::rfc3339(t) {
            Ok(t) => t.timestamp_millis(),
            Err(e) => return Ok(bad_request(format!("`since`: {e}"))),
        },
        None => (Utc::now() - chrono::Duration::days(DEFAULT_SINCE_DAYS)).timestamp_millis(),
    };
    let filter = AlarmFilter {
        state: q.state,
        since: Some(since),
        limit: MAX_ROWS,
    };
    let rows = with_store(state, move |s| s.alarms(&filter)).await?;
    let alarms = rows
        .into_iter()
        .map(|row| Listed {
            text: crate::i18n::stored_or(row.message_key.as_ref(), &row.message, lang),
            row,
        })
        .collect();
    Ok(Json(AlarmList { alarms }).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    by: String,
    note: Option<String>,
}

pub(super) async fn ack(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body: AckBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return bad_request(format!(
                "body: {e} (send {{\"by\": \"…\", \"note\": \"…\"}})"
            ))
        }
    };
    let by = body.by.trim();
    if by.is_empty() || by.chars().count() > 200 {
        return bad_request("`by`: who acknowledges, 1-200 characters".into());
    }
    if body.note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return bad_request("`note`: at most 2000 characters".into());
    }
    let (status, what) = match state.alarms.ack(&id, by, body.note).await {
        Ok(row) => return Json(row).into_response(),
        Err(e @ AckError::NotFound(_)) => (StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ AckError::Already(_)) => (StatusCode::CONFLICT, e.to_string()),
        Err(e @ AckError::Unavailable) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        Err(e @ AckError::Store(_)) => {
            tracing::error!("API error: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
    };
    (status, Json(serde_json::json!({ "error": what }))).into_response()
}
