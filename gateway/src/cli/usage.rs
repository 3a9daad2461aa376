//! The usage error every command shares (its own module so `lang`, which `args` calls, can
//! return it without a circle).

/// A wrong command-line value: exit code 2 like a configuration error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);
