//! `/metrics` in the Prometheus text format: polls and errors per device, readings published,
//! what the spool holds and how old its oldest unsent reading is.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::forward::PublishStats;
use crate::health::Health;
use crate::spool::SpoolHandle;

/// What the endpoint reads from.
#[derive(Clone)]
pub struct Sources {
    pub health: Health,
    pub spool: SpoolHandle,
    pub publish: Arc<PublishStats>,
}

fn esc(label: &str) -> String {
    label.replace('\\', r"\\").replace('"', "\\\"")
}

/// Renders every metric; `oldest` is the poll time of the oldest unsent reading (ms).
pub fn render(src: &Sources, oldest: Option<i64>) -> String {
    let mut out = String::with_capacity(4096);
    let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in rows {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    let health = src.health.snapshot();
    let per_device = |f: &dyn Fn(&crate::health::DeviceHealth) -> f64| {
        health
            .iter()
            .map(|(d, h)| (format!("{{device=\"{}\"}}", esc(d)), f(h)))
            .collect::<Vec<_>>()
    };
    family(
        "kilowatch_agent_polls_total",
        "counter",
        "Successful device polls.",
        per_device(&|h| h.polls_ok as f64),
    );
    family(
        "kilowatch_agent_poll_failures_total",
        "counter",
        "Failed device polls by kind (timeout, connect, transport).",
        health
            .iter()
            .flat_map(|(d, h)| {
                h.errors.iter().map(move |(k, n)| {
                    (
                        format!("{{device=\"{}\",kind=\"{}\"}}", esc(d), esc(k)),
                        *n as f64,
                    )
                })
            })
            .collect(),
    );
    family(
        "kilowatch_agent_exceptions_total",
        "counter",
        "Requests a device answered with a Modbus exception.",
        per_device(&|h| h.exceptions as f64),
    );
    family(
        "kilowatch_agent_missed_polls_total",
        "counter",
        "Scheduled polls skipped because the previous poll overran.",
        per_device(&|h| h.missed_polls as f64),
    );
    family(
        "kilowatch_agent_poll_latency_seconds",
        "gauge",
        "Duration of the last successful poll.",
        health
            .iter()
            .filter_map(|(d, h)| {
                h.last_latency_ms
                    .map(|ms| (format!("{{device=\"{}\"}}", esc(d)), ms / 1000.0))
            })
            .collect(),
    );
    let p = &src.publish;
    let one = |v: f64| vec![(String::new(), v)];
    family(
        "kilowatch_agent_mqtt_connected",
        "gauge",
        "1 while the broker connection is up.",
        one(f64::from(u8::from(p.connected.load(Ordering::Relaxed)))),
    );
    family(
        "kilowatch_agent_published_total",
        "counter",
        "Readings (device polls) the broker acknowledged.",
        one(p.published.load(Ordering::Relaxed) as f64),
    );
    family(
        "kilowatch_agent_mqtt_connection_errors_total",
        "counter",
        "Failed connection attempts and lost connections.",
        one(p.connection_errors.load(Ordering::Relaxed) as f64),
    );
    let stats = src.spool.stats();
    family(
        "kilowatch_agent_spooled_readings",
        "gauge",
        "Readings in the spool not yet acknowledged by the broker.",
        one(stats.pending as f64),
    );
    family(
        "kilowatch_agent_spool_bytes",
        "gauge",
        "Bytes of the spool on disk.",
        one(stats.bytes as f64),
    );
    family(
        "kilowatch_agent_spool_appended_total",
        "counter",
        "Readings written to the spool since start.",
        one(stats.appended as f64),
    );
    family(
        "kilowatch_agent_spool_evicted_total",
        "counter",
        "Unsent readings dropped because the spool's disk budget was exhausted.",
        one(stats.evicted as f64),
    );
    family(
        "kilowatch_agent_spool_corrupt_bytes_total",
        "counter",
        "Bytes of torn or corrupt spool records skipped.",
        one(stats.corrupt_bytes as f64),
    );
    let w = &p.writer;
    family(
        "kilowatch_agent_spool_write_errors_total",
        "counter",
        "Failed spool appends (each retry counts).",
        one(w.write_errors.load(Ordering::Relaxed) as f64),
    );
    family(
        "kilowatch_agent_spool_write_failing",
        "gauge",
        "1 while appends to the spool fail (polls are held in memory meanwhile).",
        one(f64::from(u8::from(w.write_failing.load(Ordering::Relaxed)))),
    );
    family(
        "kilowatch_agent_spool_disk_full",
        "gauge",
        "1 while appends to the spool fail because its disk (or quota) is full.",
        one(f64::from(u8::from(w.disk_full.load(Ordering::Relaxed)))),
    );
    family(
        "kilowatch_agent_memory_buffered_polls",
        "gauge",
        "Polls held in memory waiting to be spooled.",
        one(w.buffered.load(Ordering::Relaxed) as f64),
    );
    family(
        "kilowatch_agent_memory_buffer_capacity",
        "gauge",
        "agent.memory_buffer: polls the memory buffer holds at most.",
        one(w.buffer_capacity.load(Ordering::Relaxed) as f64),
    );
    family(
        "kilowatch_agent_polls_dropped_total",
        "counter",
        "Polls dropped because the spool could not be written and the memory buffer was full.",
        one(w.dropped.load(Ordering::Relaxed) as f64),
    );
    let r = &p.replay;
    let load = |a: &std::sync::atomic::AtomicU64| one(a.load(Ordering::Relaxed) as f64);
    family(
        "kilowatch_agent_replay_subscribed",
        "gauge",
        "1 once the broker confirmed the subscription to replay requests on this connection.",
        one(f64::from(u8::from(r.subscribed.load(Ordering::Relaxed)))),
    );
    family(
        "kilowatch_agent_replay_requests_total",
        "counter",
        "Replay requests served (for devices this agent polls).",
        load(&r.requests),
    );
    family(
        "kilowatch_agent_replay_requests_rejected_total",
        "counter",
        "Replay requests not served, by reason (malformed, not_ours, dropped).",
        [
            ("malformed", &r.malformed),
            ("not_ours", &r.ignored),
            ("dropped", &r.dropped),
        ]
        .into_iter()
        .map(|(k, a)| {
            (
                format!("{{reason=\"{k}\"}}"),
                a.load(Ordering::Relaxed) as f64,
            )
        })
        .collect(),
    );
    family(
        "kilowatch_agent_replay_resent_total",
        "counter",
        "Readings published again on a replay request.",
        load(&r.resent),
    );
    family(
        "kilowatch_agent_replay_unavailable_ranges_total",
        "counter",
        "Sub-ranges a replay request asked for that the spool no longer holds.",
        load(&r.unavailable_ranges),
    );
    family(
        "kilowatch_agent_replay_unavailable_readings_total",
        "counter",
        "Readings a replay request asked for that the spool no longer holds.",
        load(&r.unavailable_readings),
    );
    let age = oldest.map_or(0.0, |ms| {
        ((chrono::Utc::now().timestamp_millis() - ms).max(0) as f64) / 1000.0
    });
    family(
        "kilowatch_agent_oldest_unsent_age_seconds",
        "gauge",
        "Age of the oldest reading not yet acknowledged by the broker (0 when none).",
        one(age),
    );
    out
}

/// Binds the metrics listener (so a busy port is reported at start-up, naming the key).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!(
            "agent.metrics: cannot listen on {addr}: {e} (set another address, or \"off\")"
        )
    })
}

/// Serves `GET /metrics` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, src: Sources) {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let src = src.clone();
            async move {
                // Read on the spool's owner thread; the runtime only waits for the answer.
                let oldest = src.spool.oldest_pending_ms().await.ok().flatten();
                let body = render(&src, oldest);
                (
                    [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                    body,
                )
            }
        }),
    );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("metrics endpoint stopped: {e}");
    }
}
