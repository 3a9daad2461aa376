//! The message catalogue for the dashboard: the site's language and the languages there are,
//! and each language's messages.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::AppState;
use crate::i18n::{self, Language};

/// The site's default language and every language with a catalogue, by tag and own name.
pub(super) async fn languages(State(state): State<Arc<AppState>>) -> Response {
    let languages: Vec<_> = Language::ALL
        .iter()
        .map(|l| serde_json::json!({ "tag": l.tag(), "name": i18n::t(*l, "language-name") }))
        .collect();
    Json(serde_json::json!({ "default": state.language.tag(), "languages": languages }))
        .into_response()
}

/// One language's messages, `{$name}` marking what the page fills in.
pub(super) async fn messages(Path(tag): Path<String>) -> Response {
    match tag.parse::<Language>() {
        Ok(lang) => (
            // The catalogue is part of the binary: it changes only with it.
            [(header::CACHE_CONTROL, "no-cache")],
            Json(serde_json::json!({ "lang": lang.tag(), "messages": i18n::messages(lang) })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}
