//! Checks of what settings point at on this machine: secret files and environment variables.

use super::error::{ConfigError, Origin};

/// A secret file must be readable and have a non-empty first line.
pub(super) fn check_secret_file(origin: &Origin, key: &str, path: &str) -> Result<(), ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| origin.error(key, format!("cannot read {path}: {e}")))?;
    if text.lines().next().unwrap_or("").trim().is_empty() {
        return Err(origin.error(key, format!("{path} is empty")));
    }
    Ok(())
}

/// The variable must be set (its value is never read here, so never logged).
pub(super) fn check_env(origin: &Origin, key: &str, var: &str) -> Result<(), ConfigError> {
    match std::env::var_os(var) {
        Some(_) => Ok(()),
        None => Err(origin.error(key, format!("environment variable {var} is not set"))),
    }
}
