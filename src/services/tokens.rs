//! Secret tokens (sessions, password resets, order access, email verification): 256 random bits
//! shown to the client once, stored only as their SHA-256; and the request hashes idempotency
//! keys are bound to.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// A freshly made secret token. Its `Debug` never shows it.
pub struct SecretToken(String);

impl SecretToken {
    /// 32 bytes from a CSPRNG seeded by the operating system (`rand::rng`), base64url after
    /// `prefix` (which lets secret scanners recognise leaked tokens).
    pub fn generate(prefix: &str) -> Self {
        let mut bytes = [0_u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The token, to hand to its owner exactly once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database stores.
    pub fn hash(&self) -> String {
        hash_token(&self.0)
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

/// Hex SHA-256 of a token as a client sent it.
pub fn hash_token(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

/// Hex SHA-256 of several parts, each ended by a NUL (so that `("ab", "c")` and `("a", "bc")`
/// differ): what an idempotency key is bound to, to tell a retry from a different request.
pub fn hash_parts(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    format!("{:x}", hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let a = SecretToken::generate("bzs_");
        let b = SecretToken::generate("bzs_");
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with("bzs_"));
        assert_eq!(a.expose().len(), 4 + 43);
        assert_eq!(a.hash(), hash_token(a.expose()));
        assert_eq!(a.hash().len(), 64);
        assert!(!format!("{a:?}").contains(&a.expose()[4..]));
    }
}
