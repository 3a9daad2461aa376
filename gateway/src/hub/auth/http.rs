//! The HTTP side of the accounts: the extractor every portfolio handler takes (a session
//! cookie, CSRF-checked for state-changing requests, or a Bearer API token), the role and
//! scope checks, and the login, logout, `me` and audit endpoints.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use deadpool_postgres::Pool;
use serde::Deserialize;
use serde_json::json;

use super::metrics::AuthMetrics;
use super::sessions::{self, Login, Policy};
use super::{audit, csrf, Principal, Scope, Via};
use crate::hub::ingest::HubStats;
use crate::i18n::{self, Language};

pub const SESSION_COOKIE: &str = "kw_session";

/// What the hub's handlers share.
pub struct Hub {
    pub pool: Pool,
    pub policy: Policy,
    pub public_url: Option<String>,
    pub metrics: AuthMetrics,
    pub stats: Arc<HubStats>,
}

pub type Shared = Arc<Hub>;

/// An error answer: a status and a catalogue key, in the reader's language.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub key: &'static str,
    pub lang: Language,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": i18n::t(self.lang, self.key), "key": self.key })),
        )
            .into_response()
    }
}

/// Traditional Chinese for a browser that asks for Chinese first, else English.
pub fn lang_of(headers: &HeaderMap) -> Language {
    let first = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .unwrap_or("");
    if first.trim().to_ascii_lowercase().starts_with("zh") {
        Language::TraditionalChinese
    } else {
        Language::English
    }
}

/// A cookie's value from the request's Cookie headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

impl Hub {
    pub fn error(&self, status: StatusCode, key: &'static str, lang: Language) -> ApiError {
        let counter = match status {
            StatusCode::UNAUTHORIZED => Some(&self.metrics.unauthenticated),
            StatusCode::FORBIDDEN => Some(&self.metrics.forbidden),
            _ => None,
        };
        if let Some(c) = counter {
            AuthMetrics::bump(c);
        }
        ApiError { status, key, lang }
    }

    /// The request's user may use `scope`.
    pub fn require(&self, who: &Principal, scope: Scope, lang: Language) -> Result<(), ApiError> {
        if who.scopes.has(scope) {
            Ok(())
        } else {
            Err(self.error(StatusCode::FORBIDDEN, "hub-err-scope", lang))
        }
    }

    /// The request's user may see `site` (403 otherwise, whether the site exists or not).
    pub fn require_site(
        &self,
        who: &Principal,
        site: &str,
        lang: Language,
    ) -> Result<(), ApiError> {
        self.require(who, Scope::PortfolioRead, lang)?;
        if who.may_see(site) {
            Ok(())
        } else {
            Err(self.error(StatusCode::FORBIDDEN, "hub-err-site", lang))
        }
    }

    /// Whether cookies must be Secure: the hub is reached over https (its public URL, or the
    /// proxy in front says so).
    fn secure(&self, headers: &HeaderMap) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
            || headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https"))
    }

    fn session_cookie(&self, headers: &HeaderMap, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.secure(headers) { "; Secure" } else { "" };
        let text = format!(
            "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        );
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

impl FromRequestParts<Shared> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, hub: &Shared) -> Result<Self, Self::Rejection> {
        let lang = lang_of(&parts.headers);
        let unavailable = |e: sessions::SessionError| {
            tracing::warn!("cannot look up the session: {e}");
            hub.error(StatusCode::SERVICE_UNAVAILABLE, "hub-err-database", lang)
        };
        if let Some(token) = bearer(&parts.headers) {
            return match sessions::by_token(&hub.pool, token).await {
                Ok(Some(p)) => Ok(p),
                Ok(None) => Err(hub.error(StatusCode::UNAUTHORIZED, "hub-err-token", lang)),
                Err(e) => Err(unavailable(e)),
            };
        }
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(hub.error(StatusCode::UNAUTHORIZED, "hub-err-login", lang));
        };
        let who = match sessions::by_session(&hub.pool, id, hub.policy.session_idle).await {
            Ok(Some(p)) => p,
            Ok(None) => return Err(hub.error(StatusCode::UNAUTHORIZED, "hub-err-login", lang)),
            Err(e) => return Err(unavailable(e)),
        };
        if let Via::Session { csrf: token } = &who.via {
            if let Err(e) = csrf::check(
                &parts.method,
                &parts.headers,
                token,
                hub.public_url.as_deref(),
            ) {
                tracing::warn!(user = %who.name, "refused: {e}");
                AuthMetrics::bump(&hub.metrics.csrf_refused);
                return Err(hub.error(StatusCode::FORBIDDEN, "hub-err-csrf", lang));
            }
        }
        Ok(who)
    }
}

/// What a page needs to know of its user.
fn me_json(who: &Principal) -> serde_json::Value {
    let csrf = match &who.via {
        Via::Session { csrf } => Some(csrf.as_str()),
        Via::Token { .. } => None,
    };
    json!({
        "user": who.name,
        "role": who.role.as_str(),
        "sites": who.sites,
        "all_sites": who.site_filter().is_none(),
        "scopes": who.scopes.names(),
        "csrf": csrf,
    })
}

#[derive(Deserialize)]
pub struct LoginBody {
    user: String,
    password: String,
}

pub async fn login(
    State(hub): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<LoginBody>,
) -> Response {
    let lang = lang_of(&headers);
    // Login CSRF: a form of another site must not sign the browser in.
    if csrf::same_origin(&headers, hub.public_url.as_deref()).is_err() {
        AuthMetrics::bump(&hub.metrics.csrf_refused);
        return hub
            .error(StatusCode::FORBIDDEN, "hub-err-csrf", lang)
            .into_response();
    }
    let remote = addr.ip().to_string();
    let outcome = sessions::login(
        &hub.pool,
        &hub.policy,
        &body.user,
        body.password,
        Some(&remote),
    )
    .await;
    match outcome {
        Ok(Login::Ok { principal, session }) => {
            AuthMetrics::bump(&hub.metrics.logins);
            let cookie = hub.session_cookie(&headers, &session, hub.policy.session_ttl.as_secs());
            ([(header::SET_COOKIE, cookie)], Json(me_json(&principal))).into_response()
        }
        Ok(Login::Failed { locked }) => {
            AuthMetrics::bump(&hub.metrics.login_failures);
            if locked {
                tracing::warn!(user = %body.user, %remote, "account locked after repeated failed logins");
            }
            ApiError {
                status: StatusCode::UNAUTHORIZED,
                key: "hub-err-login-failed",
                lang,
            }
            .into_response()
        }
        Ok(Login::Locked) => {
            AuthMetrics::bump(&hub.metrics.login_locked);
            let retry = hub.policy.lockout_window.as_secs().to_string();
            (
                [(header::RETRY_AFTER, retry)],
                ApiError {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    key: "hub-err-locked",
                    lang,
                },
            )
                .into_response()
        }
        Err(e) => {
            tracing::warn!("login failed: {e}");
            hub.error(StatusCode::SERVICE_UNAVAILABLE, "hub-err-database", lang)
                .into_response()
        }
    }
}

pub async fn logout(
    State(hub): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    who: Principal,
) -> Response {
    let lang = lang_of(&headers);
    if let (Some(id), Via::Session { .. }) = (cookie(&headers, SESSION_COOKIE), &who.via) {
        let remote = addr.ip().to_string();
        if let Err(e) = sessions::logout(&hub.pool, &who, id, Some(&remote)).await {
            tracing::warn!("logout failed: {e}");
            return hub
                .error(StatusCode::SERVICE_UNAVAILABLE, "hub-err-database", lang)
                .into_response();
        }
    }
    let cookie = hub.session_cookie(&headers, "", 0);
    ([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response()
}

pub async fn me(who: Principal) -> Response {
    Json(me_json(&who)).into_response()
}

#[derive(Deserialize)]
pub struct AuditQuery {
    limit: Option<i64>,
    user: Option<String>,
}

pub async fn audit_log(
    State(hub): State<Shared>,
    headers: HeaderMap,
    who: Principal,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let lang = lang_of(&headers);
    hub.require(&who, Scope::AuditRead, lang)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let rows = async {
        let c = hub.pool.get().await.map_err(|e| e.to_string())?;
        audit::recent(&c, limit, q.user.as_deref())
            .await
            .map_err(|e| e.to_string())
    }
    .await
    .map_err(|e| {
        tracing::warn!("audit query failed: {e}");
        hub.error(StatusCode::SERVICE_UNAVAILABLE, "hub-err-database", lang)
    })?;
    Ok(Json(json!({ "events": rows })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(public_url: Option<&str>) -> Hub {
        let cfg = crate::hub::config::PostgresConfig {
            url: "host=127.0.0.1 port=9 user=nobody".into(),
            password_file: None,
            password_env: None,
            pool_size: 1,
        };
        Hub {
            // Connections are opened on first use: none is.
            pool: crate::hub::pg::pool(&cfg).unwrap(),
            policy: Policy::default(),
            public_url: public_url.map(str::to_owned),
            metrics: AuthMetrics::default(),
            stats: Default::default(),
        }
    }

    #[test]
    fn the_session_cookie_is_httponly_strict_and_secure_over_https() {
        let plain = HeaderMap::new();
        let c = hub(None).session_cookie(&plain, "abc", 60);
        let c = c.to_str().unwrap();
        assert!(
            c.starts_with("kw_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"),
            "{c}"
        );
        assert!(!c.contains("Secure"));
        let c = hub(Some("https://hub.example")).session_cookie(&plain, "abc", 60);
        assert!(c.to_str().unwrap().ends_with("; Secure"));
        let mut proxied = HeaderMap::new();
        proxied.insert("x-forwarded-proto", "https".parse().unwrap());
        let c = hub(None).session_cookie(&proxied, "abc", 60);
        assert!(c.to_str().unwrap().ends_with("; Secure"));
    }

    #[test]
    fn cookies_bearer_and_language_are_read_from_headers() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; kw_session=abc".parse().unwrap());
        h.append(header::COOKIE, "b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "kw"), None);
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer kwt_1".parse().unwrap());
        assert_eq!(bearer(&h), Some("kwt_1"));
        assert_eq!(lang_of(&h), Language::English);
        h.insert(
            header::ACCEPT_LANGUAGE,
            "zh-TW,zh;q=0.9,en;q=0.8".parse().unwrap(),
        );
        assert_eq!(lang_of(&h), Language::TraditionalChinese);
    }
}
