//! InfluxDB sink: line protocol over HTTP, to the v1 `/write` endpoint (InfluxDB 1.x and 3.x,
//! VictoriaMetrics, other line-protocol engines) or the v2 `/api/v2/write` endpoint.
//!
//! Lines are written to an outbox table in the same SQLite transaction as the samples, so the
//! MQTT acknowledgement never runs ahead of them; this forwarder sends the outbox oldest first,
//! in gzip batches, and deletes a batch only once the server accepted it. 429 and 5xx responses
//! and connection errors back off and retry (up to 30 s apart, for as long as it takes: the
//! outbox absorbs the outage); any other 4xx will not get better by retrying, so that batch
//! goes to the dead-letter table with the server's answer.
//!
//! Line protocol is generated here (a few escaping rules) rather than with a client crate: the
//! `influxdb2` crate is stale (reqwest 0.11, panics on a bad URL, drops a URL's path prefix).

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use kilowatch_site::config::{InfluxApi, InfluxConfig};

use serde::Serialize;

use crate::store::StoreWriter;

pub use crate::line_protocol::poll_lines;

/// Counters for `/api/v1/health`.
#[derive(Debug, Default)]
pub struct InfluxStats {
    pub written_lines: AtomicU64,
    pub failed_requests: AtomicU64,
    pub dead_lettered_batches: AtomicU64,
    pub pending_batches: AtomicU64,
}

#[derive(Serialize)]
pub struct InfluxSnapshot {
    pub written_lines: u64,
    pub failed_requests: u64,
    pub dead_lettered_batches: u64,
    pub pending_batches: u64,
}

impl InfluxStats {
    pub fn snapshot(&self) -> InfluxSnapshot {
        InfluxSnapshot {
            written_lines: self.written_lines.load(Ordering::Relaxed),
            failed_requests: self.failed_requests.load(Ordering::Relaxed),
            dead_lettered_batches: self.dead_lettered_batches.load(Ordering::Relaxed),
            pending_batches: self.pending_batches.load(Ordering::Relaxed),
        }
    }
}

fn secret(
    file: &Option<String>,
    env: &Option<String>,
    key: &str,
) -> anyhow::Result<Option<String>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("gateway.influx.{key}_file: cannot read {path}"))?;
        return Ok(Some(text.lines().next().unwrap_or("").trim().to_owned()));
    }
    if let Some(var) = env {
        return Ok(Some(std::env::var(var).map_err(|_| {
            anyhow::anyhow!("gateway.influx.{key}_env: environment variable {var} is not set")
        })?));
    }
    Ok(None)
}

/// A ready-to-use write endpoint.
pub struct Writer {
    client: reqwest::Client,
    url: String,
    auth: Option<String>,
    basic: Option<(String, String)>,
    gzip: bool,
}

/// Why a write failed.
#[derive(Debug)]
pub enum WriteError {
    /// Worth retrying: connection errors, 429, 5xx.
    Retry(String),
    /// The server refused the data for good (4xx): dead-letter it.
    Refused(String),
}

impl Writer {
    pub fn new(cfg: &InfluxConfig) -> anyhow::Result<Self> {
        let base = cfg.url.trim_end_matches('/');
        let enc = |s: &str| {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        };
        let (url, auth, basic) = match cfg.api {
            InfluxApi::V1 => {
                let mut url = format!(
                    "{base}/write?db={}&precision=ms",
                    enc(cfg.database.as_deref().unwrap_or_default())
                );
                if let Some(rp) = &cfg.retention_policy {
                    url.push_str(&format!("&rp={}", enc(rp)));
                }
                let pass = secret(&cfg.password_file, &cfg.password_env, "password")?;
                let basic = cfg.username.clone().map(|u| (u, pass.unwrap_or_default()));
                (url, None, basic)
            }
            InfluxApi::V2 => {
                let url = format!(
                    "{base}/api/v2/write?org={}&bucket={}&precision=ms",
                    enc(cfg.org.as_deref().unwrap_or_default()),
                    enc(cfg.bucket.as_deref().unwrap_or_default())
                );
                let token = secret(&cfg.token_file, &cfg.token_env, "token")?;
                (url, token.map(|t| format!("Token {t}")), None)
            }
        };
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .context("gateway.influx: cannot build the HTTP client")?,
            url,
            auth,
            basic,
            gzip: cfg.gzip,
        })
    }

    /// The endpoint without credentials, for logs.
    pub fn endpoint(&self) -> &str {
        &self.url
    }

    pub async fn write(&self, lines: &str) -> Result<(), WriteError> {
        let mut req = self
            .client
            .post(&self.url)
            .header("Content-Type", "text/plain; charset=utf-8");
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        if let Some((u, p)) = &self.basic {
            req = req.basic_auth(u, Some(p));
        }
        let body = if self.gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(lines.as_bytes())
                .and_then(|()| enc.finish())
                .map_err(|e| WriteError::Retry(format!("gzip: {e}")))?
        } else {
            lines.as_bytes().to_vec()
        };
        if self.gzip {
            req = req.header("Content-Encoding", "gzip");
        }
        let res = req
            .body(body)
            .send()
            .await
            .map_err(|e| WriteError::Retry(format!("{}: {e}", self.url)))?;
        let status = res.status();
        if status.is_success() {
            return Ok(());
        }
        let text = res.text().await.unwrap_or_default();
        let msg = format!("HTTP {status}: {}", text.trim());
        if status.as_u16() == 429 || status.is_server_error() {
            Err(WriteError::Retry(msg))
        } else {
            Err(WriteError::Refused(msg))
        }
    }
}

/// Sends the outbox to InfluxDB until `stop` turns true.
pub async fn forward(
    store: StoreWriter,
    cfg: InfluxConfig,
    stats: Arc<InfluxStats>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let writer = Writer::new(&cfg)?;
    tracing::info!(endpoint = %writer.endpoint(), "forwarding readings to InfluxDB");
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        let limit = cfg.batch_lines;
        let (batch, pending) = store
            .call(move |s| Ok((s.outbox_batch(limit)?, s.outbox_len()?)))
            .await?;
        stats.pending_batches.store(pending, Ordering::Relaxed);
        let Some((ids, lines)) = batch else {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.changed() => {}
            }
            continue;
        };
        let n = lines.lines().count() as u64;
        match writer.write(&lines).await {
            Ok(()) => {
                if failures > 0 {
                    tracing::info!("InfluxDB accepts writes again");
                }
                failures = 0;
                stats.written_lines.fetch_add(n, Ordering::Relaxed);
                store.call(move |s| s.outbox_done(&ids, None)).await?;
            }
            Err(WriteError::Retry(e)) => {
                failures += 1;
                stats.failed_requests.fetch_add(1, Ordering::Relaxed);
                if failures == 1 {
                    tracing::warn!("InfluxDB write failed: {e}; keeping the data and retrying");
                } else {
                    tracing::debug!(failures, "InfluxDB write failed: {e}");
                }
                let wait =
                    Duration::from_millis(500u64 << failures.min(6)).min(Duration::from_secs(30));
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(WriteError::Refused(e)) => {
                stats.failed_requests.fetch_add(1, Ordering::Relaxed);
                stats.dead_lettered_batches.fetch_add(1, Ordering::Relaxed);
                tracing::error!("InfluxDB refused a batch of {n} lines: {e}; it is kept in the dead-letter table");
                let reason = format!("InfluxDB refused the batch: {e}");
                store
                    .call(move |s| s.outbox_done(&ids, Some((&reason, lines.as_bytes()))))
                    .await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kilowatch_site::payload::{DevicePoll, Quality};
    use kilowatch_site::payload::{Reading, SCHEMA_VERSION};

    #[test]
    fn lines_escape_and_skip_values_not_read() {
        let p = DevicePoll {
            version: SCHEMA_VERSION,
            site: "plant one".into(),
            device: "comp,1".into(),
            seq: 3,
            ts: "2026-01-01T00:00:00.250Z".parse().unwrap(),
            readings: vec![
                Reading {
                    quantity: "active_power".into(),
                    value: Some(12.5),
                    unit: "kW".into(),
                    quality: Quality::Good,
                },
                Reading {
                    quantity: "power_factor".into(),
                    value: None,
                    unit: "".into(),
                    quality: Quality::Unavailable,
                },
                Reading {
                    quantity: "frequency".into(),
                    value: Some(60.0),
                    unit: "Hz".into(),
                    quality: Quality::Good,
                },
            ],
        };
        let mut out = String::new();
        assert_eq!(poll_lines(&p, Some("air=main"), &mut out), 2);
        assert_eq!(
            out,
            "active_power,site=plant\\ one,device=comp\\,1,asset=air\\=main,unit=kW value=12.5 1767225600250\n\
             frequency,site=plant\\ one,device=comp\\,1,asset=air\\=main,unit=Hz value=60.0 1767225600250\n"
        );
    }

    #[test]
    fn endpoints_keep_a_path_prefix_and_encode_names() {
        let cfg: InfluxConfig = toml::from_str(
            "url = \"https://proxy.example/influx/\"\napi = \"v2\"\norg = \"my org\"\nbucket = \"kw\"\ntoken_env = \"KW_UNIT_TEST_TOKEN\"",
        )
        .unwrap();
        std::env::set_var("KW_UNIT_TEST_TOKEN", "abc");
        let w = Writer::new(&cfg).unwrap();
        assert_eq!(
            w.endpoint(),
            "https://proxy.example/influx/api/v2/write?org=my%20org&bucket=kw&precision=ms"
        );
        assert_eq!(w.auth.as_deref(), Some("Token abc"));
    }
}
