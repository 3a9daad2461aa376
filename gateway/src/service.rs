//! The gateway service: ingest and HTTP side by side, stopped together.

mod api;
mod refresh;

pub use api::API_NICE;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use kilowatch_site::config::SiteConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::enpi::Assets;
use crate::http::AppState;
use crate::ingest::{self, IngestStats};
use crate::store::{Readers, Store, StoreSettings, StoreWriter};
use kilowatch_site::config::Retention;
use kilowatch_site::profile::ProfileLibrary;

/// Resolves once `rx` turns true.
pub async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Runs ingest and the HTTP server until `shutdown` completes.
pub async fn run(
    config: SiteConfig,
    assets: Assets,
    db: PathBuf,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    run_with(
        config,
        assets,
        db,
        listener,
        shutdown,
        Arc::new(IngestStats::default()),
    )
    .await
}

/// [`run`] with the ingest counters supplied by the caller (the demo waits on `subscribed`).
pub async fn run_with(
    config: SiteConfig,
    assets: Assets,
    db: PathBuf,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    stats: Arc<IngestStats>,
) -> anyhow::Result<()> {
    let settings = StoreSettings::for_site(&config, &ProfileLibrary::builtin());
    // The writer opens (creates, migrates) the database before any reader.
    let (writer, live) = {
        let db = db.clone();
        let (store, live) = tokio::task::spawn_blocking(move || {
            let mut s = Store::open(&db)?.with_settings(settings);
            s.set_cache_mib(WRITER_CACHE_MIB)?;
            let live = s.keep_live()?;
            Ok::<_, crate::store::StoreError>((s, live))
        })
        .await??;
        (StoreWriter::spawn(store)?, live)
    };
    let readers = {
        let db = db.clone();
        Arc::new(tokio::task::spawn_blocking(move || Readers::open(&db, READERS)).await??)
    };
    let addr = listener.local_addr()?;
    let token = access_token(&config, addr)?;
    let (alarms, alarm_runner) = crate::alarms::Alarms::new(&config, &assets, config.file())?;
    // Alarm notifications, when the site has channels (secrets are read now: a bad one stops
    // the start with its key).
    let notify_sender = if config.notifications.is_empty() {
        None
    } else {
        Some(crate::notify::Sender::new(&config, None)?)
    };
    let state = Arc::new(AppState {
        notify: notify_sender
            .as_ref()
            .map_or_else(Default::default, |s| s.stats.clone()),
        site_name: config.site.name.clone().unwrap_or(config.site.id.clone()),
        store: readers.clone(),
        ingest: stats.clone(),
        token,
        influx: Arc::default(),
        assets: Arc::new(assets.clone()),
        live: live.clone(),
        latest_body: Default::default(),
        alarms: alarms.clone(),
        writer: Some(writer.clone()),
        language: config.site.language,
        review: Arc::new(crate::review::ReviewSite::for_site(&config)),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let influx_stats = state.influx.clone();
    let state_influx = state.influx.clone();
    let (state_assets, state_review, state_site_name) = (
        state.assets.clone(),
        state.review.clone(),
        state.site_name.clone(),
    );
    let http = api::spawn(listener, state, stopped(stop_rx.clone()))?;
    tracing::info!(%addr, db = %db.display(), "gateway serving");
    let maintenance = tokio::spawn(maintain(
        writer.clone(),
        db.clone(),
        config.gateway.retention.clone(),
        assets,
        stopped(stop_rx.clone()),
    ));
    let influx = match config.gateway.influx.clone() {
        Some(cfg) => {
            // Check credentials and URL now, so a bad setting stops the start with its key.
            crate::influx::Writer::new(&cfg)?;
            Some(tokio::spawn(crate::influx::forward(
                writer.clone(),
                cfg,
                influx_stats,
                stop_rx.clone(),
            )))
        }
        None => None,
    };
    // The hub outbox's triggers follow `[hub]` at every start (dropped when it is gone).
    crate::uplink::prepare(&config, &writer).await?;
    let uplink = config.hub.is_some().then(|| {
        tokio::spawn(crate::uplink::forward(
            config.clone(),
            writer.clone(),
            Arc::default(),
            state_assets.plans.clone(),
            stop_rx.clone(),
        ))
    });
    // Last month's report on the plant-local 1st, last year's GHG summary in January.
    let reports = tokio::spawn(crate::report::schedule::run(
        crate::report::schedule::Schedule {
            readers: readers.clone(),
            writer: writer.clone(),
            assets: state_assets.clone(),
            review: state_review.clone(),
            site_name: state_site_name.clone(),
            lang: config.site.language,
            mail_channels: crate::report::mail::email_channels(&config),
        },
        stop_rx.clone(),
    ));
    let notify = notify_sender
        .map(|sender| tokio::spawn(crate::notify::run(sender, writer.clone(), stop_rx.clone())));
    let sources = {
        let (ingest, influx, health) = (stats.clone(), state_influx, stats.clone());
        crate::alarms::Sources {
            spools: Box::new(move || {
                health
                    .agents()
                    .iter()
                    .filter_map(|h| {
                        let agent = h["agent"].as_str()?.to_owned();
                        let spool = &h["spool"];
                        Some((
                            agent,
                            spool["pending"].as_u64()?,
                            spool["evicted"].as_u64()?,
                        ))
                    })
                    .collect()
            }),
            lost_total: Box::new(move || ingest.sequences().iter().map(|s| s.counts.lost).sum()),
            backlog: Box::new(move || {
                influx
                    .pending_batches
                    .load(std::sync::atomic::Ordering::Relaxed)
            }),
        }
    };
    let alarm_task = config.gateway.alarms.then(|| {
        let run = alarm_runner.run(writer.clone(), readers, sources, stopped(stop_rx.clone()));
        tokio::spawn(run)
    });
    if alarm_task.is_none() {
        tracing::info!("gateway.alarms = false: no alarm rule is evaluated");
    }
    let feed = config.gateway.alarms.then_some(alarms);
    let ingest = ingest::consume(&config, writer, stats, feed, stopped(stop_rx));
    tokio::pin!(ingest);
    let result = tokio::select! {
        r = &mut ingest => r,
        () = shutdown => {
            let _ = stop_tx.send(true);
            ingest.await
        }
    };
    let _ = stop_tx.send(true);
    tokio::task::spawn_blocking(move || http.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the HTTP API thread panicked"))??;
    maintenance.await??;
    reports.await??;
    if let Some(t) = alarm_task {
        t.await??;
    }
    if let Some(t) = influx {
        t.await??;
    }
    if let Some(t) = notify {
        t.await??;
    }
    if let Some(t) = uplink {
        t.await??;
    }
    result
}

/// The API token: required for a non-loopback address unless explicitly waived.
pub fn access_token(
    config: &SiteConfig,
    addr: std::net::SocketAddr,
) -> anyhow::Result<Option<String>> {
    let g = &config.gateway;
    let token = if let Some(path) = &g.access_token_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("gateway.access_token_file: cannot read {path}: {e}"))?;
        let t = text.lines().next().unwrap_or("").trim().to_owned();
        anyhow::ensure!(!t.is_empty(), "gateway.access_token_file: {path} is empty");
        Some(t)
    } else if let Some(var) = &g.access_token_env {
        Some(std::env::var(var).map_err(|_| {
            anyhow::anyhow!("gateway.access_token_env: environment variable {var} is not set")
        })?)
    } else {
        None
    };
    if token.is_none() && !addr.ip().is_loopback() {
        if g.allow_unauthenticated {
            tracing::warn!(%addr, "the HTTP API is reachable from the network WITHOUT an access token (gateway.allow_unauthenticated = true)");
        } else {
            anyhow::bail!(
                "gateway.http: {addr} is reachable from the network; set gateway.access_token_file or gateway.access_token_env (or, knowingly, gateway.allow_unauthenticated = true)"
            );
        }
    }
    Ok(token)
}

/// Read-only connections for the HTTP API.
const READERS: usize = 4;

/// The writer connection's page cache: the newest pages of ~20 000 series' samples and
/// rollups stay in it (SQLite's default 2 MiB held ~500 pages).
const WRITER_CACHE_MIB: u32 = 64;

/// Series purged per writer job: retention never holds the writer (and so ingest) for long.
const PURGE_SERIES_PER_JOB: usize = 50;

/// M&V plan periods evaluated per maintenance tick (each runs the savings engine once).
const PLAN_PERIODS_PER_TICK: usize = 4;

/// Keeps rollups current (every 2 s), applies retention (hourly), keeps the
/// energy-performance indicators current (every minute) and the M&V plans' results (every 10
/// minutes, a few periods per tick while catching up). Everything is written by the writer
/// thread, in short jobs; the EnPIs and plans are computed on a read-only connection of their
/// own (they read months of rollups and run the savings engine, which must not hold up ingest
/// on the writer thread nor take the HTTP API's readers).
pub async fn maintain(
    writer: StoreWriter,
    db: PathBuf,
    retention: Retention,
    assets: Assets,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let reader = Arc::new(tokio::task::spawn_blocking(move || Readers::open(&db, 1)).await??);
    let assets = Arc::new(assets);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_purge: Option<std::time::Instant> = None;
    let mut last_enpi: Option<std::time::Instant> = None;
    let mut last_plans: Option<std::time::Instant> = None;
    let mut plans_pending = false;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut shutdown => break,
        }
        let purge_due =
            last_purge.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(3600));
        let enpi_due = last_enpi.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60));
        let plans_due = !assets.plans.is_empty()
            && (plans_pending
                || last_plans.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(600)));
        // A stop does not wait for the tick: a full EnPI refresh or a plan's savings engine
        // can take many seconds, and every write is its own transaction on the writer thread,
        // so what was not written is simply done again at the next start.
        let tick = maintenance_tick(
            &writer,
            &reader,
            &retention,
            assets.clone(),
            (enpi_due, plans_due, purge_due),
        );
        let result = tokio::select! {
            r = tick => r,
            () = &mut shutdown => break,
        };
        if purge_due {
            last_purge = Some(std::time::Instant::now());
        }
        if enpi_due {
            last_enpi = Some(std::time::Instant::now());
        }
        if plans_due {
            last_plans = Some(std::time::Instant::now());
        }
        match result {
            Ok(pending) => plans_pending = plans_due && pending,
            Err(e) => {
                plans_pending = false;
                tracing::error!("maintenance failed: {e:#}");
            }
        }
    }
    Ok(())
}

/// One maintenance tick: rollups, then what is due of EnPIs, plans and retention. Returns
/// whether plan periods are left to evaluate.
async fn maintenance_tick(
    writer: &StoreWriter,
    reader: &Arc<Readers>,
    retention: &Retention,
    assets: Arc<Assets>,
    (enpi_due, plans_due, purge_due): (bool, bool, bool),
) -> anyhow::Result<bool> {
    // One transaction per job: ingest's batches go in between.
    while writer.call(|s| s.refresh_rollups(5000)).await? > 0 {}
    if enpi_due {
        // Another process (an `import`) may have written: the API's view follows.
        writer.call(|s| s.sync_live()).await?;
        refresh::enpi(
            writer,
            reader,
            &assets,
            chrono::Utc::now().timestamp_millis(),
        )
        .await?;
        // Demand-response results follow late data (a spool replayed) without a reader
        // asking: verified again, changed results stored.
        let a = assets.clone();
        let now = chrono::Utc::now().timestamp_millis();
        if let Some((rows, v)) = reader
            .read(move |s| crate::dr::verify_stored(s, &a, now))
            .await?
        {
            let changed = crate::dr::changed_results(&rows, &v);
            if !changed.is_empty() {
                writer
                    .call(move |s| s.save_dr_results(&changed, now))
                    .await?;
            }
        }
    }
    let mut pending = false;
    if plans_due {
        // A few periods per tick: a first evaluation of years of months does not hold the
        // rollups back.
        let now = chrono::Utc::now().timestamp_millis();
        let o = refresh::plans(writer, reader, &assets, now, PLAN_PERIODS_PER_TICK).await?;
        if o.computed > 0 {
            tracing::info!(
                computed = o.computed,
                left = o.pending,
                "M&V plans evaluated"
            );
        }
        pending = o.pending > 0;
    }
    if purge_due {
        let now = chrono::Utc::now().timestamp_millis();
        let ids = writer.call(|s| s.series_ids()).await?;
        let mut n = 0;
        for chunk in ids.chunks(PURGE_SERIES_PER_JOB) {
            let (chunk, retention) = (chunk.to_vec(), retention.clone());
            n += writer
                .call(move |s| s.purge_series(&chunk, now, &retention))
                .await?;
        }
        if n > 0 {
            tracing::info!(rows = n, "retention: old data deleted");
        }
    }
    Ok(pending)
}
