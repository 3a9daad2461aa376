//! Secrets handed to a client (session ids, API tokens, CSRF tokens): 256 random bits from the
//! system's generator, in hex. Only their SHA-256 is stored, so a copy of the database lets
//! no one in; a lookup by hash needs no constant-time comparison of the secret itself.

use ring::rand::{SecureRandom, SystemRandom};

/// API tokens start with this, so a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "kwt_";

#[derive(Debug, thiserror::Error)]
#[error("the system's random number generator failed")]
pub struct RandomError;

/// `n` random bytes.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut b = [0u8; N];
    SystemRandom::new().fill(&mut b).map_err(|_| RandomError)?;
    Ok(b)
}

/// 256 random bits as 64 hex digits.
pub fn new_secret() -> Result<String, RandomError> {
    Ok(hex(&random_bytes::<32>()?))
}

/// A new API token: the prefix and 256 random bits.
pub fn new_token() -> Result<String, RandomError> {
    Ok(format!("{TOKEN_PREFIX}{}", new_secret()?))
}

/// The stored form of a secret.
pub fn digest(secret: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, secret.as_bytes())
        .as_ref()
        .to_vec()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equality whose time does not depend on where the inputs differ (for a CSRF token compared
/// with the session's).
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_fresh_and_only_their_digest_is_kept() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(digest(&a).len(), 32);
        assert_ne!(digest(&a), a.as_bytes());
        assert_eq!(digest(&a), digest(&a));
        let t = new_token().unwrap();
        assert!(t.starts_with(TOKEN_PREFIX) && t.len() == 68);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b) && !same(&a, &a[..63]));
    }
}
