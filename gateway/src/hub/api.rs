//! The hub's JSON API, the ground the portfolio pages build on. No authentication yet
//! (users, roles and tokens come in `hub/auth/`), so it is served on loopback only.
//!
//! `GET /api/v1/portfolio/sites`: every site heard from, with when it was last heard, the
//! start of its newest 15-minute rollup, the energy of its meters over the last 24 hours
//! (the sum of every `active_power` series' kWh: sub-meters are counted beside their parents)
//! and its newest day's data completeness (the mean over its devices).

use std::future::Future;
use std::net::SocketAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use deadpool_postgres::Pool;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct SiteSummary {
    pub site: String,
    /// ms since the epoch.
    pub last_seen: i64,
    pub last_rollup: Option<i64>,
    pub energy_kwh_24h: Option<f64>,
    pub completeness: Option<Completeness>,
}

#[derive(Debug, Serialize)]
pub struct Completeness {
    /// Plant-local date.
    pub date: String,
    /// 0..1.
    pub ratio: f64,
}

#[derive(Serialize)]
struct Sites {
    sites: Vec<SiteSummary>,
}

const SITES_SQL: &str = "
SELECT s.site,
       (extract(epoch FROM s.last_seen) * 1000)::bigint,
       (SELECT (extract(epoch FROM max(r.at)) * 1000)::bigint FROM records r
         WHERE r.kind = 'rollup' AND r.site = s.site),
       (SELECT sum((r.body->>'integral')::float8) FROM records r
         WHERE r.kind = 'rollup' AND r.site = s.site AND r.body->>'quantity' = 'active_power'
           AND r.at >= now() - interval '24 hours'),
       c.date, c.ratio
FROM sites s
LEFT JOIN LATERAL (
    SELECT r.body->>'date' AS date, avg((r.body->>'ratio')::float8) AS ratio FROM records r
    WHERE r.kind = 'completeness' AND r.site = s.site
    GROUP BY 1 ORDER BY 1 DESC LIMIT 1
) c ON true
ORDER BY s.site";

pub async fn sites(pool: &Pool) -> anyhow::Result<Vec<SiteSummary>> {
    let client = pool.get().await?;
    let rows = client.query(SITES_SQL, &[]).await?;
    Ok(rows
        .iter()
        .map(|r| SiteSummary {
            site: r.get(0),
            last_seen: r.get(1),
            last_rollup: r.get(2),
            energy_kwh_24h: r.get(3),
            completeness: match (r.get::<_, Option<String>>(4), r.get::<_, Option<f64>>(5)) {
                (Some(date), Some(ratio)) => Some(Completeness { date, ratio }),
                _ => None,
            },
        })
        .collect())
}

async fn get_sites(State(pool): State<Pool>) -> Result<Json<Sites>, (StatusCode, String)> {
    match sites(&pool).await {
        Ok(sites) => Ok(Json(Sites { sites })),
        Err(e) => {
            tracing::warn!("portfolio query failed: {e:#}");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "the portfolio database is not available".into(),
            ))
        }
    }
}

pub fn router(pool: Pool) -> Router {
    Router::new()
        .route("/api/v1/portfolio/sites", get(get_sites))
        .with_state(pool)
}

/// Serves the API on `addr` (loopback only, see the module's note) until `shutdown`.
pub async fn serve(
    addr: SocketAddr,
    pool: Pool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        addr.ip().is_loopback(),
        "--http {addr}: the hub's API has no authentication yet; serve it on a loopback address (127.0.0.1) behind your own proxy"
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("--http {addr}: {e}"))?;
    tracing::info!(%addr, "hub API serving");
    axum::serve(listener, router(pool))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
