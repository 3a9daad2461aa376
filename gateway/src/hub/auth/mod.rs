//! Users and roles of the hub: local accounts (argon2id), sessions in a cookie, per-user API
//! tokens with scopes, an audit log, lockout after repeated failed logins.
//!
//! - `password`: hashing and checking passwords;
//! - `secret`: random session ids and tokens, and the hashes they are stored under;
//! - `scope`: what an API token may do;
//! - `csrf`: the checks a state-changing request passes when it comes with a session cookie;
//! - `accounts`: the administration (the `hub user` command): users, sites, tokens;
//! - `sessions`: logins, lockout, and finding the user behind a cookie or token;
//! - `audit`: the audit log;
//! - `http`: the extractor every portfolio handler takes, and the login/logout endpoints.
//!
//! Roles: `admin` sees every site and the audit log; `coach` sees the sites assigned to them;
//! `plant` sees its one site. A site gateway keeps its own token for machines; these accounts
//! are the hub's only.

pub mod accounts;
pub mod audit;
pub mod csrf;
pub mod http;
pub mod metrics;
pub mod password;
pub mod scope;
pub mod secret;
pub mod sessions;

use std::fmt;
use std::str::FromStr;

pub use scope::{Scope, Scopes};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Coach,
    Plant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Coach => "coach",
            Role::Plant => "plant",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown role `{0}`: admin, coach or plant")]
pub struct UnknownRole(String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "coach" => Ok(Role::Coach),
            "plant" => Ok(Role::Plant),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// How a request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A session cookie, with the session's CSRF token.
    Session { csrf: String },
    /// An API token (Authorization: Bearer), never subject to CSRF: browsers do not add it.
    Token { id: i64 },
}

/// The user behind a request, with what they may see and do.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub name: String,
    pub role: Role,
    /// Assigned sites (a coach's, a plant user's one); ignored for admins.
    pub sites: Vec<String>,
    pub scopes: Scopes,
    pub via: Via,
}

impl Principal {
    /// Whether the user may see `site`'s data.
    pub fn may_see(&self, site: &str) -> bool {
        self.role == Role::Admin || self.sites.iter().any(|s| s == site)
    }

    /// The sites a query is limited to; `None` for every site (an admin).
    pub fn site_filter(&self) -> Option<&[String]> {
        (self.role != Role::Admin).then_some(self.sites.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role, sites: &[&str]) -> Principal {
        Principal {
            user_id: 1,
            name: "u".into(),
            role,
            sites: sites.iter().map(|s| s.to_string()).collect(),
            scopes: Scopes::for_role(role),
            via: Via::Token { id: 1 },
        }
    }

    #[test]
    fn roles_see_their_sites_only() {
        let coach = who(Role::Coach, &["plant-a", "plant-b"]);
        assert!(coach.may_see("plant-a") && coach.may_see("plant-b"));
        assert!(!coach.may_see("plant-c"));
        let plant = who(Role::Plant, &["plant-c"]);
        assert!(plant.may_see("plant-c") && !plant.may_see("plant-a"));
        assert_eq!(plant.site_filter(), Some(&["plant-c".to_string()][..]));
        let admin = who(Role::Admin, &[]);
        assert!(admin.may_see("anything") && admin.site_filter().is_none());
        assert_eq!("coach".parse::<Role>().unwrap(), Role::Coach);
        assert!("root".parse::<Role>().is_err());
    }
}
