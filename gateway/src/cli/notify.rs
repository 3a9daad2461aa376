//! `notify test`: sends a test notification through the site's channels and reports, per
//! channel, that it went out or why not.

use std::time::Duration;

use chrono::Utc;
use kilowatch_gateway::notify::{Event, Sender};
use kilowatch_gateway::store::{Settle, Store, StoreWriter};
use kilowatch_site::config::parse_duration;
use tokio::sync::watch;

use super::args::{SiteArgs, Usage};

#[derive(clap::Args)]
pub struct NotifyArgs {
    #[command(subcommand)]
    command: NotifyCommand,
}

#[derive(clap::Subcommand)]
enum NotifyCommand {
    /// Queue a test notification for the site's `[[notifications]]` channels (or one) and send
    /// it now, then report per channel: sent, or the error (SMTP refused, bad password, TLS,
    /// HTTP status). Checks the channel settings end to end. A test that failed is not sent
    /// later. A running gateway may be the one that sends it; that is fine.
    ///
    /// Example: kilowatch-gateway notify test --config site.toml --channel ops-email
    #[command(verbatim_doc_comment)]
    Test(TestArgs),
}

#[derive(clap::Args)]
struct TestArgs {
    #[command(flatten)]
    site: SiteArgs,
    /// Only this channel (its `id`); default: every channel.
    #[arg(long, value_name = "ID")]
    channel: Option<String>,
    /// Give up waiting after this long (the notification then stays queued).
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    timeout: String,
    /// Only queue it, for the running gateway to send.
    #[arg(long)]
    no_wait: bool,
}

pub async fn run(a: NotifyArgs) -> anyhow::Result<()> {
    let NotifyCommand::Test(a) = a.command;
    let timeout = parse_duration(&a.timeout).map_err(|e| Usage(format!("--timeout: {e}")))?;
    let site = a.site.load()?;
    if site.config.notifications.is_empty() {
        return Err(Usage(format!("{}: no [[notifications]] channel", site.file)).into());
    }
    let sender = Sender::new(&site.config, a.channel.as_deref())?;
    let db = site.db.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&db)).await??;
    let writer = StoreWriter::spawn(store)?;
    let event = Event::test(Utc::now());
    let keys = vec![event.key.clone()];
    let channels = sender.channel_ids();
    {
        let channels = channels.clone();
        writer
            .call(move |s| {
                let ids: Vec<&str> = channels.iter().map(String::as_str).collect();
                s.notify_enqueue_to(&ids, &event)
            })
            .await?;
    }
    if a.no_wait {
        println!("queued {} for {}", keys[0], channels.join(", "));
        return Ok(());
    }
    let (_stop_tx, stop) = watch::channel(false);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut failed = Vec::new();
    let mut done = Vec::new();
    while done.len() < channels.len() {
        sender.pass(&writer, Some(keys.clone()), &stop).await?;
        let k = keys.clone();
        for row in writer.call(move |s| s.notify_rows(&k)).await? {
            if done.contains(&row.channel) {
                continue;
            }
            if row.status == "sent" {
                println!("{}: sent", row.channel);
                done.push(row.channel);
            } else if let (Some(error), true) = (&row.last_error, row.attempts > 0) {
                println!("{}: FAILED: {error}", row.channel);
                let now = Utc::now().timestamp_millis();
                writer
                    .call(move |s| s.notify_settle(row.id, &Settle::Cancelled, now))
                    .await?;
                failed.push(row.channel.clone());
                done.push(row.channel);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "not sent within {}: still queued (is another gateway sending it?)",
                a.timeout
            );
        }
        if done.len() < channels.len() {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    anyhow::ensure!(
        failed.is_empty(),
        "the test failed on {}",
        failed.join(", ")
    );
    Ok(())
}
