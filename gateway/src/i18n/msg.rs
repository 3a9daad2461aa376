//! A sentence the engine says (a verdict, a reason, an alarm), kept as its catalogue key and
//! arguments rather than as words, so whoever shows it says it in their reader's language;
//! stored as JSON (`{"key": …, "args": {…}}`) beside the English text.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{t, tr, Language};

/// One message: a catalogue key and its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Msg {
    pub key: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, Arg>,
}

/// An argument: words that are the same in every language (a figure, a device id), another
/// message, or a list of messages (joined with the language's separator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Arg {
    Text(String),
    Msg(Msg),
    List(Vec<Msg>),
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_owned())
    }
}

impl From<Msg> for Arg {
    fn from(m: Msg) -> Self {
        Arg::Msg(m)
    }
}

impl From<Vec<Msg>> for Arg {
    fn from(l: Vec<Msg>) -> Self {
        Arg::List(l)
    }
}

impl Msg {
    /// The message `key` (a key of `gateway/i18n/*.ftl`, checked by the catalogue test).
    pub fn new(key: &str) -> Self {
        Self {
            key: key.to_owned(),
            args: BTreeMap::new(),
        }
    }

    /// With the argument `name`.
    pub fn arg(mut self, name: &str, value: impl Into<Arg>) -> Self {
        self.args.insert(name.to_owned(), value.into());
        self
    }

    /// The sentence in `lang`.
    pub fn render(&self, lang: Language) -> String {
        let args: Vec<(&str, String)> = self
            .args
            .iter()
            .map(|(k, v)| (k.as_str(), v.render(lang)))
            .collect();
        let refs: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        tr(lang, &self.key, &refs)
    }

    /// The sentence in English: what the JSON and the logs carry as text.
    pub fn en(&self) -> String {
        self.render(Language::English)
    }
}

impl Arg {
    fn render(&self, lang: Language) -> String {
        match self {
            Arg::Text(s) => s.clone(),
            Arg::Msg(m) => m.render(lang),
            Arg::List(l) => l
                .iter()
                .map(|m| m.render(lang))
                .collect::<Vec<_>>()
                .join(&t(lang, "list-separator")),
        }
    }
}

/// `stored` (a message's JSON, from a row written since messages were stored) in `lang`; else
/// `text`, the English a row written before then holds.
pub fn stored_or(stored: Option<&Msg>, text: &str, lang: Language) -> String {
    stored.map_or_else(|| text.to_owned(), |m| m.render(lang))
}
