//! Schema migrations: numbered SQL files (migrations/NNNN_name.sql), applied in order, each
//! in its own transaction with its row in `schema_migrations`. Instances starting together
//! take an advisory lock, so one applies and the others find it done.

use anyhow::Context as _;
use tokio_postgres::Client;

/// (version, name, SQL), in order; a new migration is a new file and a new line here.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "records", include_str!("migrations/0001_records.sql")),
    (2, "auth", include_str!("migrations/0002_auth.sql")),
    (3, "idle", include_str!("migrations/0003_session_idle.sql")),
    (
        4,
        "numbers",
        include_str!("migrations/0004_json_numbers.sql"),
    ),
];

/// Any number of ours: the lock only serialises hub instances' migrations.
const LOCK: i64 = 0x006b_7768_7562;

/// Applies what is missing; returns the schema version now in force.
pub async fn migrate(client: &mut Client) -> anyhow::Result<i32> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK])
        .await
        .context("cannot take the migration lock")?;
    let result = apply(client).await;
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK])
        .await;
    result
}

async fn apply(client: &mut Client) -> anyhow::Result<i32> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer     PRIMARY KEY,
                name       text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await?;
    let row = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?;
    let mut current: i32 = row.get(0);
    let latest = MIGRATIONS.last().map_or(0, |m| m.0);
    anyhow::ensure!(
        current <= latest,
        "the database's hub schema is v{current}, newer than this build's v{latest}: run a newer kilowatch-gateway"
    );
    let from = current;
    for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > from) {
        let tx = client.transaction().await?;
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("migration {version:04}_{name} failed"))?;
        tx.execute(
            "INSERT INTO schema_migrations(version, name) VALUES ($1, $2)",
            &[&version, &name],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version, name, "hub schema migrated");
        current = version;
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_are_numbered_in_order() {
        for (i, m) in super::MIGRATIONS.iter().enumerate() {
            assert_eq!(m.0, i as i32 + 1, "{}", m.1);
        }
    }
}
