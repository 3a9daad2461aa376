//! The language of a command's messages: `--lang`, else `KILOWATCH_LANG` (clap reads both),
//! else the site file's `[site] language`, else English.

use std::sync::OnceLock;

use kilowatch_gateway::i18n::{self, Language};
use kilowatch_site::config::SiteConfig;

use super::usage::Usage;

static ASKED: OnceLock<Option<Language>> = OnceLock::new();
/// The language of the first site file a command read, for its errors.
static SITE: OnceLock<Language> = OnceLock::new();

/// Records the language asked for on the command line, refusing one without a catalogue.
pub fn set(asked: Option<&str>) -> Result<(), Usage> {
    let lang = match asked.filter(|t| !t.trim().is_empty()) {
        Some(tag) => Some(
            tag.parse::<Language>()
                .map_err(|e| Usage(format!("--lang: {e}")))?,
        ),
        None => None,
    };
    let _ = ASKED.set(lang);
    Ok(())
}

/// Remembers the language of the site file the command read, for its error messages.
pub fn remember(site: &SiteConfig) {
    let _ = SITE.set(site.site.language);
}

/// The language of an error message: the one asked for, else the site file's (the one the
/// command read, else `[site] language` from `file` when its text still parses as TOML),
/// else English.
pub fn of_error(file: Option<&str>) -> Language {
    if let Some(l) = ASKED.get().copied().flatten() {
        return l;
    }
    if let Some(l) = SITE.get() {
        return *l;
    }
    file.and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|t| t.get("site")?.get("language")?.as_str()?.parse().ok())
        .unwrap_or_default()
}

/// The language to speak for a command on `site` (if it read one).
pub fn of(site: Option<&SiteConfig>) -> Language {
    match ASKED.get().copied().flatten() {
        Some(l) => l,
        None => i18n::pick(None, site.map(|s| s.site.language)).unwrap_or_default(),
    }
}
