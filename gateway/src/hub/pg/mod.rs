//! PostgreSQL: a deadpool pool of tokio-postgres connections, the migrations and the upserts.

pub mod migrations;
pub mod records;

use anyhow::Context as _;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::config::PostgresConfig;

/// Reads the password from its file or variable (never logged).
fn password(cfg: &PostgresConfig) -> anyhow::Result<Option<String>> {
    if let Some(path) = &cfg.password_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("postgres.password_file: cannot read {path}"))?;
        return Ok(Some(
            text.lines().next().unwrap_or("").trim_end().to_owned(),
        ));
    }
    if let Some(var) = &cfg.password_env {
        return Ok(Some(std::env::var(var).map_err(|_| {
            anyhow::anyhow!("postgres.password_env: environment variable {var} is not set")
        })?));
    }
    Ok(None)
}

/// The pool (connections are opened when first needed).
pub fn pool(cfg: &PostgresConfig) -> anyhow::Result<Pool> {
    let mut pg: tokio_postgres::Config = cfg.url.parse().context("postgres.url")?;
    if let Some(p) = password(cfg)? {
        pg.password(p);
    }
    pg.application_name("kilowatch-hub");
    let manager = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(cfg.pool_size)
        .runtime(Runtime::Tokio1)
        .build()
        .context("postgres: cannot build the connection pool")
}

/// Opens a connection and brings the schema up to date; returns its version.
pub async fn prepare(pool: &Pool) -> anyhow::Result<i32> {
    let mut client = pool
        .get()
        .await
        .context("postgres: cannot connect (check postgres.url and the password)")?;
    migrations::migrate(&mut client).await
}
