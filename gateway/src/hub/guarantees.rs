//! Savings against the guarantee on the portfolio: each site's M&V plans, their newest
//! contract year as the site judged it (the `guarantee` records of `uplink/guarantee.rs`).
//! The hub does not re-judge: the guarantee and the evidence are the site's.

use serde::Serialize;

/// A plan's newest contract year.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlanGuarantee {
    pub plan: String,
    pub name: Option<String>,
    pub year: Option<i64>,
    /// met, shortfall, on_track, behind, not_established (see `mv::guarantee`).
    pub status: Option<String>,
    pub complete: bool,
    pub through: Option<String>,
    pub avoided_kwh: Option<f64>,
    pub guarantee_kwh: Option<f64>,
    pub shortfall_kwh: Option<f64>,
    /// P(true savings ≥ guarantee), 0-1.
    pub confidence: Option<f64>,
}

const GUARANTEE_SQL: &str = "
SELECT DISTINCT ON (site, body->>'plan') site, body->>'plan', body->>'name', kw_int(body->'year'),
       body->>'status', coalesce(kw_bool(body->'complete'), false), body->>'through',
       kw_num(body->'avoided_kwh'), kw_num(body->'guarantee_kwh'), kw_num(body->'shortfall_kwh'),
       kw_num(body->'confidence')
FROM records
WHERE kind = 'guarantee' AND ($1::text[] IS NULL OR site = ANY($1))
ORDER BY site, body->>'plan', kw_int(body->'year') DESC NULLS LAST";

/// (site, plan's newest year) of the sites in `only` (every site with `None`).
pub async fn newest(
    client: &deadpool_postgres::Client,
    only: &Option<Vec<String>>,
) -> anyhow::Result<Vec<(String, PlanGuarantee)>> {
    let rows = client.query(GUARANTEE_SQL, &[only]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                PlanGuarantee {
                    plan: r.get::<_, Option<String>>(1).unwrap_or_default(),
                    name: r.get(2),
                    year: r.get(3),
                    status: r.get(4),
                    complete: r.get(5),
                    through: r.get(6),
                    avoided_kwh: r.get(7),
                    guarantee_kwh: r.get(8),
                    shortfall_kwh: r.get(9),
                    confidence: r
                        .get::<_, Option<f64>>(10)
                        .filter(|c| (0.0..=1.0).contains(c)),
                },
            )
        })
        .collect())
}
