//! The hub's HTTP server: the portfolio API and pages, the accounts' endpoints, `/metrics`.
//! Every request for data is authenticated (see `auth/`), so it may listen on any address;
//! put a TLS proxy in front and set `[http] public_url = "https://…"`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::api;
use super::auth::http::{self as auth_http, Shared};
use crate::i18n::{self, Language};

// The pages (dashboards/hub/): static, public; their data comes from the authenticated API.
const LOGIN_HTML: &str = include_str!("../../../dashboards/hub/login.html");
const PORTFOLIO_HTML: &str = include_str!("../../../dashboards/hub/portfolio.html");
const HUB_JS: &str = include_str!("../../../dashboards/hub/hub.js");
const HUB_CSS: &str = include_str!("../../../dashboards/hub/hub.css");
/// The API's description (a test keeps it and the routes the same).
const OPENAPI: &str = include_str!("openapi.json");
const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// A static file, with headers that keep it from being framed or run other origins' code.
fn page(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub fn router(hub: Shared) -> Router {
    Router::new()
        .route("/api/v1/auth/login", post(auth_http::login))
        .route("/api/v1/auth/logout", post(auth_http::logout))
        .route("/api/v1/auth/me", get(auth_http::me))
        .route("/api/v1/auth/audit", get(auth_http::audit_log))
        .route("/api/v1/portfolio/sites", get(api::get_sites))
        .route("/api/v1/portfolio/sites/{site}", get(api::get_site))
        .route("/api/v1/portfolio/benchmarks", get(api::get_benchmarks))
        .route("/api/v1/i18n/{lang}", get(messages))
        .route(
            "/api/v1/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .route("/metrics", get(metrics))
        .route("/", get(|| async { Redirect::to("/portfolio") }))
        .route("/login", get(|| async { page(LOGIN_HTML, HTML) }))
        .route("/portfolio", get(|| async { page(PORTFOLIO_HTML, HTML) }))
        .route("/hub.js", get(|| async { page(HUB_JS, JS) }))
        .route("/hub.css", get(|| async { page(HUB_CSS, CSS) }))
        .with_state(hub)
}

/// One language's messages (the pages' text; public: the login page needs them).
async fn messages(Path(tag): Path<String>) -> Response {
    match tag.parse::<Language>() {
        Ok(lang) => {
            Json(serde_json::json!({ "lang": lang.tag(), "messages": i18n::messages(lang) }))
                .into_response()
        }
        Err(e) => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

/// Prometheus text: the sign-in counters and the ingest's.
async fn metrics(State(hub): State<Shared>) -> Response {
    let s = &hub.stats;
    let mut out = hub.metrics.render();
    for (name, help, v) in [
        (
            "kilowatch_hub_received_total",
            "Messages received from the broker.",
            &s.received,
        ),
        (
            "kilowatch_hub_stored_total",
            "Records stored in PostgreSQL.",
            &s.stored,
        ),
        (
            "kilowatch_hub_rejected_total",
            "Messages that were not records.",
            &s.rejected,
        ),
        (
            "kilowatch_hub_failed_commits_total",
            "Batches whose commit failed (retried).",
            &s.failed_commits,
        ),
    ] {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
            v.load(Ordering::Relaxed)
        ));
    }
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], out).into_response()
}

/// Serves until `shutdown`.
pub async fn serve(
    addr: SocketAddr,
    hub: Shared,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("hub http {addr}: {e}"))?;
    tracing::info!(%addr, "hub serving the portfolio");
    axum::serve(
        listener,
        router(hub).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_api_route_is_in_the_openapi_document_and_no_other() {
        crate::openapi_routes::assert_documented(super::OPENAPI, include_str!("server.rs"));
    }
}
