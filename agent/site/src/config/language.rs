//! The language of a site's pages, reports and messages (`[site] language`).

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// A language kilowatch speaks: its BCP 47 tag is what the site file, `?lang=` and
/// `--lang` take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
pub enum Language {
    #[default]
    #[serde(rename = "en")]
    English,
    /// Traditional Chinese as written in Taiwan.
    #[serde(rename = "zh-TW")]
    TraditionalChinese,
}

impl Language {
    /// Every language, in the order a language switch lists them.
    pub const ALL: [Language; 2] = [Language::English, Language::TraditionalChinese];

    /// The BCP 47 tag (`en`, `zh-TW`).
    pub fn tag(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::TraditionalChinese => "zh-TW",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// A tag kilowatch has no catalogue for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language `{0}` (use en or zh-TW)")]
pub struct UnknownLanguage(pub String);

impl FromStr for Language {
    type Err = UnknownLanguage;

    /// Tags compare without case, and `_` stands for `-` (`zh_TW` as in a POSIX locale);
    /// `zh-Hant` is the same script.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().replace('_', "-").to_ascii_lowercase().as_str() {
            "en" | "en-us" | "en-gb" => Ok(Language::English),
            "zh-tw" | "zh-hant" | "zh-hant-tw" => Ok(Language::TraditionalChinese),
            _ => Err(UnknownLanguage(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_unknown_ones_are_refused() {
        for l in Language::ALL {
            assert_eq!(l.tag().parse::<Language>(), Ok(l));
        }
        assert_eq!("zh_tw".parse(), Ok(Language::TraditionalChinese));
        assert_eq!("fr".parse::<Language>(), Err(UnknownLanguage("fr".into())));
    }
}
