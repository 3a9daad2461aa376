//! A configuration error, and the lines its keys stand on.

use thiserror::Error;

/// A configuration problem, displayed as one line naming the file, the key and the problem.
#[derive(Debug, Error)]
#[error("{file}: {key}{what}{line}", key = key_prefix(.key), what = one_line(.what), line = line_suffix(.line))]
pub struct ConfigError {
    pub file: String,
    /// Dotted path of the offending key, when known.
    pub key: Option<String>,
    /// The problem in English (what `Display` shows).
    pub what: String,
    pub line: Option<usize>,
    /// The kind of problem and its details, for saying it in the reader's language (boxed:
    /// errors travel in every `Result` of the configuration code).
    pub problem: Box<Problem>,
}

/// The kinds of configuration problem a plant engineer meets, each with the details a message
/// needs. A check without a kind yet is [`Problem::Other`]: only its English text is known.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Problem {
    #[default]
    Other,
    /// The file does not exist.
    NotFound,
    /// The file exists but cannot be read; `reason` is the system's text.
    Unreadable { reason: String },
    /// The text is not TOML; `detail` is the parser's text.
    Syntax { detail: String },
    /// A key the table does not take; `expected` the keys it takes (empty: none).
    UnknownKey { name: String, expected: Vec<String> },
    /// A required key is not given.
    MissingKey { name: String },
    /// A value of the wrong type or too big for it; `detail` is the parser's text.
    WrongType { detail: String },
    /// A value not among those allowed; `expected` the allowed ones.
    UnknownValue {
        value: String,
        expected: Vec<String>,
    },
    /// A number outside its allowed range.
    OutOfRange { value: String, bound: Bound },
    /// A reference to something the file does not define.
    /// A reference to something the file does not define; `known` what it could name, when
    /// few enough to list.
    UnknownRef {
        of: Thing,
        name: String,
        known: Vec<String>,
    },
    /// An id given to two things of a kind.
    Duplicate { of: Thing, id: String },
}

/// The range a number must lie in.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    Between(String, String),
    AtLeast(String),
    Above(String),
}

/// What an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thing {
    Device,
    /// A device or a virtual meter.
    Meter,
    Asset,
    /// An asset, or the asset a device belongs to.
    DeviceAsset,
    Profile,
    Alarm,
    Channel,
}

impl Thing {
    /// The name of the kind, as a catalogue key suffix: `cfg-unknown-device`, `cfg-duplicate-alarm`.
    pub fn key(self) -> &'static str {
        match self {
            Thing::Device => "device",
            Thing::Meter => "meter",
            Thing::Asset => "asset",
            Thing::DeviceAsset => "device-asset",
            Thing::Profile => "profile",
            Thing::Alarm => "alarm",
            Thing::Channel => "channel",
        }
    }
}

/// `a`, `b`, `c`: identifiers as the parser lists them.
fn ticks(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Problem {
    /// The problem in English, as the catalogue's English says it (a gateway test checks both
    /// agree); `None` for [`Problem::Other`].
    pub fn english(&self) -> Option<String> {
        Some(match self {
            Problem::Other => return None,
            Problem::NotFound => "cannot read: no such file".to_owned(),
            Problem::Unreadable { reason } => format!("cannot read: {reason}"),
            Problem::Syntax { detail } => format!("TOML syntax: {detail}"),
            Problem::UnknownKey { name, expected } if expected.is_empty() => {
                format!("unknown field `{name}`: this table takes no keys")
            }
            Problem::UnknownKey { name, expected } => {
                format!(
                    "unknown field `{name}`, expected one of {}",
                    ticks(expected)
                )
            }
            Problem::MissingKey { name } => format!("missing field `{name}`"),
            Problem::WrongType { detail } => detail.clone(),
            Problem::UnknownValue { value, expected } => {
                format!(
                    "unknown variant `{value}`, expected one of {}",
                    ticks(expected)
                )
            }
            Problem::OutOfRange { value, bound } => match bound {
                Bound::Between(lo, hi) => format!("`{value}` must be between {lo} and {hi}"),
                Bound::AtLeast(lo) => format!("`{value}` must be at least {lo}"),
                Bound::Above(lo) => format!("`{value}` must be above {lo}"),
            },
            Problem::UnknownRef { of, name, known } if !known.is_empty() => format!(
                "{} (known: {})",
                Problem::unknown(*of, name).english().unwrap_or_default(),
                ticks(known)
            ),
            Problem::UnknownRef { of, name, .. } => match of {
                Thing::Device => format!("unknown device `{name}` (not in [[devices]])"),
                Thing::Meter => format!("unknown device or virtual meter `{name}`"),
                Thing::Asset => format!("unknown asset `{name}` (not in [[assets]])"),
                Thing::DeviceAsset => {
                    format!("unknown asset `{name}` (not an [[assets]] id nor a device's asset)")
                }
                Thing::Profile => format!("unknown profile `{name}`"),
                Thing::Alarm => format!("unknown alarm `{name}`"),
                Thing::Channel => format!("unknown notification channel `{name}`"),
            },
            Problem::Duplicate { of, id } => match of {
                Thing::Meter => format!("`{id}` is already a device or virtual meter"),
                Thing::Device => format!("`{id}` is used by two devices"),
                Thing::Asset | Thing::DeviceAsset => format!("`{id}` is used by two assets"),
                Thing::Profile => format!("`{id}` is used by two profiles"),
                Thing::Alarm => format!("`{id}` is used by two alarms"),
                Thing::Channel => format!("`{id}` is given twice"),
            },
        })
    }

    /// `name`, which names no `of` in the file.
    pub fn unknown(of: Thing, name: &str) -> Problem {
        Problem::UnknownRef {
            of,
            name: name.to_owned(),
            known: Vec::new(),
        }
    }

    /// Classifies a message of the TOML deserialiser (serde's wording) by its kind.
    pub fn of_serde(message: &str) -> Problem {
        let names = |s: &str| -> Vec<String> {
            s.split('`').skip(1).step_by(2).map(str::to_owned).collect()
        };
        if let Some(rest) = message.strip_prefix("unknown field ") {
            let mut all = names(rest);
            if !all.is_empty() {
                let name = all.remove(0);
                return Problem::UnknownKey {
                    name,
                    expected: all,
                };
            }
        }
        if let Some(rest) = message.strip_prefix("unknown variant ") {
            let mut all = names(rest);
            if !all.is_empty() {
                let value = all.remove(0);
                return Problem::UnknownValue {
                    value,
                    expected: all,
                };
            }
        }
        if let Some(rest) = message.strip_prefix("missing field ") {
            if let Some(name) = names(rest).into_iter().next() {
                return Problem::MissingKey { name };
            }
        }
        if message.starts_with("invalid type: ") || message.starts_with("invalid value: ") {
            return Problem::WrongType {
                detail: message.to_owned(),
            };
        }
        Problem::Other
    }
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
            problem: Box::default(),
        }
    }

    /// An error of a known kind about `key` (none: the whole file), in English from the kind.
    pub fn of(file: &str, key: Option<String>, problem: Problem) -> Self {
        Self {
            file: file.to_owned(),
            key,
            what: problem.english().unwrap_or_default(),
            line: None,
            problem: Box::new(problem),
        }
    }

    /// An error of a known kind about `key`.
    pub(super) fn at(file: &str, key: impl Into<String>, problem: Problem) -> Self {
        Self::of(file, Some(key.into()), problem)
    }

    /// The file `path` (named `file`) cannot be read.
    pub fn unreadable(file: &str, e: &std::io::Error) -> Self {
        let problem = match e.kind() {
            std::io::ErrorKind::NotFound => Problem::NotFound,
            _ => Problem::Unreadable {
                reason: e.to_string(),
            },
        };
        Self::of(file, None, problem)
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
