//! `/api/v1/contract/optimise`: the contract capacities minimising the demand charges of the
//! twelve whole months before `to` (see `crate::contract`), the `contract optimise` command's
//! answer.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{bad_request, with_store, ApiError, ApiQuery, AppState};

#[derive(Deserialize)]
pub(super) struct OptimiseParams {
    to: Option<String>,
    /// Answer 200 `{"months": [], "no_months": true}` instead of 400 when no whole month is
    /// stored yet (the dashboard asks so: a young store is not an error to it).
    #[serde(default)]
    allow_empty: bool,
}

pub(super) async fn optimise(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<OptimiseParams>,
) -> Result<Response, ApiError> {
    let tz = state.assets.timezone;
    let to = match q
        .to
        .as_deref()
        .map(|t| crate::when::instant(t, tz))
        .transpose()
    {
        Ok(t) => t.unwrap_or_else(chrono::Utc::now).timestamp_millis(),
        Err(e) => return Ok(bad_request(format!("`to`: {e}"))),
    };
    let assets = state.assets.clone();
    let for_store = assets.clone();
    let range = crate::contract::last_year(tz, to);
    let months = with_store(state, move |s| {
        crate::contract::months_from_store(s, &for_store, range)
    })
    .await?;
    let (Some(months), Some(tariff)) = (months, &assets.tariff) else {
        return Ok(bad_request(
            "the site needs a tariff (site.tariff) and a plant asset (type = \"plant\")".into(),
        ));
    };
    match crate::contract::optimise(tariff, months, assets.contracts.as_ref()) {
        Ok(o) => Ok(Json(o).into_response()),
        // A code the dashboard can say in the reader's language (a young store has no whole
        // month yet: not a failure).
        Err(crate::contract::OptimiseError::NoMonths) if q.allow_empty => {
            Ok(Json(serde_json::json!({ "months": [], "no_months": true })).into_response())
        }
        Err(e @ crate::contract::OptimiseError::NoMonths) => Ok((
            axum::http::StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": e.to_string(), "code": "no_months" })),
        )
            .into_response()),
        Err(e) => Ok(bad_request(e.to_string())),
    }
}
