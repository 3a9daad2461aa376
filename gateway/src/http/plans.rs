//! `/api/v1/mv/plans`: the site's M&V plans with their savings guarantee, from the results
//! the gateway's maintenance stores (see `mv::plan_eval`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{bad_request, with_store, ApiError, ApiQuery, AppState};
use crate::mv::guarantee::plan_status;

#[derive(Deserialize)]
pub(super) struct PlanParams {
    /// `json` (default) or `html`.
    format: Option<String>,
    /// The HTML report's language (`en`, `zh-TW`); the site's by default.
    lang: Option<String>,
}

/// Every plan with its contract years and latest status (without the monthly rows).
pub(super) async fn list(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let assets = state.assets.clone();
    let plans = with_store(state, move |s| {
        assets
            .plans
            .iter()
            .map(|p| {
                let mut status = plan_status(s, p)?;
                status.months.clear();
                Ok(status)
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(Json(serde_json::json!({ "plans": plans })).into_response())
}

/// One plan: year by year and month by month, as JSON or the HTML report.
pub(super) async fn one(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PlanParams>,
) -> Result<Response, ApiError> {
    let html = match q.format.as_deref() {
        None | Some("json") => false,
        Some("html") => true,
        Some(f) => return Ok(bad_request(format!("`format`: `{f}` is not json or html"))),
    };
    let lang = match crate::i18n::pick(q.lang.as_deref(), Some(state.language)) {
        Ok(l) => l,
        Err(e) => return Ok(bad_request(format!("`lang`: {e}"))),
    };
    let Some(plan) = state.assets.plans.iter().find(|p| p.id == id).cloned() else {
        let known: Vec<&str> = state.assets.plans.iter().map(|p| p.id.as_str()).collect();
        return Ok((
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({
                "error": format!("no M&V plan `{id}` (plans: {})", known.join(", "))
            })),
        )
            .into_response());
    };
    let status = with_store(state, move |s| plan_status(s, &plan)).await?;
    Ok(if html {
        (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            crate::mv::plan_html::render(&status, lang),
        )
            .into_response()
    } else {
        Json(status).into_response()
    })
}
