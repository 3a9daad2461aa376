//! `/api/v1/reports`: the monthly energy-management report and the annual GHG summary made
//! on request (HTML, or PDF printed by Chromium off the async workers).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{bad_request, with_store, ApiError, ApiQuery, AppState};
use crate::report::{self, Format, Kind, ReportError, Request};

#[derive(Deserialize)]
pub(super) struct MonthlyParams {
    /// `2026-11`; default: last month at the plant.
    month: Option<String>,
    lang: Option<String>,
    /// `html` (default) or `pdf`.
    format: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct GhgParams {
    /// `2026`; default: last year at the plant.
    year: Option<String>,
    lang: Option<String>,
    format: Option<String>,
}

pub(super) async fn monthly(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<MonthlyParams>,
) -> Result<Response, ApiError> {
    let period = q.month.unwrap_or_else(|| {
        report::previous_month(chrono::Utc::now(), state.assets.timezone)
            .format("%Y-%m")
            .to_string()
    });
    make(state, Kind::Monthly, period, q.lang, q.format).await
}

pub(super) async fn ghg(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<GhgParams>,
) -> Result<Response, ApiError> {
    let period = q.year.unwrap_or_else(|| {
        use chrono::Datelike;
        (chrono::Utc::now()
            .with_timezone(&state.assets.timezone)
            .year()
            - 1)
        .to_string()
    });
    make(state, Kind::Ghg, period, q.lang, q.format).await
}

/// The request a query names, or the 400's message.
pub(super) fn request(
    state: &AppState,
    kind: Kind,
    period: String,
    lang: Option<&str>,
    format: Option<&str>,
) -> Result<Request, String> {
    let lang = crate::i18n::pick(lang, Some(state.language)).map_err(|e| format!("`lang`: {e}"))?;
    let format = Format::parse(format.unwrap_or("html")).map_err(|e| format!("`format`: {e}"))?;
    // Checked here so a bad period is a 400 before any work.
    let checked = match kind {
        Kind::Monthly => report::parse_month(&period).map(|_| ()),
        Kind::Ghg => report::parse_year(&period).map(|_| ()),
    };
    if let Err(e) = checked {
        let name = if kind == Kind::Monthly {
            "month"
        } else {
            "year"
        };
        return Err(format!("`{name}`: {e}"));
    }
    Ok(Request {
        kind,
        period,
        lang,
        format,
    })
}

/// Gathers, renders and (for PDF) prints one report: the body and its content type, or the
/// answer to give instead.
pub(super) async fn produce(
    state: Arc<AppState>,
    req: Request,
) -> Result<Result<Vec<u8>, Response>, ApiError> {
    let (assets, review) = (state.assets.clone(), state.review.clone());
    let name = state.site_name.clone();
    let r = req.clone();
    let html = with_store(state, move |s| {
        Ok(report::html(
            s,
            &assets,
            &review,
            &name,
            &r,
            chrono::Utc::now(),
        ))
    })
    .await?;
    let html = match html {
        Ok(h) => h,
        Err(ReportError::Input(m)) => return Ok(Err(bad_request(m))),
        Err(ReportError::Store(e)) => return Err(ApiError(e.to_string())),
    };
    match req.format {
        Format::Html => Ok(Ok(html.into_bytes())),
        Format::Pdf => match report::pdf::print(&html, report::pdf::TIMEOUT).await {
            Ok(pdf) => Ok(Ok(pdf)),
            Err(e) => Ok(Err((
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "error": e.to_string() })),
            )
                .into_response())),
        },
    }
}

async fn make(
    state: Arc<AppState>,
    kind: Kind,
    period: String,
    lang: Option<String>,
    format: Option<String>,
) -> Result<Response, ApiError> {
    let req = match request(&state, kind, period, lang.as_deref(), format.as_deref()) {
        Ok(r) => r,
        Err(msg) => return Ok(bad_request(msg)),
    };
    let body = match produce(state, req.clone()).await? {
        Ok(b) => b,
        Err(resp) => return Ok(resp),
    };
    Ok((
        [
            (header::CONTENT_TYPE, req.format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "inline; filename=\"{}-{}-{}.{}\"",
                    kind.code(),
                    req.period,
                    req.lang.tag(),
                    req.format.code()
                ),
            ),
        ],
        body,
    )
        .into_response())
}

/// Stored reports (made on the schedule or by `POST`), newest period first.
pub(super) async fn list(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let rows = with_store(state, |s| s.reports(500)).await?;
    let reports: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|r| {
            let url = format!("/api/v1/reports/{}", r.id);
            let mut v = serde_json::to_value(&r).unwrap_or_default();
            v["url"] = url.into();
            v["created_at"] = crate::report::utc(r.created_at).to_rfc3339().into();
            v
        })
        .collect();
    Ok(Json(serde_json::json!({ "reports": reports })).into_response())
}

/// One stored report's file.
pub(super) async fn one(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let Ok(id) = id.parse::<i64>() else {
        return Ok(bad_request(format!("`{id}` is not a report id")));
    };
    let Some((row, body)) = with_store(state, move |s| s.report(id)).await? else {
        return Ok((
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": format!("no stored report {id}") })),
        )
            .into_response());
    };
    let ct = Format::parse(&row.format).map_or("application/octet-stream", Format::content_type);
    Ok((
        [
            (header::CONTENT_TYPE, ct.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "inline; filename=\"{}-{}-{}.{}\"",
                    row.kind, row.period, row.lang, row.format
                ),
            ),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
pub(super) struct Generate {
    /// `monthly` or `ghg`.
    kind: String,
    /// `2026-11` for monthly, `2026` for ghg.
    period: String,
    lang: Option<String>,
    /// `pdf` (default) or `html`.
    format: Option<String>,
}

/// Makes a report now and stores it (replacing one of the same kind, period, language and
/// format): the dashboard's generate button.
pub(super) async fn generate(
    State(state): State<Arc<AppState>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let g: Generate = match serde_json::from_slice(&body) {
        Ok(g) => g,
        Err(e) => {
            return Ok(bad_request(format!(
                "body: {e} (send {{\"kind\": \"monthly\", \"period\": \"2026-11\", \"lang\": \"zh-TW\", \"format\": \"pdf\"}})"
            )))
        }
    };
    let kind = match g.kind.as_str() {
        "monthly" => Kind::Monthly,
        "ghg" => Kind::Ghg,
        other => {
            return Ok(bad_request(format!(
                "`kind`: `{other}` is not monthly or ghg"
            )))
        }
    };
    let req = match request(
        &state,
        kind,
        g.period,
        g.lang.as_deref(),
        Some(g.format.as_deref().unwrap_or("pdf")),
    ) {
        Ok(r) => r,
        Err(msg) => return Ok(bad_request(msg)),
    };
    let Some(writer) = state.writer.clone() else {
        return Ok((
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": "this API serves no store writer: reports cannot be stored here" })),
        )
            .into_response());
    };
    let body = match produce(state, req.clone()).await? {
        Ok(b) => b,
        Err(resp) => return Ok(resp),
    };
    let created_at = chrono::Utc::now().timestamp_millis();
    let r = req.clone();
    let id = writer
        .call(move |s| {
            s.put_report(&crate::store::NewReport {
                kind: r.kind.code(),
                period: &r.period,
                lang: r.lang.tag(),
                format: r.format.code(),
                trigger: "request",
                created_at,
                body: &body,
            })
        })
        .await
        .map_err(|e| ApiError(e.to_string()))?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "id": id,
            "kind": req.kind.code(),
            "period": req.period,
            "lang": req.lang.tag(),
            "format": req.format.code(),
            "url": format!("/api/v1/reports/{id}"),
        })),
    )
        .into_response())
}
