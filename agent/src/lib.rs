//! kilowatch agent library: the acquisition pipeline and the definitions agent and gateway share
//! (quantity vocabulary, units, MQTT payload schema, site configuration).

pub mod acquire;
pub mod config;
pub mod decode;
pub mod forward;
pub mod health;
pub mod metrics;
pub mod mqtt;
pub mod payload;
pub mod plan;
pub mod poll;
pub mod profile;
pub mod run;
pub mod scan;
pub mod schedule;
pub mod spool;
pub mod vocab;

/// Logs through `tracing` to stderr; `RUST_LOG` overrides the default (`info`, with the
/// embedded broker silenced: it reports ordinary disconnects as errors).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rumqttd=off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes only on a terminal: log files and journald get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves when the process gets Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
