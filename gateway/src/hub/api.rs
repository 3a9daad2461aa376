//! The hub's portfolio API, every answer limited to the sites the caller may see (see
//! `auth/`): an admin's every site, a coach's assigned ones, a plant user's own.
//!
//! `GET /api/v1/portfolio/sites`: each site with when it was last heard, the start of its
//! newest 15-minute rollup, the energy of its meters over the last 24 hours (the sum of every
//! `active_power` series' kWh: sub-meters are counted beside their parents) and its newest
//! day's data completeness (the mean over its devices).
//! Besides: its open alarms, its latest month (energy, SEC, cost, CO2e), and its savings
//! plans' newest results with the combined uncertainty (see `portfolio`); the portfolio's
//! total savings likewise; and each plan's newest contract year against its guarantee.
//! `GET /api/v1/portfolio/sites/{site}`: one site (403 when the caller may not see it), with
//! each asset's indicators of its latest month and each savings plan.
//! `GET /api/v1/portfolio/benchmarks`: like assets across the caller's sites, with bands.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use deadpool_postgres::Pool;
use serde::Serialize;

use super::auth::http::{lang_of, ApiError, Shared};
use super::auth::{Principal, Scope};
use super::guarantees::{self, PlanGuarantee};
use super::portfolio::{self, Indicator, Month};
use crate::enpi::facts::StoredFacts;

#[derive(Debug, Serialize)]
pub struct SiteSummary {
    pub site: String,
    /// ms since the epoch.
    pub last_seen: i64,
    pub last_rollup: Option<i64>,
    pub energy_kwh_24h: Option<f64>,
    pub completeness: Option<Completeness>,
    /// Alarm occurrences raised and not (yet) cleared.
    pub open_alarms: i64,
    /// The newest month of the plant assets' EnPIs.
    pub month: Option<Month>,
    pub savings: Option<SiteSavings>,
    /// Each savings plan's newest contract year against its guarantee.
    pub guarantees: Vec<PlanGuarantee>,
}

/// A savings plan's newest result (its longest period ending last: the contract year to
/// date where the site has one).
#[derive(Debug, Clone, Serialize)]
pub struct PlanSavings {
    pub plan: String,
    pub from: String,
    pub to: String,
    pub avoided_kwh: Option<f64>,
    pub uncertainty_68_kwh: Option<f64>,
    pub verified: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SiteSavings {
    pub avoided_kwh: f64,
    /// Root-sum-square of the plans' 68 % uncertainties.
    pub uncertainty_68_kwh: f64,
    pub plans: Vec<PlanSavings>,
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
    /// The listed sites' savings together, uncertainty by root-sum-square.
    savings: Option<Total>,
}

#[derive(Serialize)]
struct Total {
    avoided_kwh: f64,
    uncertainty_68_kwh: f64,
}

const SITES_SQL: &str = "
SELECT s.site,
       (extract(epoch FROM s.last_seen) * 1000)::bigint,
       (SELECT (extract(epoch FROM max(r.at)) * 1000)::bigint FROM records r
         WHERE r.kind = 'rollup' AND r.site = s.site),
       (SELECT sum(kw_num(r.body->'integral')) FROM records r
         WHERE r.kind = 'rollup' AND r.site = s.site AND r.body->>'quantity' = 'active_power'
           AND r.at >= now() - interval '24 hours'),
       c.date, c.ratio,
       (SELECT count(*) FROM (SELECT 1 FROM records r WHERE r.kind = 'alarm' AND r.site = s.site
         GROUP BY r.body->>'id' HAVING NOT bool_or(r.body->>'state' = 'cleared')) a)
FROM sites s
LEFT JOIN LATERAL (
    SELECT r.body->>'date' AS date, avg(kw_num(r.body->'ratio')) AS ratio FROM records r
    WHERE r.kind = 'completeness' AND r.site = s.site
    GROUP BY 1 ORDER BY 1 DESC LIMIT 1
) c ON true
WHERE $1::text[] IS NULL OR s.site = ANY($1)
ORDER BY s.site";

/// Each asset's newest monthly EnPI facts: (site, asset, bucket, facts).
pub type AssetMonth = (String, String, i64, StoredFacts);

const ENPI_SQL: &str = "
SELECT DISTINCT ON (site, body->>'asset') site, body->>'asset', kw_int(body->'bucket'),
       body->'facts'
FROM records
WHERE kind = 'enpi' AND body->>'step' = '1mo' AND ($1::text[] IS NULL OR site = ANY($1))
ORDER BY site, body->>'asset', kw_int(body->'bucket') DESC NULLS LAST";

pub async fn asset_months(
    client: &deadpool_postgres::Client,
    only: &Option<Vec<String>>,
) -> anyhow::Result<Vec<AssetMonth>> {
    let rows = client.query(ENPI_SQL, &[only]).await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let facts: serde_json::Value = r.get(3);
            let facts: StoredFacts = serde_json::from_value(facts).ok()?;
            Some((
                r.get(0),
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<i64>>(2)?,
                facts,
            ))
        })
        .collect())
}

const SAVINGS_SQL: &str = "
SELECT DISTINCT ON (site, body->>'plan') site, body->>'plan', body->>'from', body->>'to',
       kw_num(body->'result'->'avoided'), kw_num(body->'result'->'uncertainty_68'),
       coalesce(kw_bool(body->'result'->'verified'), false),
       body->'result'->>'error'
FROM records
WHERE kind = 'savings' AND ($1::text[] IS NULL OR site = ANY($1))
ORDER BY site, body->>'plan', body->>'to' DESC, body->>'from' ASC";

async fn savings(
    client: &deadpool_postgres::Client,
    only: &Option<Vec<String>>,
) -> anyhow::Result<Vec<(String, PlanSavings)>> {
    let rows = client.query(SAVINGS_SQL, &[only]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let failed = r.get::<_, Option<String>>(7).is_some();
            (
                r.get(0),
                PlanSavings {
                    plan: r.get::<_, Option<String>>(1).unwrap_or_default(),
                    from: r.get::<_, Option<String>>(2).unwrap_or_default(),
                    to: r.get::<_, Option<String>>(3).unwrap_or_default(),
                    avoided_kwh: r.get::<_, Option<f64>>(4).filter(|_| !failed),
                    uncertainty_68_kwh: r.get::<_, Option<f64>>(5).filter(|_| !failed),
                    verified: r.get(6),
                },
            )
        })
        .collect())
}

/// A site's plans together; `None` without plans with figures.
fn site_savings(plans: Vec<PlanSavings>) -> Option<SiteSavings> {
    let with: Vec<&PlanSavings> = plans.iter().filter(|p| p.avoided_kwh.is_some()).collect();
    if with.is_empty() {
        return None;
    }
    Some(SiteSavings {
        avoided_kwh: with.iter().filter_map(|p| p.avoided_kwh).sum(),
        uncertainty_68_kwh: portfolio::rss(
            with.iter().map(|p| p.uncertainty_68_kwh.unwrap_or(0.0)),
        ),
        plans,
    })
}

/// Moves `site`'s rows out of `rows` (each row is taken once over all the sites).
fn take_site<T>(rows: &mut Vec<(String, T)>, site: &str) -> Vec<T> {
    let (theirs, rest): (Vec<_>, Vec<_>) = rows.drain(..).partition(|(s, _)| s == site);
    *rows = rest;
    theirs.into_iter().map(|(_, t)| t).collect()
}

/// The sites in `only` (every site with `None`).
pub async fn sites(pool: &Pool, only: Option<&[String]>) -> anyhow::Result<Vec<SiteSummary>> {
    let client = pool.get().await?;
    let only: Option<Vec<String>> = only.map(<[String]>::to_vec);
    let rows = client.query(SITES_SQL, &[&only]).await?;
    let months = asset_months(&client, &only).await?;
    let mut plans = savings(&client, &only).await?;
    let mut years = guarantees::newest(&client, &only).await?;
    let mut list: Vec<SiteSummary> = rows
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
            open_alarms: r.get(6),
            month: None,
            savings: None,
            guarantees: Vec::new(),
        })
        .collect();
    for s in &mut list {
        let mine: Vec<&AssetMonth> = months
            .iter()
            .filter(|m| m.0 == s.site && portfolio::is_plant(&m.3))
            .collect();
        if let Some(bucket) = mine.iter().map(|m| m.2).max() {
            let facts = mine.iter().filter(|m| m.2 == bucket).map(|m| &m.3);
            s.month = Some(portfolio::month(bucket, facts));
        }
        s.savings = site_savings(take_site(&mut plans, &s.site));
        s.guarantees = take_site(&mut years, &s.site);
    }
    Ok(list)
}

fn unavailable(hub: &Shared, headers: &HeaderMap, e: anyhow::Error) -> ApiError {
    tracing::warn!("portfolio query failed: {e:#}");
    hub.error(
        StatusCode::SERVICE_UNAVAILABLE,
        "hub-err-database",
        lang_of(headers),
    )
}

pub async fn get_sites(
    State(hub): State<Shared>,
    headers: HeaderMap,
    who: Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    hub.require(&who, Scope::PortfolioRead, lang_of(&headers))?;
    let list = sites(&hub.pool, who.site_filter())
        .await
        .map_err(|e| unavailable(&hub, &headers, e))?;
    let with: Vec<&SiteSavings> = list.iter().filter_map(|s| s.savings.as_ref()).collect();
    let savings = (!with.is_empty()).then(|| Total {
        avoided_kwh: with.iter().map(|s| s.avoided_kwh).sum(),
        uncertainty_68_kwh: portfolio::rss(with.iter().map(|s| s.uncertainty_68_kwh)),
    });
    Ok(Json(
        serde_json::to_value(Sites {
            sites: list,
            savings,
        })
        .unwrap_or_default(),
    ))
}

#[derive(Serialize)]
struct AssetRow {
    asset: String,
    bucket: i64,
    /// The indicators this asset has, by name.
    indicators: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
struct SiteDetail {
    #[serde(flatten)]
    summary: SiteSummary,
    assets: Vec<AssetRow>,
}

fn indicators(f: &StoredFacts) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    for ind in Indicator::ALL {
        if let Some(v) = ind.of(f) {
            let name = serde_json::to_value(ind).unwrap_or_default();
            if let Some(name) = name.as_str() {
                m.insert(name.to_owned(), v.into());
            }
        }
    }
    for (name, key) in [("energy_kwh", "kwh"), ("production", "production")] {
        if let Some(v) = portfolio::fact(f, key) {
            m.insert(name.to_owned(), v.into());
        }
    }
    m
}

pub async fn get_site(
    State(hub): State<Shared>,
    headers: HeaderMap,
    who: Principal,
    Path(site): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let lang = lang_of(&headers);
    hub.require_site(&who, &site, lang)?;
    let only = vec![site];
    let detail = async {
        let mut list = sites(&hub.pool, Some(&only)).await?;
        let Some(summary) = list.pop() else {
            return Ok(None);
        };
        let client = hub.pool.get().await?;
        let assets = asset_months(&client, &Some(only.clone()))
            .await?
            .into_iter()
            .map(|(_, asset, bucket, f)| AssetRow {
                asset,
                bucket,
                indicators: indicators(&f),
            })
            .collect();
        anyhow::Ok(Some(SiteDetail { summary, assets }))
    }
    .await
    .map_err(|e| unavailable(&hub, &headers, e))?;
    let detail = detail.ok_or_else(|| hub.error(StatusCode::NOT_FOUND, "hub-err-no-site", lang))?;
    Ok(Json(serde_json::to_value(detail).unwrap_or_default()))
}

#[derive(Serialize)]
struct BenchRow {
    site: String,
    asset: String,
    bucket: i64,
    value: f64,
    band: Option<&'static str>,
}

#[derive(Serialize)]
struct Bench {
    indicator: Indicator,
    unit: &'static str,
    bands: Option<portfolio::Bands>,
    /// Best first (every indicator here is better lower).
    rows: Vec<BenchRow>,
}

pub async fn get_benchmarks(
    State(hub): State<Shared>,
    headers: HeaderMap,
    who: Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    hub.require(&who, Scope::PortfolioRead, lang_of(&headers))?;
    let only: Option<Vec<String>> = who.site_filter().map(<[String]>::to_vec);
    let months = async {
        let client = hub.pool.get().await?;
        asset_months(&client, &only).await
    }
    .await
    .map_err(|e| unavailable(&hub, &headers, e))?;
    let benches: Vec<Bench> = Indicator::ALL
        .into_iter()
        .map(|ind| {
            let bands = ind.bands();
            let mut rows: Vec<BenchRow> = months
                .iter()
                .filter_map(|(site, asset, bucket, f)| {
                    let value = ind.of(f)?;
                    Some(BenchRow {
                        site: site.clone(),
                        asset: asset.clone(),
                        bucket: *bucket,
                        value,
                        band: bands.map(|b| b.band(value)),
                    })
                })
                .collect();
            rows.sort_by(|a, b| a.value.total_cmp(&b.value));
            Bench {
                indicator: ind,
                unit: ind.unit(),
                bands,
                rows,
            }
        })
        .collect();
    Ok(Json(serde_json::json!({ "benchmarks": benches })))
}
