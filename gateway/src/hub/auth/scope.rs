//! What an API token may do. A token never reaches beyond its user's role: a coach's token
//! with `portfolio:read` reads the coach's sites, no others.

use std::fmt;
use std::str::FromStr;

use super::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// The portfolio's data (the sites the user may see).
    PortfolioRead,
    /// The audit log (admins only).
    AuditRead,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::PortfolioRead, Scope::AuditRead];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::PortfolioRead => "portfolio:read",
            Scope::AuditRead => "audit:read",
        }
    }

    /// Whether a user of `role` may hold this scope at all.
    pub fn allowed_for(self, role: Role) -> bool {
        match self {
            Scope::PortfolioRead => true,
            Scope::AuditRead => role == Role::Admin,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("unknown scope `{0}`: portfolio:read or audit:read")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

/// A set of scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Everything the role may do (a browser session).
    pub fn for_role(role: Role) -> Scopes {
        Scopes(
            Scope::ALL
                .into_iter()
                .filter(|s| s.allowed_for(role))
                .collect(),
        )
    }

    /// A stored token's scopes, limited to what its user's role allows now (a role changed
    /// after the token was made narrows it); unknown names are dropped.
    pub fn stored(names: &[String], role: Role) -> Scopes {
        let mut v: Vec<Scope> = names
            .iter()
            .filter_map(|n| n.parse().ok())
            .filter(|s: &Scope| s.allowed_for(role))
            .collect();
        v.sort();
        v.dedup();
        Scopes(v)
    }

    pub fn has(&self, s: Scope) -> bool {
        self.0.contains(&s)
    }

    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|s| s.as_str().to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_stay_within_the_role() {
        assert_eq!("portfolio:read".parse(), Ok(Scope::PortfolioRead));
        assert!("portfolio:write".parse::<Scope>().is_err());
        let names = vec![
            "audit:read".to_string(),
            "portfolio:read".into(),
            "bogus".into(),
        ];
        let coach = Scopes::stored(&names, Role::Coach);
        assert!(coach.has(Scope::PortfolioRead) && !coach.has(Scope::AuditRead));
        let admin = Scopes::stored(&names, Role::Admin);
        assert!(admin.has(Scope::AuditRead));
        assert_eq!(admin.names(), ["portfolio:read", "audit:read"]);
        let only_audit = Scopes::stored(&["audit:read".into()], Role::Admin);
        assert!(!only_audit.has(Scope::PortfolioRead));
        assert!(!Scopes::for_role(Role::Plant).has(Scope::AuditRead));
    }
}
