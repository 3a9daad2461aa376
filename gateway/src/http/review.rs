//! `/api/v1/review`: the energy review of a period (see `crate::review`), the `review`
//! command's answer.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{bad_request, local_range, with_store, ApiError, ApiQuery, AppState};

#[derive(Deserialize)]
pub(super) struct ReviewParams {
    from: Option<String>,
    to: Option<String>,
}

/// The uses of `[from, to)` (plant-local dates or RFC 3339; by default the last day) ranked,
/// with their shares, the significant ones flagged, their drivers and EnPIs.
pub(super) async fn review(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<ReviewParams>,
) -> Result<Response, ApiError> {
    let (from, to) = match local_range(state.assets.timezone, q.from.as_deref(), q.to.as_deref()) {
        Ok(r) => r,
        Err(e) => return Ok(bad_request(e)),
    };
    let (site, assets) = (state.review.clone(), state.assets.clone());
    let review = with_store(state, move |s| {
        crate::review::review(
            s,
            &site,
            &assets,
            from.timestamp_millis(),
            to.timestamp_millis(),
        )
    })
    .await?;
    Ok(Json(review).into_response())
}
