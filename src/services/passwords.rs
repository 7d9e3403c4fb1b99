//! Password hashing with bcrypt, always on a blocking thread, with a dummy verification for
//! unknown accounts so that timing does not tell which emails have one.

use std::sync::{Arc, OnceLock};

use crate::domain::accounts::{PASSWORD_MAX_BYTES, Password};
use crate::error::{AppError, AppResult};
use crate::telemetry::spawn_blocking_in_span;

fn dummy_hash_of_cost(cost: u32) -> String {
    bcrypt::hash("not anyone's password", cost).unwrap_or_default()
}

/// Hashes and verifies passwords at the configured cost.
#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    dummy_hash: Arc<OnceLock<String>>,
}

impl PasswordHasher {
    /// A hasher making hashes of bcrypt `cost`. The dummy hash is made on a background thread
    /// at once, so that not even the first unknown-email sign-in takes longer than the others.
    pub fn new(cost: u32) -> Self {
        let dummy_hash = Arc::new(OnceLock::new());
        let warming = dummy_hash.clone();
        std::thread::spawn(move || {
            warming.get_or_init(|| dummy_hash_of_cost(cost));
        });
        Self { cost, dummy_hash }
    }

    /// The bcrypt hash of `password`.
    pub async fn hash(&self, password: Password) -> AppResult<String> {
        let cost = self.cost;
        spawn_blocking_in_span("bcrypt hash", move || {
            bcrypt::hash(password.expose(), cost).map_err(AppError::internal)
        })
        .await
    }

    /// Whether `password` matches `stored_hash`. Without a stored hash (no such account) it
    /// verifies against a dummy hash of the same cost and answers `false`, taking as long.
    pub async fn verify(&self, password: String, stored_hash: Option<String>) -> AppResult<bool> {
        let cost = self.cost;
        let dummy = self.dummy_hash.clone();
        spawn_blocking_in_span("bcrypt verify", move || {
            let dummy_hash = || dummy.get_or_init(|| dummy_hash_of_cost(cost)).clone();
            // Longer passwords were never accepted, so they cannot match; bcrypt would only
            // compare their first 72 bytes.
            let comparable = password.len() <= PASSWORD_MAX_BYTES;
            let (hash, real) = match stored_hash {
                Some(hash) if comparable => (hash, true),
                _ => (dummy_hash(), false),
            };
            let matches = bcrypt::verify(&password, &hash).unwrap_or(false);
            Ok(real && matches)
        })
        .await
    }
}
