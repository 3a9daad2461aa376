//! The language of a command's messages: `--lang`, else `KILOWATCH_LANG` (clap reads both),
//! else the site file's `[site] language`, else English.

use std::sync::OnceLock;

use kilowatch_gateway::i18n::{self, Language};
use kilowatch_site::config::SiteConfig;

use super::args::Usage;

static ASKED: OnceLock<Option<Language>> = OnceLock::new();

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

/// The language to speak for a command on `site` (if it read one).
pub fn of(site: Option<&SiteConfig>) -> Language {
    match ASKED.get().copied().flatten() {
        Some(l) => l,
        None => i18n::pick(None, site.map(|s| s.site.language)).unwrap_or_default(),
    }
}
