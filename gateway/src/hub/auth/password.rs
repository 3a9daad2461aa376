//! Passwords: argon2id (the argon2 crate's defaults, OWASP's minimum: 19 MiB, 2 passes, one
//! lane) with a random 128-bit salt, stored as a PHC string. Hashing is slow on purpose: call
//! these on a blocking thread.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use super::secret::{random_bytes, RandomError};

/// Shorter passwords are refused when set.
pub const MIN_LENGTH: usize = 10;
/// Longer ones too (hashing cost is bounded; a passphrase fits).
pub const MAX_LENGTH: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must have at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("the password must have at most {MAX_LENGTH} characters")]
    TooLong,
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) of a new password.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let n = password.chars().count();
    if n < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    if n > MAX_LENGTH {
        return Err(PasswordError::TooLong);
    }
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches `stored`. A missing or unreadable hash matches nothing, after
/// the same work as a real check, so the answer's time does not tell whether the user exists.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let parsed = stored.and_then(|s| PasswordHash::new(s).ok());
    match parsed {
        Some(h) if password.len() <= MAX_LENGTH * 4 => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        _ => {
            if let Ok(dummy) = PasswordHash::new(DUMMY) {
                let _ = Argon2::default().verify_password(b"not the password", &dummy);
            }
            false
        }
    }
}

/// A hash of a random password, checked against when there is no user: same parameters.
const DUMMY: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0Dt5mQ6j2G4Vd0c6wP0d3p3h0y6b4YtqzS8Ozd3p3Zw";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_verify_and_differ_by_salt() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", Some(&h)));
        assert!(!verify("correct horse batterz", Some(&h)));
        assert_ne!(h, hash("correct horse battery").unwrap());
        assert!(!verify("anything", None));
        assert!(!verify("anything", Some("not a phc string")));
        // The stand-in hash is one, or a missing user would answer faster.
        assert!(PasswordHash::new(DUMMY).is_ok());
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
        assert!(matches!(
            hash(&"x".repeat(MAX_LENGTH + 1)),
            Err(PasswordError::TooLong)
        ));
    }
}
