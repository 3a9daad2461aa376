//! The administration of accounts (`kilowatch-gateway hub user …`): each change is one
//! transaction with its audit row. Passwords arrive hashed (hashing is the caller's, on a
//! blocking thread); tokens are made here and shown once.

use std::time::Duration;

use deadpool_postgres::Client;
use kilowatch_site::payload::is_identifier;
use serde::Serialize;
use serde_json::json;

use super::audit::{self, Event};
use super::secret::{self, RandomError};
use super::{Role, Scope};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("user name `{0}`: use 1-64 letters, digits, `.`, `_`, `-` or `@`")]
    BadName(String),
    #[error("site `{0}` is not a site id (1-64 letters, digits, `-` or `_`)")]
    BadSite(String),
    #[error("there is already a user `{0}`")]
    Exists(String),
    #[error("there is no user `{0}`")]
    NoUser(String),
    #[error("a plant user has exactly one site; `{0}` would have {1}")]
    PlantSites(String, usize),
    #[error("an admin sees every site; `{0}` takes no assignment")]
    AdminSites(String),
    #[error("scope {scope} is not for a {role} user")]
    Scope { scope: Scope, role: Role },
    #[error("a token needs at least one scope (--scope portfolio:read)")]
    NoScope,
    #[error("`{user}` has no token `{name}`")]
    NoToken { user: String, name: String },
    #[error("`{user}` already has a token `{name}`: revoke it first or choose another name")]
    TokenExists { user: String, name: String },
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
}

pub fn check_name(name: &str) -> Result<(), AccountError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AccountError::BadName(name.to_owned()))
    }
}

/// The sites a role may hold.
fn check_sites(name: &str, role: Role, sites: &[String]) -> Result<(), AccountError> {
    if let Some(bad) = sites.iter().find(|s| !is_identifier(s)) {
        return Err(AccountError::BadSite(bad.clone()));
    }
    match role {
        Role::Plant if sites.len() != 1 => Err(AccountError::PlantSites(name.into(), sites.len())),
        Role::Admin if !sites.is_empty() => Err(AccountError::AdminSites(name.into())),
        _ => Ok(()),
    }
}

async fn user_of(
    tx: &deadpool_postgres::Transaction<'_>,
    name: &str,
) -> Result<(i64, Role), AccountError> {
    let row = tx
        .query_opt(
            "SELECT id, role FROM users WHERE name = $1 FOR UPDATE",
            &[&name],
        )
        .await?
        .ok_or_else(|| AccountError::NoUser(name.to_owned()))?;
    let role: String = row.get(1);
    Ok((row.get(0), role.parse().unwrap_or(Role::Plant)))
}

async fn put_sites(
    tx: &deadpool_postgres::Transaction<'_>,
    id: i64,
    sites: &[String],
) -> Result<(), tokio_postgres::Error> {
    tx.execute("DELETE FROM user_sites WHERE user_id = $1", &[&id])
        .await?;
    for s in sites {
        tx.execute(
            "INSERT INTO user_sites(user_id, site) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&id, s],
        )
        .await?;
    }
    Ok(())
}

pub async fn add_user(
    c: &mut Client,
    actor: &str,
    name: &str,
    role: Role,
    password_hash: Option<String>,
    sites: &[String],
) -> Result<(), AccountError> {
    check_name(name)?;
    check_sites(name, role, sites)?;
    let tx = c.transaction().await?;
    let id: Option<i64> = tx
        .query_opt(
            "INSERT INTO users(name, role, password_hash) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING RETURNING id",
            &[&name, &role.as_str(), &password_hash],
        )
        .await?
        .map(|r| r.get(0));
    let id = id.ok_or_else(|| AccountError::Exists(name.to_owned()))?;
    put_sites(&tx, id, sites).await?;
    audit::record(
        &tx,
        Event {
            actor: Some(actor),
            event: "user_added",
            subject: Some(name),
            remote: None,
            detail: json!({ "role": role.as_str(), "sites": sites, "password": password_hash.is_some() }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sets (or with `None` removes) the password, and ends the user's sessions.
pub async fn set_password(
    c: &mut Client,
    actor: &str,
    name: &str,
    password_hash: Option<String>,
) -> Result<(), AccountError> {
    let tx = c.transaction().await?;
    let (id, _) = user_of(&tx, name).await?;
    tx.execute(
        "UPDATE users SET password_hash = $2, changed_at = now() WHERE id = $1",
        &[&id, &password_hash],
    )
    .await?;
    let ended = tx
        .execute("DELETE FROM sessions WHERE user_id = $1", &[&id])
        .await?;
    audit::record(
        &tx,
        Event {
            actor: Some(actor),
            event: "password_changed",
            subject: Some(name),
            remote: None,
            detail: json!({ "password": password_hash.is_some(), "sessions_ended": ended }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How `assign` changes a user's sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignMode {
    Replace,
    Add,
    Remove,
}

/// Changes a user's sites; returns them as they are now.
pub async fn assign(
    c: &mut Client,
    actor: &str,
    name: &str,
    sites: &[String],
    mode: AssignMode,
) -> Result<Vec<String>, AccountError> {
    let tx = c.transaction().await?;
    let (id, role) = user_of(&tx, name).await?;
    let current: Vec<String> = tx
        .query(
            "SELECT site FROM user_sites WHERE user_id = $1 ORDER BY site",
            &[&id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut next: Vec<String> = match mode {
        AssignMode::Replace => sites.to_vec(),
        AssignMode::Add => current.iter().chain(sites).cloned().collect(),
        AssignMode::Remove => current
            .iter()
            .filter(|s| !sites.contains(s))
            .cloned()
            .collect(),
    };
    next.sort();
    next.dedup();
    check_sites(name, role, &next)?;
    put_sites(&tx, id, &next).await?;
    audit::record(
        &tx,
        Event {
            actor: Some(actor),
            event: "sites_assigned",
            subject: Some(name),
            remote: None,
            detail: json!({ "before": current, "after": next }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(next)
}

/// Makes an API token; returns it (shown once: only its hash is kept).
pub async fn create_token(
    c: &mut Client,
    actor: &str,
    user: &str,
    token_name: &str,
    scopes: &[Scope],
    valid_for: Option<Duration>,
) -> Result<String, AccountError> {
    check_name(token_name)?;
    if scopes.is_empty() {
        return Err(AccountError::NoScope);
    }
    let tx = c.transaction().await?;
    let (id, role) = user_of(&tx, user).await?;
    if let Some(&scope) = scopes.iter().find(|s| !s.allowed_for(role)) {
        return Err(AccountError::Scope { scope, role });
    }
    let token = secret::new_token()?;
    let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let secs = valid_for.map(|d| d.as_secs_f64());
    let made = tx
        .execute(
            "INSERT INTO api_tokens(user_id, name, token_hash, scopes, expires_at)
             VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::float8))
             ON CONFLICT (user_id, name) DO NOTHING",
            &[&id, &token_name, &secret::digest(&token), &names, &secs],
        )
        .await?;
    if made == 0 {
        return Err(AccountError::TokenExists {
            user: user.into(),
            name: token_name.into(),
        });
    }
    audit::record(
        &tx,
        Event {
            actor: Some(actor),
            event: "token_created",
            subject: Some(user),
            remote: None,
            detail: json!({ "token": token_name, "scopes": names, "valid_for_s": secs }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// Deletes a token (its name is free again).
pub async fn revoke_token(
    c: &mut Client,
    actor: &str,
    user: &str,
    token_name: &str,
) -> Result<(), AccountError> {
    let tx = c.transaction().await?;
    let (id, _) = user_of(&tx, user).await?;
    let n = tx
        .execute(
            "DELETE FROM api_tokens WHERE user_id = $1 AND name = $2",
            &[&id, &token_name],
        )
        .await?;
    if n == 0 {
        return Err(AccountError::NoToken {
            user: user.into(),
            name: token_name.into(),
        });
    }
    audit::record(
        &tx,
        Event {
            actor: Some(actor),
            event: "token_revoked",
            subject: Some(user),
            remote: None,
            detail: json!({ "token": token_name }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct UserRow {
    pub name: String,
    pub role: String,
    pub sites: Vec<String>,
    pub password: bool,
    pub disabled: bool,
    pub tokens: Vec<String>,
}

pub async fn list(c: &Client) -> Result<Vec<UserRow>, AccountError> {
    let rows = c
        .query(
            "SELECT u.name, u.role, u.password_hash IS NOT NULL, u.disabled,
                    array(SELECT site FROM user_sites WHERE user_id = u.id ORDER BY site),
                    array(SELECT name FROM api_tokens WHERE user_id = u.id ORDER BY name)
             FROM users u ORDER BY u.name",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| UserRow {
            name: r.get(0),
            role: r.get(1),
            password: r.get(2),
            disabled: r.get(3),
            sites: r.get(4),
            tokens: r.get(5),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_site_counts_are_checked_before_the_database() {
        assert!(check_name("coach.lin@esco").is_ok());
        assert!(check_name("").is_err() && check_name("a b").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(check_sites("p", Role::Plant, &s(&["plant-a"])).is_ok());
        assert!(matches!(
            check_sites("p", Role::Plant, &s(&["plant-a", "plant-b"])),
            Err(AccountError::PlantSites(_, 2))
        ));
        assert!(check_sites("p", Role::Plant, &[]).is_err());
        assert!(check_sites("c", Role::Coach, &s(&["a", "b", "c"])).is_ok());
        assert!(check_sites("c", Role::Coach, &s(&["bad site"])).is_err());
        assert!(check_sites("a", Role::Admin, &s(&["a"])).is_err());
    }
}
