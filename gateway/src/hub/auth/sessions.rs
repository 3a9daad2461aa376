//! Logins and the user behind a request. A session is a random 256-bit id in an HttpOnly
//! cookie, kept as its hash with an expiry; an API token likewise. An account with
//! `lockout_failures` failed logins within `lockout_window` (since its last good one) is
//! refused without its password being checked until the window has passed; every attempt,
//! good, bad or refused, is in the audit log. Attempts on one account name are serialised
//! (across hub instances) so a burst of parallel guesses cannot all slip under the limit.
//! A session ends `session_ttl` after login or `session_idle` after its last request.

use std::time::Duration;

use deadpool_postgres::{GenericClient, Pool};
use serde_json::json;

use super::audit::{self, Event};
use super::secret::{self, RandomError};
use super::{password, Principal, Role, Scopes, Via};

/// The lockout and session settings (`[auth]` of hub.toml).
#[derive(Debug, Clone)]
pub struct Policy {
    pub lockout_failures: u32,
    pub lockout_window: Duration,
    pub session_ttl: Duration,
    pub session_idle: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            lockout_failures: 5,
            lockout_window: Duration::from_secs(15 * 60),
            session_ttl: Duration::from_secs(12 * 3600),
            session_idle: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("database: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error("the password check stopped: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// What a login attempt came to.
#[derive(Debug)]
pub enum Login {
    Ok {
        principal: Principal,
        /// The cookie's value (shown once).
        session: String,
    },
    /// Wrong name or password. `locked`: this failure locked the account.
    Failed { locked: bool },
    /// Refused unchecked: too many failures within the window.
    Locked,
}

const SECS: &str = "make_interval(secs => $2::float8)";
const SECS1: &str = "make_interval(secs => $1::float8)";
/// The first key of the per-account login lock (`pg_advisory_xact_lock(int, int)`).
const LOGIN_LOCK_CLASS: i32 = 0x6b77;

/// Failed logins of `name` within the window, since its last successful one.
async fn recent_failures<C: GenericClient>(
    c: &C,
    name: &str,
    window: Duration,
) -> Result<i64, tokio_postgres::Error> {
    let row = c
        .query_one(
            &format!(
                "SELECT count(*) FROM audit_log
                 WHERE subject = $1 AND event = 'login_failed' AND at > now() - {SECS}
                   AND at > coalesce((SELECT max(at) FROM audit_log
                                      WHERE subject = $1 AND event = 'login'), '-infinity')"
            ),
            &[&name, &window.as_secs_f64()],
        )
        .await?;
    Ok(row.get(0))
}

pub async fn login(
    pool: &Pool,
    policy: &Policy,
    name: &str,
    password: String,
    remote: Option<&str>,
) -> Result<Login, SessionError> {
    let mut client = pool.get().await?;
    // Names are at most 64 characters: a longer one is logged cut, and fails.
    let subject: String = name.chars().take(64).collect();
    let c = client.transaction().await?;
    // Counting the failures, checking the password and recording the outcome happen under a
    // lock on the name held to the end of the transaction, so parallel attempts on one account
    // take turns (on every hub instance: the lock is PostgreSQL's). The class key keeps these
    // apart from the migration lock.
    c.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&LOGIN_LOCK_CLASS, &subject],
    )
    .await?;
    let failures = recent_failures(&c, &subject, policy.lockout_window).await?;
    if failures >= i64::from(policy.lockout_failures) {
        audit::record(
            &c,
            Event {
                actor: None,
                event: "login_locked",
                subject: Some(&subject),
                remote,
                detail: json!({ "failures": failures }),
            },
        )
        .await?;
        c.commit().await?;
        return Ok(Login::Locked);
    }
    let user = c
        .query_opt(
            "SELECT id, role, password_hash FROM users WHERE name = $1 AND NOT disabled",
            &[&subject],
        )
        .await?;
    let stored: Option<String> = user.as_ref().and_then(|r| r.get(2));
    let ok =
        tokio::task::spawn_blocking(move || password::verify(&password, stored.as_deref())).await?;
    let user = match (ok, user) {
        (true, Some(u)) if subject == name => u,
        (_, user) => {
            let locked = failures + 1 >= i64::from(policy.lockout_failures);
            audit::record(
                &c,
                Event {
                    actor: None,
                    event: "login_failed",
                    subject: Some(&subject),
                    remote,
                    detail: json!({ "known_user": user.is_some(), "locked": locked }),
                },
            )
            .await?;
            c.commit().await?;
            return Ok(Login::Failed { locked });
        }
    };
    let (user_id, role): (i64, String) = (user.get(0), user.get(1));
    let role: Role = role.parse().unwrap_or(Role::Plant);
    let session = secret::new_secret()?;
    let csrf = secret::new_secret()?;
    c.execute(
        &format!(
            "INSERT INTO sessions(id_hash, user_id, csrf, expires_at, remote)
             VALUES ($1, $3, $4, now() + {SECS}, $5)"
        ),
        &[
            &secret::digest(&session),
            &policy.session_ttl.as_secs_f64(),
            &user_id,
            &csrf,
            &remote,
        ],
    )
    .await?;
    audit::record(
        &c,
        Event {
            actor: Some(&subject),
            event: "login",
            subject: Some(&subject),
            remote,
            detail: json!({}),
        },
    )
    .await?;
    // Housekeeping: expired and idle sessions of anyone.
    c.execute(
        &format!("DELETE FROM sessions WHERE expires_at < now() OR last_seen_at < now() - {SECS1}"),
        &[&policy.session_idle.as_secs_f64()],
    )
    .await?;
    let sites = sites_of(&c, user_id).await?;
    c.commit().await?;
    Ok(Login::Ok {
        principal: Principal {
            user_id,
            name: subject,
            role,
            sites,
            scopes: Scopes::for_role(role),
            via: Via::Session { csrf },
        },
        session,
    })
}

async fn sites_of<C: GenericClient>(
    c: &C,
    user_id: i64,
) -> Result<Vec<String>, tokio_postgres::Error> {
    Ok(c.query(
        "SELECT site FROM user_sites WHERE user_id = $1 ORDER BY site",
        &[&user_id],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect())
}

/// The user of a live session (neither expired nor idle for `idle`); the request counts as
/// activity.
pub async fn by_session(
    pool: &Pool,
    session: &str,
    idle: Duration,
) -> Result<Option<Principal>, SessionError> {
    let c = pool.get().await?;
    let row = c
        .query_opt(
            &format!(
                "UPDATE sessions s SET last_seen_at = now() FROM users u
                 WHERE s.id_hash = $1 AND u.id = s.user_id AND NOT u.disabled
                   AND s.expires_at > now() AND s.last_seen_at > now() - {SECS}
                 RETURNING u.id, u.name, u.role, s.csrf"
            ),
            &[&secret::digest(session), &idle.as_secs_f64()],
        )
        .await?;
    let Some(r) = row else { return Ok(None) };
    let role: Role = r.get::<_, String>(2).parse().unwrap_or(Role::Plant);
    let user_id: i64 = r.get(0);
    Ok(Some(Principal {
        user_id,
        name: r.get(1),
        role,
        sites: sites_of(&c, user_id).await?,
        scopes: Scopes::for_role(role),
        via: Via::Session { csrf: r.get(3) },
    }))
}

/// The user of a live API token, with the token's scopes.
pub async fn by_token(pool: &Pool, token: &str) -> Result<Option<Principal>, SessionError> {
    let c = pool.get().await?;
    let row = c
        .query_opt(
            "UPDATE api_tokens t SET last_used_at = now() FROM users u
             WHERE t.token_hash = $1 AND u.id = t.user_id AND NOT u.disabled
               AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
             RETURNING u.id, u.name, u.role, t.id, t.scopes",
            &[&secret::digest(token)],
        )
        .await?;
    let Some(r) = row else { return Ok(None) };
    let role: Role = r.get::<_, String>(2).parse().unwrap_or(Role::Plant);
    let user_id: i64 = r.get(0);
    let names: Vec<String> = r.get(4);
    Ok(Some(Principal {
        user_id,
        name: r.get(1),
        role,
        sites: sites_of(&c, user_id).await?,
        scopes: Scopes::stored(&names, role),
        via: Via::Token { id: r.get(3) },
    }))
}

/// Ends a session.
pub async fn logout(
    pool: &Pool,
    who: &Principal,
    session: &str,
    remote: Option<&str>,
) -> Result<(), SessionError> {
    let c = pool.get().await?;
    c.execute(
        "DELETE FROM sessions WHERE id_hash = $1",
        &[&secret::digest(session)],
    )
    .await?;
    audit::record(
        &c,
        Event {
            actor: Some(&who.name),
            event: "logout",
            subject: Some(&who.name),
            remote,
            detail: json!({}),
        },
    )
    .await?;
    Ok(())
}
