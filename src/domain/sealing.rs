//! Sealing personal data at rest: values encrypted with XChaCha20-Poly1305 under a keyring of
//! named 256-bit keys, stored as `sealed:v1:<key id>:<base64url(nonce ‖ ciphertext)>`.
//!
//! The first key of the keyring seals; every key opens what it sealed, so keys can be rotated
//! (a new key first, the old ones kept until `bazaar rotate-key` has re-sealed every value).
//! A value without the prefix is clear text written before sealing was switched on: it is read
//! as it is, and sealed at the next rotation.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// What every sealed value starts with.
pub const SEALED_PREFIX: &str = "sealed:v1:";

/// Bound into every value as associated data, so that a value sealed by another program under
/// the same key does not open as Bazaar's.
const ASSOCIATED_DATA: &[u8] = b"bazaar personal data v1";

/// Bytes of an XChaCha20 nonce.
const NONCE_BYTES: usize = 24;

/// Longest key id.
const KEY_ID_MAX: usize = 32;

/// Why a keyring setting or a stored value is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealingError {
    /// The keyring setting is malformed.
    BadKeyring(String),
    /// The value names a key the keyring lacks.
    UnknownKey(String),
    /// The value is damaged or was sealed under another key of the same id.
    Damaged(String),
}

impl fmt::Display for SealingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadKeyring(why) => write!(f, "bad sealing keys: {why}"),
            Self::UnknownKey(id) => write!(
                f,
                "a stored value is sealed under key \"{id}\", which BAZAAR_SEALING_KEYS lacks"
            ),
            Self::Damaged(id) => write!(
                f,
                "a stored value sealed under key \"{id}\" does not open: damaged, or sealed under \
                 another key of that id"
            ),
        }
    }
}

impl std::error::Error for SealingError {}

/// One named key.
struct SealingKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// The keys personal data is sealed and opened with; the first one seals.
pub struct Keyring {
    keys: Vec<SealingKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

impl Keyring {
    /// Parses `ID:KEY[,ID:KEY…]`, each KEY 32 bytes in standard base64 (`openssl rand -base64
    /// 32`), each ID 1–32 letters, digits, `-` or `_`, no ID twice.
    pub fn parse(setting: &str) -> Result<Self, SealingError> {
        let bad = |why: String| SealingError::BadKeyring(why);
        let mut keys: Vec<SealingKey> = Vec::new();
        for (position, entry) in setting.split(',').map(str::trim).enumerate() {
            let number = position + 1;
            let (id, key) = entry
                .split_once(':')
                .ok_or_else(|| bad(format!("key {number} is not ID:KEY")))?;
            let id_is_valid = !id.is_empty()
                && id.len() <= KEY_ID_MAX
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_is_valid {
                return Err(bad(format!(
                    "key {number}: the id must be 1 to {KEY_ID_MAX} letters, digits, - or _"
                )));
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(bad(format!("the key id \"{id}\" is given twice")));
            }
            let bytes = STANDARD
                .decode(key.trim())
                .map_err(|_| bad(format!("key \"{id}\" is not base64")))?;
            let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
                .ok()
                .filter(|_| bytes.len() == 32)
                .ok_or_else(|| {
                    bad(format!(
                        "key \"{id}\" is {} bytes; it must be 32",
                        bytes.len()
                    ))
                })?;
            keys.push(SealingKey {
                id: id.to_owned(),
                cipher,
            });
        }
        Ok(Self { keys })
    }

    /// A new random key in the form [`Keyring::parse`] reads, named `id`.
    pub fn generate_entry(id: &str) -> String {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        format!("{id}:{}", STANDARD.encode(key))
    }

    /// The id of the key that seals.
    pub fn sealing_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// The prefix of every value the sealing key seals.
    pub fn current_prefix(&self) -> String {
        format!("{SEALED_PREFIX}{}:", self.sealing_key_id())
    }

    /// A `LIKE` pattern, escaped with `\`, that matches every value the sealing key seals.
    pub fn current_like_pattern(&self) -> String {
        // Key ids hold letters, digits, `-` and `_`, of which only `_` is a wildcard.
        format!("{}%", self.current_prefix().replace('_', "\\_"))
    }

    /// `clear` sealed under the first key, with a fresh random nonce.
    pub fn seal(&self, clear: &str) -> String {
        let key = &self.keys[0];
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: clear.as_bytes(),
            aad: ASSOCIATED_DATA,
        };
        // Encryption fails only for messages longer than 256 GiB.
        let ciphertext = key
            .cipher
            .encrypt(&nonce, payload)
            .expect("a value far below the cipher's length limit");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!(
            "{SEALED_PREFIX}{}:{}",
            key.id,
            URL_SAFE_NO_PAD.encode(sealed)
        )
    }

    /// The clear text of a stored value: opened if sealed, as it is if not.
    pub fn open(&self, stored: &str) -> Result<String, SealingError> {
        let Some(rest) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(stored.to_owned());
        };
        let (id, encoded) = rest
            .split_once(':')
            .ok_or_else(|| SealingError::Damaged(String::new()))?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| SealingError::UnknownKey(id.to_owned()))?;
        let damaged = || SealingError::Damaged(id.to_owned());
        let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| damaged())?;
        if bytes.len() < NONCE_BYTES {
            return Err(damaged());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let payload = Payload {
            msg: ciphertext,
            aad: ASSOCIATED_DATA,
        };
        let clear = key
            .cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| damaged())?;
        String::from_utf8(clear).map_err(|_| damaged())
    }
}

/// The clear text of a stored value without a keyring: refused if it is sealed.
pub fn open_without_keys(stored: &str) -> Result<String, SealingError> {
    match stored.strip_prefix(SEALED_PREFIX) {
        None => Ok(stored.to_owned()),
        Some(rest) => Err(SealingError::UnknownKey(
            rest.split_once(':').map_or(rest, |(id, _)| id).to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "a:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const B: &str = "b:HxwdHhscGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";

    #[test]
    fn a_sealed_value_opens_to_its_clear_text_and_does_not_contain_it() {
        let keyring = Keyring::parse(A).unwrap();
        let sealed = keyring.seal("221B Baker Street");
        assert!(sealed.starts_with("sealed:v1:a:"));
        assert!(!sealed.contains("Baker"));
        assert_eq!(keyring.open(&sealed).unwrap(), "221B Baker Street");
        assert_eq!(keyring.open(&keyring.seal("")).unwrap(), "");
    }

    #[test]
    fn sealing_twice_gives_different_values() {
        let keyring = Keyring::parse(A).unwrap();
        assert_ne!(keyring.seal("same"), keyring.seal("same"));
    }

    #[test]
    fn clear_values_written_before_sealing_read_as_they_are() {
        let keyring = Keyring::parse(A).unwrap();
        assert_eq!(keyring.open("10 Downing St").unwrap(), "10 Downing St");
        assert_eq!(open_without_keys("10 Downing St").unwrap(), "10 Downing St");
    }

    #[test]
    fn an_older_key_still_opens_after_a_new_one_is_put_first() {
        let old = Keyring::parse(A).unwrap();
        let sealed = old.seal("+44 20 7946 0000");
        let rotated = Keyring::parse(&format!("{B},{A}")).unwrap();
        assert_eq!(rotated.sealing_key_id(), "b");
        assert_eq!(rotated.open(&sealed).unwrap(), "+44 20 7946 0000");
        assert!(rotated.seal("x").starts_with(&rotated.current_prefix()));
    }

    #[test]
    fn a_missing_key_a_wrong_key_or_a_damaged_value_is_an_error_not_garbage() {
        let sealed = Keyring::parse(A).unwrap().seal("secret");
        let only_b = Keyring::parse(B).unwrap();
        assert_eq!(
            only_b.open(&sealed),
            Err(SealingError::UnknownKey("a".into()))
        );
        let impostor = Keyring::parse(&B.replacen("b:", "a:", 1)).unwrap();
        assert_eq!(
            impostor.open(&sealed),
            Err(SealingError::Damaged("a".into()))
        );
        let mut damaged = sealed.clone();
        damaged.pop();
        damaged.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        let keyring = Keyring::parse(A).unwrap();
        assert_eq!(
            keyring.open(&damaged),
            Err(SealingError::Damaged("a".into()))
        );
        assert!(keyring.open("sealed:v1:a:short").is_err());
        assert_eq!(
            open_without_keys(&sealed),
            Err(SealingError::UnknownKey("a".into()))
        );
    }

    #[test]
    fn malformed_keyrings_are_refused_with_the_reason() {
        for (setting, reason) in [
            ("", "not ID:KEY"),
            ("nokey", "not ID:KEY"),
            ("a:not base64!", "not base64"),
            ("a:AAEC", "3 bytes"),
            (
                "a b:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                "letters",
            ),
            (&format!("{A},{A}"), "twice"),
        ] {
            let error = Keyring::parse(setting).unwrap_err().to_string();
            assert!(error.contains(reason), "{setting}: {error}");
        }
    }

    #[test]
    fn a_generated_entry_parses_and_the_debug_form_shows_no_key() {
        let entry = Keyring::generate_entry("2026-12");
        let keyring = Keyring::parse(&entry).unwrap();
        assert_eq!(keyring.sealing_key_id(), "2026-12");
        let shown = format!("{keyring:?}");
        assert!(shown.contains("2026-12"));
        assert!(!shown.contains(entry.split_once(':').unwrap().1));
    }
}
