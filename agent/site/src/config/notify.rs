//! `[[notifications]]`: where alarm notifications go (email over SMTP, webhooks), which
//! alarms each channel receives, and how often.
//!
//! Secrets (SMTP password, webhook signing key) are never written in the file: they come from a
//! file or an environment variable, checked by [`SiteConfig::check_notify_access`](super::SiteConfig).

use chrono::NaiveTime;
use serde::Deserialize;

use super::access::{check_env, check_secret_file};
use super::error::{ConfigError, Origin, Problem, Thing};
use crate::payload::is_identifier;

pub use super::alarms::Severity;

/// One notification channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyChannel {
    /// Identifier, unique among the channels (named by `notify test --channel`).
    pub id: String,
    pub kind: ChannelKind,
    // Email.
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password_file: Option<String>,
    pub password_env: Option<String>,
    /// PEM file of the certificate authorities to trust for the SMTP server besides the
    /// public ones (a company CA, or a test server's self-signed one).
    pub ca_file: Option<String>,
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    // Webhook.
    pub url: Option<String>,
    #[serde(default)]
    pub format: WebhookFormat,
    pub secret_file: Option<String>,
    pub secret_env: Option<String>,
    // Routing and pacing.
    /// The least severe alarm sent (default: warning).
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
    /// Only alarms of these assets (default: all).
    #[serde(default)]
    pub assets: Vec<String>,
    /// Which transitions are sent (default: raised and cleared).
    #[serde(default = "default_states")]
    pub states: Vec<String>,
    /// At most this many notifications per rolling hour; the rest wait for the digest (or, with
    /// no digest, for the hour to make room). None: no limit.
    pub max_per_hour: Option<u32>,
    /// Plant-local `HH:MM` of a daily digest of the last 24 hours' notifications.
    pub digest: Option<String>,
    /// Plant-local `HH:MM-HH:MM` (may wrap midnight) when only critical alarms are sent at
    /// once; the others wait for the digest (or the end of the quiet hours).
    pub quiet_hours: Option<String>,
    /// The dashboard's address as the recipients reach it (`https://energy.plant.example`),
    /// to make the alarm's link absolute.
    pub public_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Email,
    Webhook,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587), required.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// Plain text: only to a relay on this machine.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    #[default]
    Json,
    Slack,
    Teams,
}

/// The alarm transitions a channel may route.
pub const STATES: [&str; 3] = ["raised", "acknowledged", "cleared"];

fn default_min_severity() -> Severity {
    Severity::Warning
}

fn default_states() -> Vec<String> {
    vec!["raised".into(), "cleared".into()]
}

/// Parses a plant-local `HH:MM`.
pub fn parse_hhmm(text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M")
        .map_err(|_| format!("`{text}` is not a time of day (use HH:MM, e.g. 08:00)"))
}

/// Parses `HH:MM-HH:MM` (start and end differ; the range may wrap midnight).
pub fn parse_quiet_hours(text: &str) -> Result<(NaiveTime, NaiveTime), String> {
    let (a, b) = text
        .split_once('-')
        .ok_or_else(|| format!("`{text}` is not a range (use HH:MM-HH:MM, e.g. 22:00-06:00)"))?;
    let (a, b) = (parse_hhmm(a)?, parse_hhmm(b)?);
    if a == b {
        return Err(format!("`{text}` is empty (start and end are the same)"));
    }
    Ok((a, b))
}

impl NotifyChannel {
    /// The SMTP port: the given one, else 587 (STARTTLS), 465 (TLS) or 25.
    pub fn port(&self) -> u16 {
        self.smtp_port.unwrap_or(match self.security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        })
    }
}

/// Host part of an `http(s)://host[:port]/...` URL, without IPv6 brackets.
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split_once(']').map(|(h, _)| h);
    }
    Some(authority.split(':').next().unwrap_or(authority)).filter(|h| !h.is_empty())
}

/// `localhost` or a loopback address.
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks every channel; `assets` are the site's asset ids (empty: not checked).
pub(super) fn check_channels(
    channels: &[NotifyChannel],
    assets: &[String],
    file: &str,
) -> Result<(), ConfigError> {
    for (i, c) in channels.iter().enumerate() {
        let err = |key: &str, what: String| {
            Err(ConfigError::new(
                file,
                format!("notifications[{i}].{key}"),
                what,
            ))
        };
        if !is_identifier(&c.id) {
            return err(
                "id",
                format!("`{}` must be 1-64 letters, digits, `-` or `_`", c.id),
            );
        }
        if channels[..i].iter().any(|o| o.id == c.id) {
            return Err(ConfigError::at(
                file,
                format!("notifications[{i}].id"),
                Problem::Duplicate {
                    of: Thing::Channel,
                    id: c.id.clone(),
                },
            ));
        }
        let email_keys = [
            ("smtp_host", c.smtp_host.is_some()),
            ("smtp_port", c.smtp_port.is_some()),
            ("username", c.username.is_some()),
            ("password_file", c.password_file.is_some()),
            ("password_env", c.password_env.is_some()),
            ("ca_file", c.ca_file.is_some()),
            ("from", c.from.is_some()),
            ("to", !c.to.is_empty()),
        ];
        let webhook_keys = [
            ("url", c.url.is_some()),
            ("secret_file", c.secret_file.is_some()),
            ("secret_env", c.secret_env.is_some()),
        ];
        let foreign: &[(&str, bool)] = if c.kind == ChannelKind::Email {
            &webhook_keys
        } else {
            &email_keys
        };
        if let Some((key, _)) = foreign.iter().find(|(_, set)| *set) {
            let kind = if c.kind == ChannelKind::Email {
                "an email"
            } else {
                "a webhook"
            };
            return err(key, format!("does not apply to {kind} channel"));
        }
        match c.kind {
            ChannelKind::Email => {
                let Some(host) = c.smtp_host.as_deref().filter(|h| !h.trim().is_empty()) else {
                    return err("smtp_host", "an email channel needs smtp_host".into());
                };
                if c.security == SmtpSecurity::None && !is_loopback_host(host) {
                    return err(
                        "security",
                        format!(
                            "`none` sends the password and the mail in clear text: only allowed \
                             to a relay on this machine (localhost), not `{host}`; use \
                             `starttls` or `tls`"
                        ),
                    );
                }
                if c.security == SmtpSecurity::None && c.ca_file.is_some() {
                    return err(
                        "ca_file",
                        "a CA is for `starttls` or `tls`: `none` uses no TLS".into(),
                    );
                }
                if c.from.as_deref().is_none_or(|f| !f.contains('@')) {
                    return err("from", "an email channel needs a sender address".into());
                }
                if c.to.is_empty() {
                    return err("to", "an email channel needs at least one recipient".into());
                }
                if let Some(bad) = c.to.iter().find(|t| !t.contains('@')) {
                    return err("to", format!("`{bad}` is not an email address"));
                }
                if c.password_file.is_some() && c.password_env.is_some() {
                    return err("password_env", "give the password either in a file or in an environment variable, not both".into());
                }
                if c.username.is_some() != (c.password_file.is_some() || c.password_env.is_some()) {
                    return err(
                        "username",
                        "authentication needs both username and password_file (or password_env)"
                            .into(),
                    );
                }
            }
            ChannelKind::Webhook => {
                let Some(url) = c.url.as_deref() else {
                    return err("url", "a webhook channel needs a url".into());
                };
                let Some(host) = url_host(url)
                    .filter(|_| url.starts_with("http://") || url.starts_with("https://"))
                else {
                    return err("url", format!("`{url}` is not an http:// or https:// URL"));
                };
                // Plain HTTP would expose alarms and the signature on the network: refused.
                if url.starts_with("http://") && !is_loopback_host(host) {
                    return err("url", format!("`{url}` is plain HTTP to another machine; use https:// (http:// only to localhost)"));
                }
                if c.secret_file.is_some() && c.secret_env.is_some() {
                    return err("secret_env", "give the signing secret either in a file or in an environment variable, not both".into());
                }
            }
        }
        if let Some(bad) = c.states.iter().find(|s| !STATES.contains(&s.as_str())) {
            return err(
                "states",
                format!("unknown state `{bad}` (use raised, acknowledged, cleared)"),
            );
        }
        if c.states.is_empty() {
            return err("states", "no state is sent: give at least one".into());
        }
        if !assets.is_empty() {
            if let Some(bad) = c.assets.iter().find(|a| !assets.contains(a)) {
                return Err(ConfigError::at(
                    file,
                    format!("notifications[{i}].assets"),
                    Problem::unknown(Thing::Asset, bad),
                ));
            }
        }
        if c.max_per_hour == Some(0) {
            return err(
                "max_per_hour",
                "must be at least 1 (leave it out for no limit)".into(),
            );
        }
        if let Some(d) = &c.digest {
            if let Err(e) = parse_hhmm(d) {
                return err("digest", e);
            }
        }
        if let Some(q) = &c.quiet_hours {
            if let Err(e) = parse_quiet_hours(q) {
                return err("quiet_hours", e);
            }
        }
        if let Some(u) = &c.public_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return err(
                    "public_url",
                    format!("`{u}` must start with http:// or https://"),
                );
            }
        }
    }
    Ok(())
}

/// The secret files are readable and the variables set.
pub(super) fn check_access(channels: &[NotifyChannel], origin: &Origin) -> Result<(), ConfigError> {
    for (i, c) in channels.iter().enumerate() {
        for (key, path) in [
            ("password_file", &c.password_file),
            ("secret_file", &c.secret_file),
        ] {
            if let Some(path) = path {
                check_secret_file(origin, &format!("notifications[{i}].{key}"), path)?;
            }
        }
        if let Some(path) = &c.ca_file {
            check_ca_file(origin, &format!("notifications[{i}].ca_file"), path)?;
        }
        for (key, var) in [
            ("password_env", &c.password_env),
            ("secret_env", &c.secret_env),
        ] {
            if let Some(var) = var {
                check_env(origin, &format!("notifications[{i}].{key}"), var)?;
            }
        }
    }
    Ok(())
}

/// A CA file must be readable and hold at least one PEM certificate.
fn check_ca_file(origin: &Origin, key: &str, path: &str) -> Result<(), ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| origin.error(key, format!("cannot read {path}: {e}")))?;
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(origin.error(
            key,
            format!("{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::SiteConfig;
    use crate::profile::ProfileLibrary;

    const EMAIL: &str = "[site]\nid = \"p\"\n\n[[notifications]]\nid = \"ops\"\nkind = \"email\"\nsmtp_host = \"smtp.example.com\"\nfrom = \"kw@example.com\"\nto = [\"ops@example.com\"]\n";
    const HOOK: &str = "[site]\nid = \"p\"\n\n[[notifications]]\nid = \"chat\"\nkind = \"webhook\"\nurl = \"https://hooks.example.com/x\"\nformat = \"slack\"\n";

    fn error(text: &str) -> (String, String) {
        let e = SiteConfig::parse(text, "site.toml", &ProfileLibrary::builtin()).unwrap_err();
        (e.key.clone().unwrap_or_default(), e.to_string())
    }

    #[test]
    fn good_channels_parse_with_defaults() {
        for text in [EMAIL, HOOK] {
            let c = SiteConfig::parse(text, "site.toml", &ProfileLibrary::builtin()).unwrap();
            let ch = &c.notifications[0];
            assert_eq!(ch.min_severity, super::Severity::Warning);
            assert_eq!(ch.states, ["raised", "cleared"]);
        }
        let c = SiteConfig::parse(EMAIL, "f", &ProfileLibrary::builtin()).unwrap();
        assert_eq!(c.notifications[0].port(), 587);
    }

    #[test]
    fn errors_name_file_key_and_line() {
        let cases = [
            (EMAIL.replace("to = [\"ops@example.com\"]", "to = []"), "notifications[0].to", "at least one recipient"),
            (EMAIL.replace("smtp.example.com", "smtp.example.com\"\nsecurity = \"none"), "notifications[0].security", "clear text"),
            (HOOK.replace("https://hooks", "http://hooks"), "notifications[0].url", "plain HTTP"),
            (format!("{HOOK}secret_file = \"a\"\nsecret_env = \"B\"\n"), "notifications[0].secret_env", "not both"),
            (format!("{EMAIL}digest = \"25:00\"\n"), "notifications[0].digest", "not a time of day"),
            (format!("{EMAIL}quiet_hours = \"22:00\"\n"), "notifications[0].quiet_hours", "not a range"),
            (format!("{EMAIL}states = [\"fired\"]\n"), "notifications[0].states", "unknown state"),
            (format!("{EMAIL}url = \"https://x\"\n"), "notifications[0].url", "does not apply"),
            (format!("{HOOK}ca_file = \"ca.pem\"\n"), "notifications[0].ca_file", "does not apply"),
            (EMAIL.replace("smtp.example.com", "127.0.0.1\"\nsecurity = \"none\"\nca_file = \"ca.pem"), "notifications[0].ca_file", "no TLS"),
            (format!("{EMAIL}min_severity = \"fatal\"\n"), "notifications[0].min_severity", "unknown variant"),
            (format!("{EMAIL}username = \"u\"\n"), "notifications[0].username", "needs both"),
            (format!("{EMAIL}\n[[notifications]]\nid = \"ops\"\nkind = \"webhook\"\nurl = \"https://h\"\n"), "notifications[1].id", "twice"),
        ];
        for (text, key, what) in cases {
            let (k, msg) = error(&text);
            assert_eq!(k, key, "{msg}");
            assert!(msg.starts_with(&format!("site.toml: {key}: ")), "{msg}");
            assert!(msg.contains(what), "{msg}");
            assert!(msg.contains("(line "), "{msg}");
        }
        // Loopback relays may be plain text; loopback webhooks plain HTTP.
        let ok = EMAIL.replace("smtp.example.com", "127.0.0.1\"\nsecurity = \"none");
        SiteConfig::parse(&ok, "f", &ProfileLibrary::builtin()).unwrap();
        let ok = HOOK.replace("https://hooks.example.com", "http://[::1]:9000");
        SiteConfig::parse(&ok, "f", &ProfileLibrary::builtin()).unwrap();
    }

    #[test]
    fn unknown_assets_are_errors_when_the_site_has_assets() {
        let with = format!("{EMAIL}assets = [\"chiller\"]\n\n[[assets]]\nid = \"air\"\n");
        let (k, msg) = error(&with);
        assert_eq!(k, "notifications[0].assets", "{msg}");
        assert!(msg.contains("unknown asset `chiller`"), "{msg}");
        let ok = with.replace("id = \"air\"", "id = \"chiller\"");
        SiteConfig::parse(&ok, "f", &ProfileLibrary::builtin()).unwrap();
    }

    #[test]
    fn secrets_are_checked_where_they_are_used() {
        let text = format!("{HOOK}secret_env = \"KW_UNSET_HOOK_SECRET\"\n");
        let c = SiteConfig::parse(&text, "site.toml", &ProfileLibrary::builtin()).unwrap();
        let e = c.check_notify_access().unwrap_err();
        assert_eq!(e.key.as_deref(), Some("notifications[0].secret_env"));
        assert_eq!(e.line, Some(9), "{e}");
    }

    #[test]
    fn a_ca_file_must_be_there_and_hold_a_certificate() {
        let access = |path: &str| {
            let text = format!("{EMAIL}ca_file = \"{path}\"\n");
            let c = SiteConfig::parse(&text, "site.toml", &ProfileLibrary::builtin()).unwrap();
            c.check_notify_access()
        };
        let e = access("/nonexistent/ca.pem").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("notifications[0].ca_file"));
        assert_eq!(e.line, Some(10), "{e}");
        assert!(e.what.starts_with("cannot read /nonexistent/ca.pem"), "{e}");
        let dir = std::env::temp_dir().join(format!("kw-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (bad, good) = (dir.join("bad.pem"), dir.join("good.pem"));
        std::fs::write(&bad, "not a certificate\n").unwrap();
        std::fs::write(
            &good,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = access(bad.to_str().unwrap()).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("notifications[0].ca_file"));
        assert!(e.what.contains("holds no PEM certificate"), "{e}");
        access(good.to_str().unwrap()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
