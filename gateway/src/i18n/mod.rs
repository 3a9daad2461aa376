//! Traditional Chinese and English: one message catalogue (Fluent, `gateway/i18n/*.ftl`) for
//! the dashboard, the reports and the command line, and numbers and dates in each language's
//! way.
//!
//! The catalogues ship inside the binary. The dashboard reads the same messages from
//! `GET /api/v1/i18n/{lang}`, so a message keeps to plain text and `{ $variable }`
//! placeables (no selectors): the browser substitutes them itself.

mod errors;
mod format;
mod msg;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

pub use errors::{config_error, csv_error};
pub use format::{date, number, number_fixed};
pub use kilowatch_site::config::{Language, UnknownLanguage};
pub use msg::{stored_or, Arg, Msg};

/// The catalogue files, by language.
pub(crate) const SOURCES: [(Language, &str); 2] = [
    (Language::English, include_str!("../../i18n/en.ftl")),
    (
        Language::TraditionalChinese,
        include_str!("../../i18n/zh-TW.ftl"),
    ),
];

/// The variable commands read when no `--lang` is given.
pub const LANG_VAR: &str = "KILOWATCH_LANG";

struct Catalogue {
    bundle: FluentBundle<FluentResource>,
}

fn catalogue(lang: Language) -> &'static Catalogue {
    static ALL: OnceLock<Vec<Catalogue>> = OnceLock::new();
    let all = ALL.get_or_init(|| SOURCES.iter().map(|(l, src)| build(*l, src)).collect());
    let i = Language::ALL.iter().position(|l| *l == lang).unwrap_or(0);
    &all[i]
}

fn build(lang: Language, src: &str) -> Catalogue {
    let langid = lang
        .tag()
        .parse()
        .unwrap_or_else(|_| unic_langid::LanguageIdentifier::default());
    let mut bundle = FluentBundle::new_concurrent(vec![langid]);
    // Isolation marks (U+2068/U+2069) around placeables would land in HTML, CSV and terminals.
    bundle.set_use_isolating(false);
    // A syntax error in a shipped file is the catalogue test's to find; what parsed is used.
    let resource = FluentResource::try_new(src.to_owned()).unwrap_or_else(|(r, _)| r);
    let _ = bundle.add_resource(resource);
    Catalogue { bundle }
}

/// The message `key` in `lang`; English when the language lacks it, the key itself when
/// neither has it (never a panic: a missing key shows, and the catalogue test finds it).
pub fn t(lang: Language, key: &str) -> String {
    tr(lang, key, &[])
}

/// The message `key` with its `{ $name }` placeables filled from `args`.
pub fn tr(lang: Language, key: &str, args: &[(&str, &str)]) -> String {
    let mut fargs = FluentArgs::new();
    for (k, v) in args {
        fargs.set(*k, FluentValue::from(*v));
    }
    for l in [lang, Language::English] {
        let bundle = &catalogue(l).bundle;
        if let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) {
            let mut errors = Vec::new();
            return bundle
                .format_pattern(pattern, Some(&fargs), &mut errors)
                .into_owned();
        }
    }
    key.to_owned()
}

/// Whether the catalogue has the message `key`.
pub fn has(key: &str) -> bool {
    catalogue(Language::English).bundle.has_message(key)
}

/// Every message of `lang` as its pattern text, placeables as `{$name}`: what the dashboard
/// fills in itself.
pub fn messages(lang: Language) -> BTreeMap<String, String> {
    let bundle = &catalogue(lang).bundle;
    let src = SOURCES
        .iter()
        .find(|(l, _)| *l == lang)
        .map(|(_, s)| *s)
        .unwrap_or_default();
    keys(src)
        .into_iter()
        .filter_map(|k| {
            let pattern = bundle.get_message(&k)?.value()?;
            let mut errors = Vec::new();
            // With no arguments Fluent writes each variable as `{$name}`.
            let text = bundle
                .format_pattern(pattern, None, &mut errors)
                .into_owned();
            Some((k, text))
        })
        .collect()
}

/// The message identifiers a catalogue file defines, in file order.
pub(crate) fn keys(src: &str) -> Vec<String> {
    src.lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .collect()
}

/// The language to speak: the one asked for (`--lang`, `?lang=`), else `KILOWATCH_LANG`
/// for commands, else the site's, else English.
pub fn pick(asked: Option<&str>, site: Option<Language>) -> Result<Language, UnknownLanguage> {
    if let Some(tag) = asked.filter(|t| !t.trim().is_empty()) {
        return tag.parse();
    }
    Ok(site.unwrap_or_default())
}

/// The language named by `KILOWATCH_LANG`, when it names one kilowatch speaks.
pub fn from_env() -> Option<Language> {
    std::env::var(LANG_VAR).ok()?.parse().ok()
}
