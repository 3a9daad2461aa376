//! The audit log: logins, failed and refused logins, logouts, and every change the
//! administration makes to users, sites and tokens. Rows are only ever added.

use deadpool_postgres::GenericClient;
use serde::Serialize;

/// One event to record.
pub struct Event<'a> {
    /// Who did it: a user name, `cli:<unix user>`, or nobody (a failed login).
    pub actor: Option<&'a str>,
    pub event: &'a str,
    /// The account it is about.
    pub subject: Option<&'a str>,
    pub remote: Option<&'a str>,
    pub detail: serde_json::Value,
}

pub async fn record<C: GenericClient>(c: &C, e: Event<'_>) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "INSERT INTO audit_log(actor, event, subject, remote, detail) VALUES ($1, $2, $3, $4, $5)",
        &[&e.actor, &e.event, &e.subject, &e.remote, &e.detail],
    )
    .await?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub id: i64,
    /// ms since the epoch.
    pub at: i64,
    pub actor: Option<String>,
    pub event: String,
    pub subject: Option<String>,
    pub remote: Option<String>,
    pub detail: serde_json::Value,
}

/// The newest `limit` rows, newest first; only `subject`'s when given.
pub async fn recent<C: GenericClient>(
    c: &C,
    limit: i64,
    subject: Option<&str>,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT id, (extract(epoch FROM at) * 1000)::bigint, actor, event, subject, remote, detail
             FROM audit_log WHERE $2::text IS NULL OR subject = $2
             ORDER BY id DESC LIMIT $1",
            &[&limit, &subject],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Row {
            id: r.get(0),
            at: r.get(1),
            actor: r.get(2),
            event: r.get(3),
            subject: r.get(4),
            remote: r.get(5),
            detail: r.get(6),
        })
        .collect())
}
