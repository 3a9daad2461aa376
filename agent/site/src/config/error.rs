//! A configuration error, and the lines its keys stand on.

use thiserror::Error;

/// A configuration problem, displayed as one line naming the file, the key and the problem.
#[derive(Debug, Error)]
#[error("{file}: {key}{what}{line}", key = key_prefix(.key), what = one_line(.what), line = line_suffix(.line))]
pub struct ConfigError {
    pub file: String,
    /// Dotted path of the offending key, when known.
    pub key: Option<String>,
    pub what: String,
    pub line: Option<usize>,
}

/// Values quoted in a message may hold line breaks; the message stays one line.
fn one_line(what: &str) -> String {
    what.replace('\r', "\\r").replace('\n', "\\n")
}

fn key_prefix(key: &Option<String>) -> String {
    key.as_ref().map_or(String::new(), |k| format!("{k}: "))
}

fn line_suffix(line: &Option<usize>) -> String {
    line.map_or(String::new(), |l| format!(" (line {l})"))
}

impl ConfigError {
    pub(super) fn new(file: &str, key: impl Into<String>, what: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            key: Some(key.into()),
            what: what.into(),
            line: None,
        }
    }
}

/// The 1-based line of byte offset `at` in `text`.
pub(super) fn line_at(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text[..at].matches('\n').count() + 1
}

/// Adds the line of the error's key, where the error has none and the key is in `text`.
pub(super) fn with_line(mut e: ConfigError, text: &str) -> ConfigError {
    if e.line.is_none() {
        e.line = e.key.as_deref().and_then(|k| line_of_key(text, k));
    }
    e
}

/// The line where a dotted key such as `devices[0].interval` or `mqtt.broker` is set.
pub(super) fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let root = toml::de::DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut span = None;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let mut value = table.get(name)?;
        if let Some(i) = index {
            value = value.get_ref().as_array()?.get(i)?;
        }
        span = Some(value.span());
        if parts.peek().is_some() {
            table = value.get_ref().as_table()?;
        }
    }
    span.map(|s| line_at(text, s.start))
}

/// The file a site was read from and its text, to name both in errors found after parsing.
#[derive(Clone, Default)]
pub(super) struct Origin {
    pub(super) file: String,
    pub(super) text: String,
}

// The text is the whole file: too long for debug output.
impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Origin").field("file", &self.file).finish()
    }
}

impl Origin {
    /// Adds the line of the error's key in this file.
    pub(super) fn locate(&self, e: ConfigError) -> ConfigError {
        with_line(e, &self.text)
    }

    /// An error about `key`, naming this file and the key's line.
    pub(super) fn error(&self, key: &str, what: impl Into<String>) -> ConfigError {
        self.locate(ConfigError::new(&self.file, key, what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_nested_keys() {
        let text = "[site]\nid = \"p\"\n\n[[devices]]\nid = \"a\"\n\n[[devices]]\nid = \"b\"\ninterval = \"1s\"\n";
        assert_eq!(line_of_key(text, "devices[1].interval"), Some(9));
        assert_eq!(line_of_key(text, "site.id"), Some(2));
        assert_eq!(line_of_key(text, "devices[2].interval"), None);
        assert_eq!(line_of_key(text, "mqtt.broker"), None);
    }
}
