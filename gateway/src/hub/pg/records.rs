//! The upserts: a batch of records (and of rejected messages) in one transaction.

use std::collections::BTreeSet;

use deadpool_postgres::Client;

use crate::hub::wire::Record;

/// A message that is not a record: topic, reason, payload.
pub type Rejected = (String, String, Vec<u8>);

/// Stores `records` (newest version wins) and `rejected`; returns the rows changed. Rows are
/// written in key order, so two instances writing overlapping batches (a redelivered
/// message) lock them in the same order and cannot deadlock.
pub async fn store(
    client: &mut Client,
    records: &mut [Record],
    rejected: &[Rejected],
) -> Result<u64, tokio_postgres::Error> {
    records.sort_by(|a, b| (&a.site, &a.kind, &a.key).cmp(&(&b.site, &b.kind, &b.key)));
    let tx = client.transaction().await?;
    let mut changed = 0;
    if !records.is_empty() {
        let put = tx
            .prepare_cached(
                "INSERT INTO records(site, kind, key, version, at, body)
                 VALUES ($1, $2, $3, $4, to_timestamp($5::float8 / 1000), $6)
                 ON CONFLICT (site, kind, key) DO UPDATE
                   SET version = EXCLUDED.version, at = EXCLUDED.at, body = EXCLUDED.body,
                       received_at = now()
                 WHERE records.version < EXCLUDED.version",
            )
            .await?;
        for r in records.iter() {
            let at = r.at.map(|ms| ms as f64);
            changed += tx
                .execute(&put, &[&r.site, &r.kind, &r.key, &r.version, &at, &r.body])
                .await?;
        }
        let seen = tx
            .prepare_cached(
                "INSERT INTO sites(site) VALUES ($1)
                 ON CONFLICT (site) DO UPDATE SET last_seen = now()",
            )
            .await?;
        let sites: BTreeSet<&str> = records.iter().map(|r| r.site.as_str()).collect();
        for site in sites {
            tx.execute(&seen, &[&site]).await?;
        }
    }
    for (topic, reason, payload) in rejected {
        tx.execute(
            "INSERT INTO rejected(topic, reason, payload) VALUES ($1, $2, $3)",
            &[topic, reason, payload],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(changed)
}
