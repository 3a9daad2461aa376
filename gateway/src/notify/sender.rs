//! The sender: every second, queues the digests that are due, claims the due outbox rows,
//! delivers them and records the outcome, all through the writer thread.
//!
//! A failed delivery stays queued with its error and is tried again after a backoff (5 s,
//! doubling, at most 10 min): never lost, never a tight loop. A row is marked sent right
//! after the server accepted it, so only a crash in between those two steps (a few
//! milliseconds) can repeat a notification; receivers can drop such a repeat by its delivery
//! key (webhook `X-Kilowatch-Delivery`, email `Message-ID`).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use chrono_tz::Tz;
use kilowatch_site::config::{ChannelKind, SiteConfig, WebhookFormat};
use tokio::sync::watch;

use super::email::{Email, EmailSettings};
use super::event::{Digest, Event};
use super::route::{decide, last_digest, Channel, Decision, Pacing};
use super::stats::NotifyStats;
use super::templates::{self as t, Context};
use super::webhook::Webhook;
use crate::store::{OutboxRow, Settle, StoreWriter};

/// How long a claimed row is reserved for the sender that claimed it: longer than any attempt
/// (the transports time out after 20 s); a sender killed mid-attempt frees it after this.
const LEASE_MS: i64 = 60_000;
/// Rows claimed per pass.
const BATCH: usize = 10;
/// An attempt that takes longer than this is a failure.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Finished rows are kept this long (the digest and `notify test` read them).
const KEEP_MS: i64 = 30 * 86_400_000;

/// The wait before attempt `attempts + 1`: 5 s doubling, at most 10 minutes.
pub fn backoff(attempts: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
    Duration::from_secs(secs.min(600))
}

enum Transport {
    // Boxed: the SMTP transport is much larger than the webhook client.
    Email(Box<Email>),
    Webhook(Webhook, WebhookFormat),
}

struct Ready {
    id: String,
    pacing: Pacing,
    transport: Transport,
    cx: Context,
}

/// The site's channels, ready to send.
pub struct Sender {
    channels: Vec<Ready>,
    tz: Tz,
    pub stats: Arc<NotifyStats>,
}

/// The first line of a secret file, or a variable's value.
fn secret(
    file: &Option<String>,
    env: &Option<String>,
    key: &str,
) -> anyhow::Result<Option<String>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{key}_file: cannot read {path}: {e}"))?;
        return Ok(Some(text.lines().next().unwrap_or("").trim().to_owned()));
    }
    if let Some(var) = env {
        return Ok(Some(std::env::var(var).map_err(|_| {
            anyhow::anyhow!("{key}_env: environment variable {var} is not set")
        })?));
    }
    Ok(None)
}

impl Sender {
    /// The site's channels (all, or the one named `only`), with their secrets read.
    pub fn new(site: &SiteConfig, only: Option<&str>) -> anyhow::Result<Sender> {
        site.check_notify_access()?;
        let mut channels = Vec::new();
        for (i, c) in site.notifications.iter().enumerate() {
            if only.is_some_and(|o| o != c.id) {
                continue;
            }
            let ready = ready(site, c)
                .map_err(|e| anyhow::anyhow!("notifications[{i}] ({}): {e:#}", c.id))?;
            channels.push(ready);
        }
        if let Some(o) = only {
            anyhow::ensure!(
                !channels.is_empty(),
                "no channel `{o}` in [[notifications]]"
            );
        }
        Ok(Sender {
            channels,
            tz: site.timezone(),
            stats: Arc::default(),
        })
    }

    pub fn channel_ids(&self) -> Vec<String> {
        self.channels.iter().map(|c| c.id.clone()).collect()
    }

    /// One pass: due digests (unless `keys` limits the pass to those event keys), then the due
    /// rows, until `stop` turns true. Returns how many rows were attempted.
    pub async fn pass(
        &self,
        writer: &StoreWriter,
        keys: Option<Vec<String>>,
        stop: &watch::Receiver<bool>,
    ) -> anyhow::Result<usize> {
        let now = Utc::now();
        if keys.is_none() {
            for c in &self.channels {
                let id = c.id.clone();
                if let Some(at) = c.pacing.digest {
                    let (key, until) = last_digest(at, now, self.tz);
                    let ms = now.timestamp_millis();
                    writer
                        .call(move |s| s.notify_digest(&id, &key, until, ms))
                        .await?;
                } else {
                    // Held for a digest the site file no longer asks for: sent now instead.
                    writer.call(move |s| s.notify_release_held(&id)).await?;
                }
            }
        }
        let ids = self.channel_ids();
        let ms = now.timestamp_millis();
        let rows = writer
            .call(move |s| s.notify_claim(&ids, keys.as_deref(), ms, LEASE_MS, BATCH))
            .await?;
        let attempted = rows.len();
        for row in rows {
            let outcome = match self.channels.iter().find(|c| c.id == row.channel) {
                Some(c) => self.attempt(c, &row, writer).await?,
                None => Settle::Deferred(ms + LEASE_MS),
            };
            match &outcome {
                Settle::Sent => {
                    self.stats.sent.fetch_add(1, Relaxed);
                    tracing::info!(channel = %row.channel, key = %row.event_key, "notification sent");
                }
                Settle::Failed { error, .. } => {
                    self.stats.failed.fetch_add(1, Relaxed);
                    tracing::warn!(channel = %row.channel, key = %row.event_key, attempts = row.attempts + 1, "notification failed: {error}");
                }
                _ => {}
            }
            let (id, done) = (row.id, Utc::now().timestamp_millis());
            writer
                .call(move |s| s.notify_settle(id, &outcome, done))
                .await?;
            if *stop.borrow() {
                // The rest stay claimed until their lease ends; then whoever runs sends them.
                break;
            }
        }
        let (queued, held) = writer.call(|s| s.notify_pending()).await?;
        self.stats.queued.store(queued, Relaxed);
        self.stats.held.store(held, Relaxed);
        Ok(attempted)
    }

    async fn attempt(
        &self,
        c: &Ready,
        row: &OutboxRow,
        writer: &StoreWriter,
    ) -> anyhow::Result<Settle> {
        let now = Utc::now();
        // Tests of a channel go out at once; alarms are paced.
        if row.kind == "event" && !row.event_key.starts_with("test:") {
            let id = c.id.clone();
            let recent = writer
                .call(move |s| s.notify_recent(&id, now.timestamp_millis()))
                .await?;
            match decide(&c.pacing, row.severity, recent, now, self.tz) {
                Decision::Send => {}
                Decision::Hold => return Ok(Settle::Held),
                Decision::Defer(at) => return Ok(Settle::Deferred(at.timestamp_millis())),
            }
        }
        if row.kind == "report" {
            return Ok(match deliver_report(c, row, writer).await {
                Ok(()) => Settle::Sent,
                Err(e) => Settle::Failed {
                    error: format!("{e:#}"),
                    retry_at: (now + backoff(row.attempts + 1)).timestamp_millis(),
                },
            });
        }
        let result = tokio::time::timeout(ATTEMPT_TIMEOUT, deliver(c, row))
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer in {ATTEMPT_TIMEOUT:?}")));
        Ok(match result {
            Ok(()) => Settle::Sent,
            Err(e) => Settle::Failed {
                error: format!("{e:#}"),
                retry_at: (now + backoff(row.attempts + 1)).timestamp_millis(),
            },
        })
    }
}

fn ready(site: &SiteConfig, c: &Channel) -> anyhow::Result<Ready> {
    let transport = match c.kind {
        ChannelKind::Email => {
            let password = secret(&c.password_file, &c.password_env, "password")?;
            let ca_pem = c
                .ca_file
                .as_ref()
                .map(|p| std::fs::read(p).map_err(|e| anyhow::anyhow!("ca_file {p}: {e}")))
                .transpose()?;
            Transport::Email(Box::new(Email::new(EmailSettings {
                host: c.smtp_host.as_deref().unwrap_or_default(),
                port: c.port(),
                security: c.security,
                login: c.username.clone().zip(password),
                ca_pem,
                from: c.from.as_deref().unwrap_or_default(),
                to: &c.to,
            })?))
        }
        ChannelKind::Webhook => {
            let key = secret(&c.secret_file, &c.secret_env, "secret")?;
            let url = c.url.clone().unwrap_or_default();
            Transport::Webhook(Webhook::new(url, key.map(String::into_bytes))?, c.format)
        }
    };
    Ok(Ready {
        id: c.id.clone(),
        pacing: Pacing::of(c),
        transport,
        cx: Context {
            site_id: site.site.id.clone(),
            site_name: site.site.name.clone().unwrap_or(site.site.id.clone()),
            tz: site.timezone(),
            public_url: c.public_url.clone(),
            lang: site.site.language,
        },
    })
}

/// Mails a stored report (the row names it) with its file attached.
async fn deliver_report(c: &Ready, row: &OutboxRow, writer: &StoreWriter) -> anyhow::Result<()> {
    let mail: super::event::ReportMail = serde_json::from_str(&row.body)?;
    let Transport::Email(email) = &c.transport else {
        anyhow::bail!("reports are sent by email only");
    };
    let id = mail.report_id;
    let Some((_, bytes)) = writer.call(move |s| s.report(id)).await? else {
        anyhow::bail!("stored report {id} is gone");
    };
    let delivery = format!("{}/{}", row.event_key, row.channel);
    let file = (mail.filename.as_str(), mail.content_type.as_str(), bytes);
    tokio::time::timeout(
        ATTEMPT_TIMEOUT,
        email.send_attachment(&delivery, &mail.subject, mail.text.clone(), file),
    )
    .await
    .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer in {ATTEMPT_TIMEOUT:?}")))
}

/// Renders the row for the channel and sends it.
async fn deliver(c: &Ready, row: &OutboxRow) -> anyhow::Result<()> {
    let cx = &c.cx;
    let delivery = format!("{}/{}", row.event_key, row.channel);
    let (subject, text, json, fields, url) = if row.kind == "digest" {
        let d: Digest = serde_json::from_str(&row.body)?;
        let fields = d
            .items
            .iter()
            .map(|i| (cx_time(cx, i.event.at), t::subject(&i.event, cx)))
            .collect();
        let subject = t::digest_subject(&d, cx);
        (
            subject,
            t::digest_body(&d, cx),
            t::json_digest(&d, cx),
            fields,
            String::new(),
        )
    } else {
        let e: Event = serde_json::from_str(&row.body)?;
        let url = t::event_url(&e, cx);
        (
            t::subject(&e, cx),
            t::email_body(&e, cx),
            t::json_event(&e, cx),
            t::event_fields(&e, cx),
            url,
        )
    };
    match &c.transport {
        Transport::Email(m) => m.send(&delivery, &subject, text).await,
        Transport::Webhook(w, format) => {
            let body = match format {
                WebhookFormat::Json => json,
                WebhookFormat::Slack => t::slack(&subject, &fields, &url, cx.lang),
                WebhookFormat::Teams => t::teams(&subject, row.severity, &fields, &url, cx.lang),
            };
            w.send(&delivery, &body).await
        }
    }
}

fn cx_time(cx: &Context, at: chrono::DateTime<Utc>) -> String {
    at.with_timezone(&cx.tz).format("%m-%d %H:%M").to_string()
}

/// Runs the sender until `stop` turns true: a pass every second, old finished rows purged
/// hourly.
pub async fn run(
    sender: Sender,
    writer: StoreWriter,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_purge: Option<std::time::Instant> = None;
    let mut stopped = stop.clone();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|s| *s) => break,
        }
        if let Err(e) = sender.pass(&writer, None, &stop).await {
            // The store is failing (or stopping): try again at the next tick.
            tracing::error!("notifications: {e:#}");
        }
        if last_purge.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            last_purge = Some(std::time::Instant::now());
            let before = Utc::now().timestamp_millis() - KEEP_MS;
            if let Err(e) = writer.call(move |s| s.notify_purge(before)).await {
                tracing::error!("notifications: purge: {e:#}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let secs: Vec<u64> = (1..=9).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(secs, [5, 10, 20, 40, 80, 160, 320, 600, 600]);
        assert_eq!(backoff(u32::MAX), Duration::from_secs(600));
        assert_eq!(backoff(0), Duration::from_secs(5));
    }
}

#[cfg(test)]
#[path = "sender_tests.rs"]
mod sender_tests;
