//! What the commands share: the site and time-range arguments, usage errors, small readers.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use kilowatch_gateway::{mv, when};
use kilowatch_site::config::{ConfigError, SiteConfig};
use kilowatch_site::profile::ProfileLibrary;

pub use super::usage::Usage;

// The site file and its database, as the commands that read a site's store take them.
#[derive(clap::Args)]
pub struct SiteArgs {
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Overrides `gateway.database` from the site file.
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
}

/// A loaded site file and the database it names (or `--db`).
pub struct Site {
    /// The file's name, for messages.
    pub file: String,
    pub config: SiteConfig,
    pub profiles: ProfileLibrary,
    pub db: PathBuf,
}

impl SiteArgs {
    pub fn load(self) -> Result<Site, ConfigError> {
        load_site(&self.config, self.db)
    }
}

/// Loads `config` with the built-in profiles; the database is `db` or the file's.
pub fn load_site(config: &Path, db: Option<PathBuf>) -> Result<Site, ConfigError> {
    let profiles = ProfileLibrary::builtin();
    let site = SiteConfig::load(config, &profiles)?;
    super::lang::remember(&site);
    let db = db.unwrap_or_else(|| PathBuf::from(&site.gateway.database));
    Ok(Site {
        file: config.display().to_string(),
        config: site,
        profiles,
        db,
    })
}

/// Commands that only read refuse a missing database instead of creating an empty one.
pub fn require_db(db: &Path, hint: &str) -> Result<(), Usage> {
    if db.exists() {
        return Ok(());
    }
    Err(Usage(format!(
        "no database at {} (run the gateway first, {hint})",
        db.display()
    )))
}

// A time range; `to` is parsed first so its error comes first.
#[derive(clap::Args)]
pub struct RangeArgs {
    /// Start: plant-local date `2026-10-01`, `2026-10-01 08:00`, or RFC 3339; default 24 h ago.
    #[arg(long)]
    pub from: Option<String>,
    /// End, exclusive; default now.
    #[arg(long)]
    pub to: Option<String>,
}

impl RangeArgs {
    /// The range in the plant's zone, defaulting to the last 24 hours before `now`.
    pub fn resolve(
        &self,
        tz: chrono_tz::Tz,
        now: DateTime<Utc>,
    ) -> Result<(DateTime<Utc>, DateTime<Utc>), Usage> {
        let time = |name: &str, v: &Option<String>| {
            v.as_deref()
                .map(|t| when::instant(t, tz).map_err(|e| Usage(format!("--{name}: {e}"))))
                .transpose()
        };
        let to = time("to", &self.to)?;
        let from = time("from", &self.from)?;
        Ok(when::range_or_default(from, to, now))
    }
}

/// A seed-format file read and parsed, its errors naming the flag and the file.
pub fn read_with<T>(
    flag: &str,
    path: Option<&Path>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, Usage> {
    path.map(|p| {
        let text = std::fs::read_to_string(p)
            .map_err(|e| Usage(format!("--{flag}: cannot read {}: {e}", p.display())))?;
        parse(&text).map_err(|e| Usage(format!("--{flag}: {}: {e}", p.display())))
    })
    .transpose()
}

/// A time zone by name; `example` completes the error.
pub fn zone(text: &str, example: &str) -> Result<chrono_tz::Tz, Usage> {
    text.parse::<chrono_tz::Tz>().map_err(|_| {
        Usage(format!(
            "--tz: `{text}` is not a time zone (e.g. {example})"
        ))
    })
}

/// An input error of M&V is a usage error (exit code 2).
pub fn input_error(e: mv::MvError) -> anyhow::Error {
    match e {
        mv::MvError::Input(m) => Usage(m).into(),
        other => anyhow::Error::new(other),
    }
}
