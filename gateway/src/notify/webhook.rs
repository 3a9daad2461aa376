//! Webhook delivery: an HTTP POST of the message JSON, signed with HMAC-SHA256 when the
//! channel has a secret.
//!
//! Signature scheme (for receivers): the headers are
//! `X-Kilowatch-Delivery: <event key>` (the same for every retry of one notification: a receiver
//! drops repeats by it), `X-Kilowatch-Timestamp: <Unix seconds>` and
//! `X-Kilowatch-Signature: sha256=<hex>`, where hex is the lowercase HMAC-SHA256, keyed with the
//! secret (the first line of `secret_file`, or `secret_env`'s value, as bytes), of
//! `<timestamp>.<body>`: the timestamp, a dot, then the raw request body. Receivers recompute
//! it over the body as received, compare in constant time, and refuse timestamps more than a
//! few minutes from their clock (a replayed request).

use std::time::Duration;

use ring::hmac;

/// Headers of a delivery.
pub const DELIVERY: &str = "X-Kilowatch-Delivery";
pub const TIMESTAMP: &str = "X-Kilowatch-Timestamp";
pub const SIGNATURE: &str = "X-Kilowatch-Signature";

/// Lowercase hex of HMAC-SHA256(key, data).
pub fn hmac_sha256_hex(key: &[u8], data: &[u8]) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The `X-Kilowatch-Signature` value of `body` sent at `timestamp` (Unix seconds).
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!("sha256={}", hmac_sha256_hex(secret, &signed))
}

/// A webhook endpoint.
pub struct Webhook {
    client: reqwest::Client,
    url: String,
    secret: Option<Vec<u8>>,
}

impl Webhook {
    pub fn new(url: String, secret: Option<Vec<u8>>) -> anyhow::Result<Webhook> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Webhook {
            client,
            url,
            secret,
        })
    }

    /// POSTs `body`; any status but 2xx is an error (with the start of the response).
    pub async fn send(&self, key: &str, body: &serde_json::Value) -> anyhow::Result<()> {
        let body = serde_json::to_vec(body)?;
        let ts = chrono::Utc::now().timestamp();
        let mut req = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(DELIVERY, key)
            .header(TIMESTAMP, ts.to_string());
        if let Some(secret) = &self.secret {
            req = req.header(SIGNATURE, signature(secret, ts, &body));
        }
        let res = req
            .body(body)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("POST {}: {}", self.url, error_chain(&e)))?;
        let status = res.status();
        if status.is_success() {
            return Ok(());
        }
        let text = res.text().await.unwrap_or_default();
        let text: String = text.chars().take(200).collect();
        anyhow::bail!("POST {}: HTTP {status}: {}", self.url, text.trim())
    }
}

/// An error's message and its causes (the cause says what failed: refused, DNS, TLS), each
/// once: some errors repeat their source's text in their own.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        // Reproduce with: printf '1764468000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
        let s = signature(b"s3cret", 1_764_468_000, br#"{"a":1}"#);
        assert_eq!(
            s,
            "sha256=d0af1bfa70517234ebaab2dc96ce18dee4a42a20b8bb08c37c72a51a6c849dd6"
        );
        assert_ne!(s, signature(b"s3cret", 1_764_468_001, br#"{"a":1}"#));
        assert_ne!(s, signature(b"s3cret", 1_764_468_000, br#"{"a":2}"#));
    }
}
