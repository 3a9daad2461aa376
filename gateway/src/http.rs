//! The HTTP API and the live page.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::Serialize;
use thiserror::Error;
use tokio::net::TcpListener;

use crate::ingest::IngestStats;
use crate::store::{EnergyPoint, EnergySource, Live, Readers, SeriesInfo, Store};

/// The live page; its source lives with the other dashboard assets.
const LIVE_PAGE: &str = include_str!("../../dashboards/web/live.html");
// The dashboard ships inside the binary: no Node toolchain or files at run time.
const APP_HTML: &str = include_str!("../../dashboards/web/app.html");
const APP_JS: &str = include_str!("../../dashboards/web/app.js");
const APP_CSS: &str = include_str!("../../dashboards/web/app.css");
const ALARMS_JS: &str = include_str!("../../dashboards/web/alarms.js");
const UTILITIES_JS: &str = include_str!("../../dashboards/web/utilities.js");
const BASELINES_JS: &str = include_str!("../../dashboards/web/baselines.js");
const REPORTS_JS: &str = include_str!("../../dashboards/web/reports.js");
const REVIEW_JS: &str = include_str!("../../dashboards/web/review.js");
const CONTRACT_JS: &str = include_str!("../../dashboards/web/contract.js");

mod alarms;
mod baselines;
mod contract;
mod demand;
mod dr;
mod i18n;
#[cfg(test)]
mod live_tests;
mod plans;
mod query;
mod reports;
mod review;
mod status;

pub use status::LatestBody;

/// The OpenAPI document of this API, checked in beside the code.
const OPENAPI: &str = include_str!("../openapi.json");

pub struct AppState {
    pub site_name: String,
    /// Read-only connections: queries run in parallel, never behind a write.
    pub store: Arc<Readers>,
    pub ingest: Arc<IngestStats>,
    /// When set, every request needs `Authorization: Bearer <token>` (or `?token=`).
    pub token: Option<String>,
    /// InfluxDB forwarding counters (all zero without a sink).
    pub influx: Arc<crate::influx::InfluxStats>,
    /// Assets and their indicators (`[[assets]]` of the site file).
    pub assets: Arc<crate::enpi::Assets>,
    /// The writer's in-memory view: newest samples, counts, cached rollups.
    pub live: Arc<Live>,
    /// The last `/latest` answer, re-used while current.
    pub latest_body: LatestBody,
    /// The alarm engine's shared side: acknowledgements and counts.
    pub alarms: Arc<crate::alarms::Alarms>,
    /// The notification sender's counters (zero without channels).
    pub notify: Arc<crate::notify::NotifyStats>,
    /// The store's writer thread, for what the API saves (baselines); none in read-only tests.
    pub writer: Option<crate::store::StoreWriter>,
    /// The site's language (`[site] language`): the dashboard's and reports' default.
    pub language: crate::i18n::Language,
    /// The meter tree and significance rule for the energy review.
    pub review: Arc<crate::review::ReviewSite>,
}

#[derive(Serialize)]
struct SeriesResponse {
    series: Vec<SeriesInfo>,
}

/// Most points one query returns when no step is given.
const MAX_POINTS: i64 = 10_000;

/// Picks the resolution for a query: the coarsest rollup no longer than `step`, raw samples
/// below a minute; without a step, the finest that keeps the answer under [`MAX_POINTS`].
pub fn pick_resolution(span_ms: i64, step_s: Option<i64>) -> i64 {
    match step_s {
        Some(step) if step < 60 => 0,
        Some(step) => *crate::rollup::RESOLUTIONS
            .iter()
            .rev()
            .find(|&&r| r <= step)
            .unwrap_or(&60),
        None => {
            if span_ms <= 2 * 3_600_000 {
                return 0;
            }
            *crate::rollup::RESOLUTIONS
                .iter()
                .find(|&&r| span_ms / (r * 1000) <= MAX_POINTS)
                .unwrap_or(&86_400)
        }
    }
}

/// Most points a query's range divided by its step (or resolution) may come to.
pub const MAX_RANGE_POINTS: i64 = 100_000;

/// Most energy series, independent variables and non-routine adjustments one M&V request may
/// name.
pub const MAX_MV_SERIES: usize = 50;
pub const MAX_MV_VARS: usize = 20;
pub const MAX_MV_ADJUSTMENTS: usize = 100;

/// Refuses a range that would take more than [`MAX_RANGE_POINTS`] points of `per_ms` each
/// (`per_ms` 0: raw samples of a short range, not limited here).
pub fn check_points(span_ms: i64, per_ms: i64, step: Option<&str>) -> Result<(), String> {
    if per_ms <= 0 {
        return Ok(());
    }
    let points = span_ms / per_ms;
    if points <= MAX_RANGE_POINTS {
        return Ok(());
    }
    Err(match step {
        Some(step) => format!(
            "`step`: {step} over this range is {points} points, more than the limit of \
             {MAX_RANGE_POINTS}; use a longer step or a shorter range"
        ),
        None => format!(
            "the range is {points} points even at one a day, more than the limit of \
             {MAX_RANGE_POINTS}; use a shorter range"
        ),
    })
}

/// Query parameters whose rejection (a missing or malformed parameter) is a JSON 400 like
/// every other error of this API.
struct ApiQuery<T>(T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e| bad_request(e.body_text()))
    }
}

fn bad_request(msg: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": msg })),
    )
        .into_response()
}

/// Whole seconds of a step (at most a hundred years: parse_duration's limit).
fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Milliseconds per point: the step or the resolution, whichever is longer.
fn per_ms(step: Option<std::time::Duration>, res: i64) -> i64 {
    // A step under a millisecond counts as one: rounded down to 0 it would lift the limit.
    let step = step.map_or(0, |d| {
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
    });
    step.max(res.saturating_mul(1000))
}

/// The `from` and `to` parameters (RFC 3339), by default the last day; `from` before `to`.
fn range(from: Option<&str>, to: Option<&str>) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let time = |name: &str, v: Option<&str>| {
        v.map(|v| crate::when::rfc3339(v).map_err(|e| format!("`{name}`: {e}")))
            .transpose()
    };
    let to = time("to", to)?;
    let from = time("from", from)?;
    let (from, to) = crate::when::range_or_default(from, to, Utc::now());
    if from >= to {
        return Err("`from` must be before `to`".into());
    }
    Ok((from, to))
}

/// Like [`range`], also taking plant-local dates and times (`2026-10-01`, `2026-10-01 08:00`)
/// as the `enpi` command does: indicators are read by plant-local days and billing months.
fn local_range(
    tz: chrono_tz::Tz,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let time = |name: &str, v: Option<&str>| {
        v.map(|v| crate::when::instant(v, tz).map_err(|e| format!("`{name}`: {e}")))
            .transpose()
    };
    let to = time("to", to)?;
    let (from, to) = crate::when::range_or_default(time("from", from)?, to, Utc::now());
    if from >= to {
        return Err("`from` must be before `to`".into());
    }
    Ok((from, to))
}

#[derive(Deserialize)]
struct EnergyParams {
    device: String,
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
}

#[derive(Serialize)]
struct EnergyResponse {
    device: String,
    source: EnergySource,
    resolution: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    points: Vec<EnergyPoint>,
}

async fn energy(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<EnergyParams>,
) -> Result<Response, ApiError> {
    let (from, to) = match range(q.from.as_deref(), q.to.as_deref()) {
        Ok(r) => r,
        Err(e) => return Ok(bad_request(e)),
    };
    let step = match q.step.as_deref().map(crate::when::duration).transpose() {
        Ok(d) => d,
        Err(e) => return Ok(bad_request(format!("`step`: {e}"))),
    };
    let span = (to - from).num_milliseconds();
    let res = pick_resolution(span, step.map(secs)).max(60);
    if let Err(e) = check_points(span, per_ms(step, res), q.step.as_deref()) {
        return Ok(bad_request(e));
    }
    let Some((site, device)) = q.device.split_once('/') else {
        return Ok(bad_request(format!(
            "`device`: `{}` is not site/device",
            q.device
        )));
    };
    let (site, device) = (site.to_owned(), device.to_owned());
    let found = with_store(state, move |s| {
        s.energy(
            &site,
            &device,
            from.timestamp_millis(),
            to.timestamp_millis(),
            res,
        )
    })
    .await?;
    Ok(match found {
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({
                "error": format!("`{}` has neither an energy counter nor active power", q.device)
            })),
        )
            .into_response(),
        Some((source, points)) => Json(EnergyResponse {
            device: q.device,
            source,
            resolution: res,
            from,
            to,
            points,
        })
        .into_response(),
    })
}

#[derive(Deserialize)]
struct EnpiParams {
    asset: Option<String>,
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
    /// The language of `missing_said` (`en`, `zh-TW`); the site's by default.
    lang: Option<String>,
}

/// Indicators of one asset (`asset=`), or the assets and their indicators without it.
async fn enpi(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<EnpiParams>,
) -> Result<Response, ApiError> {
    let assets = state.assets.clone();
    let Some(asset) = q.asset else {
        return Ok(
            Json(serde_json::json!({ "assets": crate::enpi::list(&assets) })).into_response(),
        );
    };
    if assets.get(&asset).is_none() {
        let known: Vec<&str> = assets.list.iter().map(|a| a.id()).collect();
        return Ok((
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({
                "error": format!("no asset `{asset}` in the site file (assets: {})", known.join(", "))
            })),
        )
            .into_response());
    }
    let (from, to) = match local_range(assets.timezone, q.from.as_deref(), q.to.as_deref()) {
        Ok(r) => r,
        Err(e) => return Ok(bad_request(e)),
    };
    let span = (to - from).num_milliseconds();
    let step = match q.step.as_deref().map(crate::enpi::Step::parse).transpose() {
        Ok(s) => s.unwrap_or(crate::enpi::Step::for_span(span)),
        Err(e) => return Ok(bad_request(format!("`step`: {e}"))),
    };
    if let Err(e) = step.check_span(span) {
        return Ok(bad_request(format!("`step`: {e}")));
    }
    let lang = match crate::i18n::pick(q.lang.as_deref(), Some(state.language)) {
        Ok(l) => l,
        Err(e) => return Ok(bad_request(format!("`lang`: {e}"))),
    };
    let report = with_store(state, move |s| {
        crate::enpi::read(
            s,
            &assets,
            &asset,
            step,
            from.timestamp_millis(),
            to.timestamp_millis(),
        )
    })
    .await?;
    let Some(report) = report else {
        return Ok(Json(report).into_response());
    };
    // Each reason a value is missing, said in `lang`, keyed by the English one the rows carry.
    let said = crate::enpi::why::said(
        lang,
        report
            .rows
            .iter()
            .flat_map(|r| r.missing.values())
            .chain(report.summary.missing.values()),
    );
    let mut body = serde_json::to_value(&report).unwrap_or_default();
    body["missing_said"] = serde_json::json!(said);
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
struct MvParams {
    asset: Option<String>,
    /// Comma-separated devices.
    energy: Option<String>,
    temp: Option<String>,
    /// Comma-separated `device/quantity` series.
    var: Option<String>,
    #[serde(default)]
    no_temp: bool,
    baseline: Option<String>,
    reporting: Option<String>,
    granularity: Option<String>,
    model: Option<String>,
    /// Semicolon-separated adjustments `FROM..TO=ENERGY:REASON`.
    adjust: Option<String>,
    /// `json` (default) or `html` (the self-contained report).
    format: Option<String>,
    /// The HTML report's language (`en`, `zh-TW`); the site's by default.
    lang: Option<String>,
    /// Accept reporting conditions outside the baseline's (their uncertainty is counted).
    #[serde(default)]
    accept_extrapolation: bool,
    /// Run the placebo back-test on the baseline.
    #[serde(default)]
    placebo: bool,
}

/// Savings verification on the store's data (the `mv` command's engine).
async fn mv(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<MvParams>,
) -> Result<Response, ApiError> {
    let (Some(baseline), Some(reporting)) = (q.baseline, q.reporting) else {
        return Ok(bad_request(
            "`baseline` and `reporting` are required, e.g. baseline=2026-06-01..2026-07-31&reporting=2026-08-01..2026-08-31".into(),
        ));
    };
    let html = match q.format.as_deref() {
        None | Some("json") => false,
        Some("html") => true,
        Some(f) => return Ok(bad_request(format!("`format`: `{f}` is not json or html"))),
    };
    let lang = match crate::i18n::pick(q.lang.as_deref(), Some(state.language)) {
        Ok(l) => l,
        Err(e) => return Ok(bad_request(format!("`lang`: {e}"))),
    };
    let split = |v: Option<String>, sep: char| -> Vec<String> {
        v.map(|v| {
            v.split(sep)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
    };
    // Each listed series is loaded for both periods: a long list is a memory bill, and no
    // model takes more than a handful of drivers.
    let (energy, vars, adjust) = (
        split(q.energy, ','),
        split(q.var, ','),
        split(q.adjust, ';'),
    );
    for (name, list, max) in [
        ("energy", &energy, MAX_MV_SERIES),
        ("var", &vars, MAX_MV_VARS),
        ("adjust", &adjust, MAX_MV_ADJUSTMENTS),
    ] {
        let distinct: std::collections::HashSet<&String> = list.iter().collect();
        if distinct.len() != list.len() {
            return Ok(bad_request(format!(
                "`{name}` names a series more than once"
            )));
        }
        if list.len() > max {
            return Ok(bad_request(format!(
                "`{name}` lists {} entries, more than the limit of {max}",
                list.len()
            )));
        }
    }
    let query = crate::mv::input::StoreQuery {
        asset: q.asset,
        energy,
        temp: q.temp,
        vars,
        no_temp: q.no_temp,
    };
    let options = crate::mv::Options {
        baseline,
        reporting,
        granularity: q.granularity,
        model: q.model,
        adjust,
        temp_unit: None,
        energy_unit: None,
        holidays: Vec::new(),
        accept_extrapolation: q.accept_extrapolation,
        placebo: q.placebo,
        ..Default::default()
    };
    let assets = state.assets.clone();
    let result = with_store(state, move |s| {
        Ok(crate::mv::from_store(s, &assets, &query, &options))
    })
    .await?;
    Ok(match result {
        Ok(report) if html => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            crate::mv::html::render_in(&report, lang),
        )
            .into_response(),
        Ok(report) => Json(report).into_response(),
        Err(crate::mv::MvError::Input(e)) => bad_request(e),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
    })
}

async fn series(State(state): State<Arc<AppState>>) -> Result<Json<SeriesResponse>, ApiError> {
    let series = with_store(state, |s| s.series()).await?;
    Ok(Json(SeriesResponse { series }))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// Refuses requests without the configured token.
async fn require_token(
    State(state): State<Arc<AppState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(token) = &state.token else {
        return next.run(req).await;
    };
    let header_ok = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes()));
    let query_ok = req.uri().query().is_some_and(|q| {
        q.split('&')
            .filter_map(|kv| kv.strip_prefix("token="))
            .any(|t| constant_time_eq(t.as_bytes(), token.as_bytes()))
    });
    if header_ok || query_ok {
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(serde_json::json!({ "error": "missing or wrong access token" })),
        )
            .into_response()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

struct ApiError(String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        tracing::error!("API error: {}", self.0);
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({ "error": self.0 })),
        )
            .into_response()
    }
}

async fn with_store<T: Send + 'static>(
    state: Arc<AppState>,
    f: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    state
        .store
        .read(f)
        .await
        .map_err(|e| ApiError(e.to_string()))
}

async fn index() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-cache")], Html(LIVE_PAGE))
}

fn script(src: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        src,
    )
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/api/v1/latest", get(status::latest))
        .route("/api/v1/health", get(status::health))
        .route("/api/v1/series", get(series))
        .route("/api/v1/query", get(query::query))
        .route("/api/v1/energy", get(energy))
        .route("/api/v1/enpi", get(enpi))
        .route("/api/v1/review", get(review::review))
        .route("/api/v1/contract/optimise", get(contract::optimise))
        .route("/api/v1/demand/profile", get(demand::profile))
        .route("/api/v1/demand/events", get(demand::events))
        .route("/api/v1/demand/shave", get(demand::shave))
        .route(
            "/api/v1/demand-response/events",
            get(dr::list).post(dr::add),
        )
        .route("/api/v1/demand-response/events/{id}", get(dr::show))
        .route("/api/v1/mv", get(mv))
        .route("/api/v1/mv/plans", get(plans::list))
        .route("/api/v1/mv/plans/{id}", get(plans::one))
        .route(
            "/api/v1/baselines",
            get(baselines::list).post(baselines::save),
        )
        .route(
            "/api/v1/baselines/{name}",
            get(baselines::show).delete(baselines::delete),
        )
        .route(
            "/api/v1/reports",
            get(reports::list).post(reports::generate),
        )
        .route("/api/v1/reports/{id}", get(reports::one))
        .route("/api/v1/reports/monthly", get(reports::monthly))
        .route("/api/v1/reports/ghg", get(reports::ghg))
        .route("/api/v1/alarms", get(alarms::list))
        .route("/api/v1/alarms/{id}/ack", post(alarms::ack))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/i18n", get(i18n::languages))
        .route("/api/v1/i18n/{lang}", get(i18n::messages))
        .route(
            "/metrics",
            get(|State(state): State<Arc<AppState>>| async move {
                (
                    [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
                    crate::metrics::render(&state.ingest)
                        + &state.alarms.metrics()
                        + &state.notify.render(),
                )
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        // The dashboard's files hold no data and cannot carry the token in their URLs (the
        // page loads them by name): served to anyone; every API call they make needs it.
        .route(
            "/dashboard/",
            get(|| async { ([(header::CACHE_CONTROL, "no-cache")], Html(APP_HTML)) }),
        )
        .route(
            "/dashboard",
            get(|| async { axum::response::Redirect::permanent("/dashboard/") }),
        )
        .route("/dashboard/app.js", get(|| async { script(APP_JS) }))
        .route("/dashboard/alarms.js", get(|| async { script(ALARMS_JS) }))
        .route(
            "/dashboard/baselines.js",
            get(|| async { script(BASELINES_JS) }),
        )
        .route(
            "/dashboard/reports.js",
            get(|| async { script(REPORTS_JS) }),
        )
        .route(
            "/dashboard/utilities.js",
            get(|| async { script(UTILITIES_JS) }),
        )
        .route("/dashboard/review.js", get(|| async { script(REVIEW_JS) }))
        .route(
            "/dashboard/contract.js",
            get(|| async { script(CONTRACT_JS) }),
        )
        .route(
            "/dashboard/app.css",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    APP_CSS,
                )
            }),
        )
        .with_state(state)
}

#[derive(Debug, Error)]
pub enum BindError {
    #[error("HTTP address {addr} is already in use (is another kilowatch or web server running?); choose another with --http, e.g. --http 127.0.0.1:{next}")]
    InUse { addr: SocketAddr, next: u16 },
    #[error("cannot listen on {addr}: {source}")]
    Other {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Binds the HTTP listener, turning the common failure into advice.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(addr).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            BindError::InUse {
                addr,
                next: addr.port().wrapping_add(1).max(1024),
            }
        } else {
            BindError::Other { addr, source }
        }
    })
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_follows_step_and_span() {
        assert_eq!(pick_resolution(3_600_000, Some(10)), 0);
        assert_eq!(pick_resolution(3_600_000, Some(60)), 60);
        assert_eq!(pick_resolution(86_400_000, Some(1800)), 900);
        assert_eq!(pick_resolution(86_400_000, Some(7200)), 3600);
        assert_eq!(pick_resolution(86_400_000, Some(86_400 * 7)), 86_400);
        assert_eq!(pick_resolution(3_600_000, None), 0);
        assert_eq!(pick_resolution(86_400_000, None), 60);
        assert_eq!(pick_resolution(365 * 86_400_000, None), 3600);
        assert_eq!(pick_resolution(10 * 365 * 86_400_000, None), 86_400);
    }

    /// A gateway API on a fresh store with the demo site's assets, served on a loopback port
    /// from its own runtime thread for the life of the test binary.
    fn api() -> SocketAddr {
        static ADDR: std::sync::OnceLock<SocketAddr> = std::sync::OnceLock::new();
        *ADDR.get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("kw-http-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let profiles = kilowatch_site::profile::ProfileLibrary::builtin();
            let site =
                kilowatch_site::config::SiteConfig::parse(crate::DEMO_SITE, "demo", &profiles)
                    .unwrap();
            let state = Arc::new(AppState {
                site_name: "t".into(),
                store: {
                    drop(Store::open(&dir.join("t.db")).unwrap());
                    Arc::new(Readers::open(&dir.join("t.db"), 2).unwrap())
                },
                ingest: Arc::default(),
                token: None,
                influx: Arc::default(),
                assets: Arc::new(crate::enpi::Assets::from_site(&site, "demo").unwrap()),
                live: Arc::default(),
                latest_body: Default::default(),
                notify: Arc::default(),
                writer: None,
                language: crate::i18n::Language::TraditionalChinese,
                review: Arc::new(crate::review::ReviewSite::for_site(&site)),
                // The engine's loop is not run here: acknowledgements answer 503.
                alarms: crate::alarms::Alarms::new(
                    &site,
                    &crate::enpi::Assets::from_site(&site, "demo").unwrap(),
                    "demo",
                )
                .unwrap()
                .0,
            });
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            listener.set_nonblocking(true).unwrap();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Runtime::new().unwrap();
                rt.block_on(async move {
                    let listener = TcpListener::from_std(listener).unwrap();
                    serve(listener, state, std::future::pending())
                        .await
                        .unwrap();
                });
            });
            addr
        })
    }

    /// GET `target` (path and query, sent as given): status and body. A handler that panicked
    /// would close the connection without a status line.
    fn get(target: &str) -> (u16, String) {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(api()).unwrap();
        write!(
            c,
            "GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        let status = out
            .strip_prefix("HTTP/1.1 ")
            .and_then(|r| r.get(..3))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line for {target}: {out:?}"));
        let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
        (status, body)
    }

    fn error_of(target: &str) -> String {
        let (status, body) = get(target);
        assert_eq!(status, 400, "{target}: {body}");
        let v: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{target}: {e}: {body}"));
        v["error"].as_str().unwrap().to_owned()
    }

    #[test]
    fn enpi_takes_plant_local_dates_like_the_cli_and_says_when_it_widens_the_range() {
        let (status, body) = get("/api/v1/enpi?asset=plant&from=2026-10-15&to=2026-11-01&step=1mo");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        // 2026-10-15 00:00 in Asia/Taipei.
        assert_eq!(v["from"], "2026-10-14T16:00:00Z", "{v}");
        let warnings = v["warnings"].to_string();
        assert!(warnings.contains("2026-10-01"), "{warnings}");
        let (status, body) =
            get("/api/v1/enpi?asset=chiller&from=2026-10-01%2008:00&to=2026-10-02");
        assert_eq!(status, 200, "{body}");
        let e = error_of("/api/v1/enpi?asset=plant&from=yesterday");
        assert!(e.contains("`from`"), "{e}");
    }

    #[test]
    fn enpi_takes_a_language_for_its_reasons() {
        let target = "/api/v1/enpi?asset=plant&from=2026-10-01&to=2026-10-02&step=1h";
        let (status, body) = get(&format!("{target}&lang=zh-TW"));
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(v["missing_said"].is_object(), "{v}");
        assert!(error_of(&format!("{target}&lang=xx")).contains("`lang`"));
    }

    #[test]
    fn the_catalogue_is_served_in_the_sites_language_and_each_other() {
        let (status, body) = get("/api/v1/i18n");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["default"], "zh-TW", "{v}");
        assert_eq!(v["languages"][1]["name"], "繁體中文", "{v}");
        let (status, body) = get("/api/v1/i18n/zh_TW");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["lang"], "zh-TW");
        assert_eq!(v["messages"]["tile-contract"], "契約容量", "{v}");
        assert_eq!(v["messages"]["plant-contract-line"], "契約容量 {$kw} kW");
        let (status, body) = get("/api/v1/i18n/fr");
        assert_eq!(status, 404, "{body}");
        assert!(body.contains("zh-TW"), "{body}");
        let e = error_of("/api/v1/mv?asset=plant&baseline=2026-01-01..2026-02-01&reporting=2026-02-01..2026-03-01&format=html&lang=klingon");
        assert!(e.contains("`lang`"), "{e}");
    }

    #[test]
    fn review_lists_the_demo_tree_on_an_empty_store_and_says_so() {
        let (status, body) = get("/api/v1/review?from=2026-10-01&to=2026-10-02%2006:00");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        // Plant-local dates and times in Asia/Taipei.
        assert_eq!(v["from"], "2026-09-30T16:00:00Z", "{v}");
        assert_eq!(v["to"], "2026-10-01T22:00:00Z", "{v}");
        assert_eq!(v["unit"], "kWh");
        assert_eq!(v["rule"]["cumulative_percent"], 80.0, "{v}");
        let uses = v["uses"].as_array().unwrap();
        let ids: Vec<&str> = uses.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert!(
            ids.contains(&"compressor-1") && ids.contains(&"incomer (unmetered)"),
            "{v}"
        );
        // Nothing stored: nothing significant, and the notes say why.
        assert!(uses.iter().all(|u| u["significant"] == false), "{v}");
        assert_eq!(v["total_kwh"], 0.0, "{v}");
        let notes = v["notes"].to_string();
        assert!(notes.contains("incomer: no energy stored"), "{notes}");
        let e = error_of("/api/v1/review?from=last%20week");
        assert!(e.starts_with("`from`: `last week` is not a time"), "{e}");
    }

    #[test]
    fn contract_optimisation_says_why_an_empty_store_has_no_answer() {
        let e = error_of("/api/v1/contract/optimise?to=2026-12-01");
        assert_eq!(e, "no months of demand to optimise over");
        let e = error_of("/api/v1/contract/optimise?to=soon");
        assert!(e.starts_with("`to`: `soon` is not a time"), "{e}");
    }

    #[test]
    fn mv_plans_are_listed_and_reported() {
        let (status, body) = get("/api/v1/mv/plans");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let plan = &v["plans"][0];
        assert_eq!(plan["id"], "chiller-retrofit", "{v}");
        assert_eq!(plan["guarantee"]["percent"], 10.0, "{v}");
        // An empty store: nothing evaluated, nothing claimed.
        assert_eq!(plan["status"], "pending", "{v}");
        assert_eq!(plan["years"].as_array().unwrap().len(), 2, "{v}");
        let (status, html) = get("/api/v1/mv/plans/chiller-retrofit?format=html");
        assert_eq!(status, 200);
        assert!(html.contains("保證節能") && html.contains("Chiller retrofit guarantee"));
        let (status, body) = get("/api/v1/mv/plans/nope");
        assert_eq!(status, 404, "{body}");
        assert!(body.contains("chiller-retrofit"), "{body}");
        let e = error_of("/api/v1/mv/plans/chiller-retrofit?format=xml");
        assert!(e.contains("not json or html"), "{e}");
    }

    #[test]
    fn overlong_steps_and_ranges_are_400s_with_a_reason() {
        let s = "series=demo-plant/incomer/active_power";
        let e = error_of(&format!("/api/v1/query?{s}&step=999999999999999d"));
        assert!(
            e.starts_with("`step`: `999999999999999d` is too long"),
            "{e}"
        );
        let e = error_of("/api/v1/energy?device=demo-plant/incomer&step=999999999999999d");
        assert!(e.contains("too long"), "{e}");
        let all = "from=0001-01-01T00:00:00Z&to=9999-12-31T00:00:00Z";
        let e = error_of(&format!("/api/v1/query?{s}&{all}&step=1s"));
        assert!(e.contains("limit of 100000"), "{e}");
        let e = error_of(&format!("/api/v1/query?{s}&{all}"));
        assert!(e.contains("limit of 100000"), "{e}");
        let many = vec!["incomer/active_power"; 3000].join(",");
        let e = error_of(&format!("/api/v1/mv?asset=plant&var={many}&baseline=2026-01-01..2026-02-01&reporting=2026-02-01..2026-03-01"));
        assert!(e.contains("more than once"), "{e}");
        let many: Vec<String> = (0..21).map(|i| format!("incomer/q{i}")).collect();
        let e = error_of(&format!("/api/v1/mv?asset=plant&var={}&baseline=2026-01-01..2026-02-01&reporting=2026-02-01..2026-03-01", many.join(",")));
        assert!(e.contains("limit of 20"), "{e}");
        // A step under a millisecond does not lift the limit.
        for tiny in ["0.5ms", "0.000001ms"] {
            let e = error_of(&format!("/api/v1/query?{s}&{all}&step={tiny}"));
            assert!(e.contains("limit of 100000"), "{tiny}: {e}");
        }
        let e = error_of(&format!(
            "/api/v1/energy?device=demo-plant/incomer&{all}&step=1h"
        ));
        assert!(e.contains("limit of 100000"), "{e}");
        let e = error_of(&format!("/api/v1/enpi?asset=plant&{all}&step=1d"));
        assert!(e.contains("limit of 200000"), "{e}");
        let e = error_of("/api/v1/mv?asset=plant&baseline=0001-01-01..9999-12-31&reporting=2026-01-01..2026-02-01&granularity=hour");
        assert!(e.contains("limit of 100000"), "{e}");
        for far in [
            "262142-01-01..262142-12-31",
            "%2B262142-01-01..%2B262142-12-31",
        ] {
            let e = error_of(&format!(
                "/api/v1/mv?asset=plant&baseline={far}&reporting=2026-01-01..2026-02-01"
            ));
            assert!(
                e.contains("year from 1 to 9999") || e.contains("is not a date"),
                "{e}"
            );
        }
        // Within the limits the same range is an answer (no data: no points).
        let (status, body) = get(&format!(
            "/api/v1/query?{s}&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&step=1s"
        ));
        assert_eq!(status, 404, "{body}");
    }

    #[test]
    fn malformed_parameters_are_json_400s() {
        let e = error_of("/api/v1/query");
        assert!(e.contains("series"), "{e}");
        let e = error_of("/api/v1/mv?no_temp=perhaps&baseline=a&reporting=b");
        assert!(e.contains("no_temp"), "{e}");
        // Times are RFC 3339 only (indicators also take plant-local dates, as the CLI does),
        // `to` is judged first, and the range must not be empty.
        for path in [
            "query?series=1&",
            "energy?device=a/b&",
            "enpi?asset=plant&",
            "review?",
        ] {
            let e = error_of(&format!("/api/v1/{path}from=yesterday&to=2026-03-01"));
            let want = if path.starts_with("enpi") || path.starts_with("review") {
                "`from`: `yesterday` is not a time"
            } else {
                "`to`: `2026-03-01` is not an RFC 3339 time"
            };
            assert!(e.starts_with(want), "{e}");
            let e = error_of(&format!(
                "/api/v1/{path}from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z"
            ));
            assert_eq!(e, "`from` must be before `to`");
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                "\\PC{0,24}",
                "[0-9.]{1,20}(ms|s|m|h|d|mo|)",
                Just("0001-01-01T00:00:00Z".to_owned()),
                Just("9999-12-31T23:59:59Z".to_owned()),
                Just("0001-01-01..9999-12-31".to_owned()),
                Just("demo-plant/incomer".to_owned()),
                Just("demo-plant/incomer/active_power".to_owned()),
                Just("plant".to_owned()),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// Any parameters on any endpoint: an answer, never a panic or a server error.
            #[test]
            fn any_query_is_answered(
                path in prop::sample::select(vec!["query", "energy", "enpi", "review", "mv", "series", "latest"]),
                params in prop::collection::vec((
                    prop::sample::select(vec![
                        "series", "device", "asset", "from", "to", "step", "baseline",
                        "reporting", "granularity", "model", "adjust", "var", "temp", "format",
                    ]),
                    value(),
                ), 0..6),
            ) {
                let query: String = params
                    .iter()
                    .map(|(k, v)| {
                        let v: String = v.bytes().map(|b| format!("%{b:02X}")).collect();
                        format!("{k}={v}&")
                    })
                    .collect();
                let (status, body) = get(&format!("/api/v1/{path}?{query}"));
                prop_assert!(status < 500, "{} {}: {}", path, query, body);
                if status == 400 {
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    prop_assert!(v["error"].is_string());
                }
            }

            #[test]
            fn point_checks_never_panic(span in any::<i64>(), per in any::<i64>(), step in any::<Option<i64>>()) {
                let _ = check_points(span, per, Some("x"));
                let _ = pick_resolution(span, step);
            }
        }
    }

    /// The checked-in OpenAPI document describes exactly the routes the router serves.
    #[test]
    fn openapi_document_matches_the_routes() {
        crate::openapi_routes::assert_documented(OPENAPI, include_str!("http.rs"));
    }
}
