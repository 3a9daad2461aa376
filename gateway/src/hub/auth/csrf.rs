//! Cross-site request forgery. A request that changes something and comes with the session
//! cookie must (1) carry the session's token in `X-CSRF-Token` (a synchronizer token: a page
//! of another origin cannot read it) and (2), when the browser names its origin, come from the
//! hub's own. SameSite=Strict on the cookie is a third wall. The login form, which has no
//! session yet, gets the origin check. Requests with an API token are not at risk (a browser
//! never adds the Authorization header by itself).

use axum::http::{header, HeaderMap, Method};

pub const HEADER: &str = "x-csrf-token";

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CsrfError {
    #[error("the request has no X-CSRF-Token header")]
    MissingToken,
    #[error("the X-CSRF-Token header is not this session's")]
    WrongToken,
    #[error("the request comes from another origin ({0})")]
    CrossOrigin(String),
}

/// Methods that change nothing, by HTTP's rules and this API's.
pub fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `scheme://host[:port]` of a URL, lower-cased.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}").to_ascii_lowercase())
}

/// When the browser says where the request comes from (Origin, else Referer), it must be the
/// hub: `public_url`'s origin when configured, else the Host the request was sent to.
pub fn same_origin(headers: &HeaderMap, public_url: Option<&str>) -> Result<(), CsrfError> {
    let text = |h| headers.get(h).and_then(|v| v.to_str().ok());
    let Some(from) = text(header::ORIGIN).or_else(|| text(header::REFERER)) else {
        // Not a browser's cross-site request (browsers send Origin with every POST).
        return Ok(());
    };
    let from_origin = origin_of(from).ok_or_else(|| CsrfError::CrossOrigin(from.to_owned()))?;
    let ok = match public_url.and_then(origin_of) {
        Some(public) => from_origin == public,
        None => text(header::HOST).is_some_and(|host| {
            from_origin
                .split_once("://")
                .is_some_and(|(_, h)| h.eq_ignore_ascii_case(host))
        }),
    };
    if ok {
        Ok(())
    } else {
        Err(CsrfError::CrossOrigin(from_origin))
    }
}

/// The checks of a request authenticated by a session whose token is `session_csrf`.
pub fn check(
    method: &Method,
    headers: &HeaderMap,
    session_csrf: &str,
    public_url: Option<&str>,
) -> Result<(), CsrfError> {
    if is_safe(method) {
        return Ok(());
    }
    same_origin(headers, public_url)?;
    let sent = headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(CsrfError::MissingToken)?;
    if super::secret::same(sent, session_csrf) {
        Ok(())
    } else {
        Err(CsrfError::WrongToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn safe_methods_pass_and_unsafe_ones_need_the_token() {
        let none = headers(&[]);
        assert_eq!(check(&Method::GET, &none, "t0k3n", None), Ok(()));
        assert_eq!(
            check(&Method::POST, &none, "t0k3n", None),
            Err(CsrfError::MissingToken)
        );
        let wrong = headers(&[(HEADER, "other")]);
        assert_eq!(
            check(&Method::POST, &wrong, "t0k3n", None),
            Err(CsrfError::WrongToken)
        );
        let right = headers(&[(HEADER, "t0k3n"), ("host", "hub:8080")]);
        assert_eq!(check(&Method::DELETE, &right, "t0k3n", None), Ok(()));
    }

    #[test]
    fn another_origin_is_refused_even_with_the_token() {
        let evil = headers(&[
            (HEADER, "t0k3n"),
            ("host", "hub.example:8080"),
            ("origin", "https://evil.example"),
        ]);
        assert!(matches!(
            check(&Method::POST, &evil, "t0k3n", None),
            Err(CsrfError::CrossOrigin(_))
        ));
        let own = headers(&[
            ("host", "Hub.example:8080"),
            ("origin", "http://hub.example:8080"),
        ]);
        assert_eq!(same_origin(&own, None), Ok(()));
        let referer = headers(&[
            ("host", "hub.example:8080"),
            ("referer", "http://other:8080/login"),
        ]);
        assert!(same_origin(&referer, None).is_err());
        // Behind a proxy the public URL is the hub's origin, whatever Host the proxy sends.
        let proxied = headers(&[
            ("host", "127.0.0.1:9000"),
            ("origin", "https://hub.example"),
        ]);
        assert_eq!(same_origin(&proxied, Some("https://hub.example/")), Ok(()));
        assert!(same_origin(&proxied, None).is_err());
        assert!(same_origin(&headers(&[("origin", "null")]), None).is_err());
    }
}
