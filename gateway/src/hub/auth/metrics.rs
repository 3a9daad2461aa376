//! Counters of the hub's sign-ins, for `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct AuthMetrics {
    pub logins: AtomicU64,
    /// Wrong user name or password.
    pub login_failures: AtomicU64,
    /// Refused while the account was locked out (the password was not even checked).
    pub login_locked: AtomicU64,
    /// Requests refused for a site or scope the user does not have.
    pub forbidden: AtomicU64,
    /// Requests refused for want of a session or token, or with a bad one.
    pub unauthenticated: AtomicU64,
    /// State-changing requests refused by the CSRF checks.
    pub csrf_refused: AtomicU64,
}

impl AuthMetrics {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, v) in [
            (
                "kilowatch_hub_logins_total",
                "Successful logins.",
                &self.logins,
            ),
            (
                "kilowatch_hub_login_failures_total",
                "Logins refused for a wrong user name or password.",
                &self.login_failures,
            ),
            (
                "kilowatch_hub_login_locked_total",
                "Logins refused because the account was locked out after repeated failures.",
                &self.login_locked,
            ),
            (
                "kilowatch_hub_forbidden_total",
                "Requests refused for a site or scope the user does not have.",
                &self.forbidden,
            ),
            (
                "kilowatch_hub_unauthenticated_total",
                "Requests refused without a valid session or token.",
                &self.unauthenticated,
            ),
            (
                "kilowatch_hub_csrf_refused_total",
                "State-changing requests refused by the CSRF checks.",
                &self.csrf_refused,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                v.load(Ordering::Relaxed)
            ));
        }
        out
    }
}
