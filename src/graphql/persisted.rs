//! Persisted queries: the Automatic Persisted Queries protocol (a client sends the SHA-256 of a
//! document instead of the document, and the document once when the server does not know it),
//! and an allow-list mode in which only registered documents run.

use std::collections::HashMap;
use std::sync::Arc;

use moka::sync::Cache;

pub use crate::config::PersistedMode;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// Bytes of documents remembered for APQ (the least used go first).
const APQ_BYTES: u64 = 8 * 1024 * 1024;

/// `extensions.code` when the hash is unknown: the client resends with the document.
pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
/// `extensions.code` when the allow-list does not hold the document.
pub const OPERATION_NOT_ALLOWED: &str = "OPERATION_NOT_ALLOWED";

/// Why a request's document could not be found or may not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistedError {
    /// `extensions.code`.
    pub code: &'static str,
    /// For the client.
    pub message: String,
}

impl PersistedError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The hex SHA-256 of a document, as APQ names it.
pub fn document_hash(query: &str) -> String {
    format!("{:x}", Sha256::digest(query.as_bytes()))
}

/// The registered and remembered documents.
pub struct PersistedQueries {
    mode: PersistedMode,
    allowed: HashMap<String, String>,
    /// By hash; only documents that passed the document limits.
    remembered: Cache<String, Arc<str>>,
}

impl PersistedQueries {
    /// A store in `mode`; `allowed` maps hashes to documents (the allow-list, checked here).
    pub fn new(mode: PersistedMode, allowed: HashMap<String, String>) -> anyhow::Result<Self> {
        for (hash, query) in &allowed {
            anyhow::ensure!(
                document_hash(query) == hash.to_ascii_lowercase(),
                "persisted query {hash} does not match the SHA-256 of its document"
            );
        }
        let allowed = allowed
            .into_iter()
            .map(|(hash, query)| (hash.to_ascii_lowercase(), query))
            .collect();
        Ok(Self {
            mode,
            allowed,
            remembered: Cache::builder()
                .max_capacity(APQ_BYTES)
                .weigher(|hash: &String, query: &Arc<str>| {
                    u32::try_from(hash.len() + query.len()).unwrap_or(u32::MAX)
                })
                .build(),
        })
    }

    /// Reads an allow-list file: a JSON object of `"sha256 hex": "document"`, as Relay and Apollo
    /// persisted-query manifests have it.
    pub fn read_allowlist(path: &std::path::Path) -> anyhow::Result<HashMap<String, String>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{} is not a JSON object of hash → document: {e}",
                path.display()
            )
        })
    }

    /// The document to run for a request's `query` and `extensions`. A document sent with its
    /// hash is not remembered yet: see [`Self::remember_checked`].
    pub fn resolve(
        &self,
        query: Option<String>,
        extensions: Option<&Map<String, Value>>,
    ) -> Result<Option<String>, PersistedError> {
        let hash = match extensions.and_then(|e| e.get("persistedQuery")) {
            None => None,
            Some(persisted) => Some(requested_hash(persisted)?),
        };
        match (self.mode, hash) {
            (PersistedMode::Off, Some(_)) => Err(PersistedError::new(
                "PERSISTED_QUERY_NOT_SUPPORTED",
                "persisted queries are switched off",
            )),
            (PersistedMode::Off, None) => Ok(query),
            (PersistedMode::Apq, None) => Ok(query),
            (PersistedMode::Apq, Some(hash)) => match query {
                Some(query) => {
                    check_hash(&query, &hash)?;
                    Ok(Some(query))
                }
                None => self
                    .remembered(&hash)
                    .or_else(|| self.allowed.get(&hash).cloned())
                    .map(Some)
                    .ok_or_else(|| {
                        PersistedError::new(PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound")
                    }),
            },
            (PersistedMode::Allowlist, hash) => {
                let hash = match (&query, hash) {
                    (Some(query), Some(hash)) => {
                        check_hash(query, &hash)?;
                        hash
                    }
                    (Some(query), None) => document_hash(query),
                    (None, Some(hash)) => hash,
                    (None, None) => return Ok(None),
                };
                self.allowed.get(&hash).cloned().map(Some).ok_or_else(|| {
                    PersistedError::new(
                        OPERATION_NOT_ALLOWED,
                        "only registered operations may run on this server",
                    )
                })
            }
        }
    }

    /// Remembers a document the client sent with its APQ hash, once it has passed the document
    /// limits: the store never holds what the server would refuse to run.
    pub fn remember_checked(&self, query: &str, extensions: Option<&Map<String, Value>>) {
        if self.mode != PersistedMode::Apq {
            return;
        }
        let announced = extensions
            .and_then(|e| e.get("persistedQuery"))
            .and_then(|persisted| requested_hash(persisted).ok());
        let fresh = announced
            .filter(|hash| !self.remembered.contains_key(hash) && check_hash(query, hash).is_ok());
        if let Some(hash) = fresh {
            self.remembered.insert(hash, Arc::from(query));
        }
    }

    fn remembered(&self, hash: &str) -> Option<String> {
        self.remembered.get(hash).map(|query| query.to_string())
    }
}

/// The hash of a `persistedQuery` extension (`{ "version": 1, "sha256Hash": "…" }`).
fn requested_hash(persisted: &Value) -> Result<String, PersistedError> {
    let invalid = |message: &str| PersistedError::new("BAD_USER_INPUT", message);
    if persisted.get("version").and_then(Value::as_i64) != Some(1) {
        return Err(invalid("persistedQuery.version must be 1"));
    }
    let hash = persisted
        .get("sha256Hash")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("persistedQuery.sha256Hash must be a string"))?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("persistedQuery.sha256Hash must be 64 hex digits"));
    }
    Ok(hash.to_ascii_lowercase())
}

fn check_hash(query: &str, hash: &str) -> Result<(), PersistedError> {
    if document_hash(query) == hash {
        Ok(())
    } else {
        Err(PersistedError::new(
            "BAD_USER_INPUT",
            "provided sha256Hash does not match the query",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: &str = "{ __typename }";

    fn extension(hash: &str) -> Map<String, Value> {
        serde_json::json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn apq_asks_for_the_document_once_then_remembers_it() {
        let store = PersistedQueries::new(PersistedMode::Apq, HashMap::new()).unwrap();
        let hash = document_hash(QUERY);
        let ext = extension(&hash);
        assert_eq!(
            store.resolve(None, Some(&ext)).unwrap_err().code,
            PERSISTED_QUERY_NOT_FOUND
        );
        assert_eq!(
            store
                .resolve(Some(QUERY.into()), Some(&ext))
                .unwrap()
                .as_deref(),
            Some(QUERY)
        );
        assert!(
            store.resolve(None, Some(&ext)).is_err(),
            "not remembered before it passed the limits"
        );
        store.remember_checked(QUERY, Some(&ext));
        assert_eq!(
            store.resolve(None, Some(&ext)).unwrap().as_deref(),
            Some(QUERY)
        );
        let wrong = extension(&document_hash("{ other }"));
        assert!(store.resolve(Some(QUERY.into()), Some(&wrong)).is_err());
        assert!(store.resolve(None, Some(&extension("abc"))).is_err());
    }

    #[test]
    fn the_allowlist_runs_registered_documents_only() {
        let hash = document_hash(QUERY);
        let store = PersistedQueries::new(
            PersistedMode::Allowlist,
            HashMap::from([(hash.clone(), QUERY.to_owned())]),
        )
        .unwrap();
        assert_eq!(
            store
                .resolve(None, Some(&extension(&hash)))
                .unwrap()
                .as_deref(),
            Some(QUERY)
        );
        assert_eq!(
            store.resolve(Some(QUERY.into()), None).unwrap().as_deref(),
            Some(QUERY)
        );
        assert_eq!(
            store
                .resolve(Some("{ products { edges { cursor } } }".into()), None)
                .unwrap_err()
                .code,
            OPERATION_NOT_ALLOWED
        );
        assert!(
            PersistedQueries::new(
                PersistedMode::Allowlist,
                HashMap::from([(hash, "{ tampered }".to_owned())]),
            )
            .is_err()
        );
    }
}
