//! Partner apps and their API keys: admins create apps and keys (the secret is shown once and
//! stored only as SHA-256), revoke keys, and every request with a key is checked against the
//! database, so a revocation holds on the next request on every instance.

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeDelta, Utc};

use crate::db::models::partner::{self, ApiKey, App, NewApiKey};
use crate::db::{Db, write_transaction};
use crate::domain::accounts::NAME_MAX_CHARS;
use crate::domain::paging::{Page, PageRequest};
use crate::domain::partners::{
    KEYS_LISTED_PER_APP, MAX_LIVE_KEYS_PER_APP, PartnerPrincipal, Scopes,
};
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Subject};
use crate::services::tokens::{SecretToken, hash_token};

/// What API keys start with.
pub const API_KEY_PREFIX: &str = "bzk_";
/// Characters of a key shown in lists and logs: `bzk_` and the first eight of the secret.
const SHOWN_PREFIX_CHARS: usize = 12;
/// A key's last use is recorded at most this often.
const TOUCH_EVERY: TimeDelta = TimeDelta::minutes(1);

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn rejected(field: &[&str], code: RejectionCode, message: impl Into<String>) -> AppError {
    AppError::rejected(Rejection::new(field, code, message))
}

/// Whether `token` is shaped like an API key (and not a session token).
pub fn is_api_key(token: &str) -> bool {
    token.starts_with(API_KEY_PREFIX)
}

fn text(value: &str, field: &str, max: usize) -> AppResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(rejected(
            &[field],
            RejectionCode::Invalid,
            "must not be empty",
        ));
    }
    if value.chars().count() > max {
        return Err(rejected(
            &[field],
            RejectionCode::TooLong,
            format!("at most {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// Creates a partner app.
pub async fn create_app(db: &Db, name: &str, contact: &str) -> AppResult<App> {
    let name = text(name, "name", NAME_MAX_CHARS)?;
    let contact = text(contact, "contact", 254)?;
    let actor = db.actor();
    let app = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let app = partner::insert_app(conn, &name, &contact, now())?;
                audit::record(
                    conn,
                    actor,
                    "app.create",
                    Subject::App(app.id),
                    serde_json::json!({ "name": app.name, "contact": app.contact }),
                )?;
                Ok(app)
            })
        })
        .await?;
    tracing::info!(app = app.id, "partner app created");
    Ok(app)
}

/// A key just made: its secret, shown this once, and the stored key.
pub struct NewKey {
    /// The whole key, to send as `Authorization: Bearer <secret>`.
    pub secret: SecretToken,
    /// The key as stored.
    pub key: ApiKey,
}

/// Makes a key for an app with `scopes`; an app holds at most [`MAX_LIVE_KEYS_PER_APP`] live
/// keys (revoke one to rotate).
pub async fn create_key(db: &Db, app_id: i64, scopes: Scopes) -> AppResult<NewKey> {
    if scopes.is_empty() {
        return Err(rejected(
            &["scopes"],
            RejectionCode::Invalid,
            "a key needs at least one scope",
        ));
    }
    let secret = SecretToken::generate(API_KEY_PREFIX);
    let secret_hash = secret.hash();
    let prefix: String = secret.expose().chars().take(SHOWN_PREFIX_CHARS).collect();
    let actor = db.actor();
    let key = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                if !partner::lock_app(conn, app_id)? {
                    return Err(rejected(&["appId"], RejectionCode::NotFound, "no such app"));
                }
                let live = partner::live_key_count(conn, app_id)?;
                if usize::try_from(live).unwrap_or(usize::MAX) >= MAX_LIVE_KEYS_PER_APP {
                    return Err(rejected(
                        &["appId"],
                        RejectionCode::LimitReached,
                        format!(
                            "an app holds at most {MAX_LIVE_KEYS_PER_APP} live keys: revoke one first"
                        ),
                    ));
                }
                let stored_scopes = scopes.to_string();
                let key = partner::insert_key(
                    conn,
                    &NewApiKey {
                        app_id,
                        prefix: &prefix,
                        secret_hash: &secret_hash,
                        scopes: &stored_scopes,
                        created_at: now(),
                    },
                )?;
                audit::record(
                    conn,
                    actor,
                    "api_key.create",
                    Subject::App(app_id),
                    serde_json::json!({ "key": key.prefix, "scopes": key.scopes }),
                )?;
                Ok(key)
            })
        })
        .await?;
    tracing::info!(app = app_id, key = %key.prefix, "API key created");
    Ok(NewKey { secret, key })
}

/// Revokes a key; it stops working on the next request, on every instance.
pub async fn revoke_key(db: &Db, key_id: i64) -> AppResult<ApiKey> {
    let actor = db.actor();
    let key = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let key = partner::revoke_key(conn, key_id, now())?
                    .ok_or_else(|| rejected(&["id"], RejectionCode::NotFound, "no such API key"))?;
                audit::record(
                    conn,
                    actor,
                    "api_key.revoke",
                    Subject::App(key.app_id),
                    serde_json::json!({ "key": key.prefix }),
                )?;
                Ok(key)
            })
        })
        .await?;
    tracing::info!(app = key.app_id, key = %key.prefix, "API key revoked");
    Ok(key)
}

/// The apps, newest first, each with its newest [`KEYS_LISTED_PER_APP`] keys (two statements
/// a page).
pub async fn list_apps(db: &Db, page: PageRequest<i64>) -> AppResult<Page<(App, Vec<ApiKey>)>> {
    let window = page.id_window();
    let rows = db
        .run(move |conn| {
            let apps = partner::apps_page(conn, &window)?;
            let ids: Vec<i64> = apps.iter().map(|app| app.id).collect();
            let keys = if ids.is_empty() {
                Vec::new()
            } else {
                partner::keys_of_apps(conn, &ids)?
            };
            let mut by_app: HashMap<i64, Vec<ApiKey>> = HashMap::new();
            for key in keys {
                let listed = by_app.entry(key.app_id).or_default();
                if listed.len() < KEYS_LISTED_PER_APP {
                    listed.push(key);
                }
            }
            Ok(apps
                .into_iter()
                .map(|app| {
                    let keys = by_app.remove(&app.id).unwrap_or_default();
                    (app, keys)
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(page.into_page(rows))
}

/// The partner behind an API key; `UNAUTHENTICATED` when the key is unknown or revoked. Looked
/// up on every request (one indexed read; its last use is written at most once a minute).
pub async fn authenticate(db: &Db, key: &str) -> AppResult<PartnerPrincipal> {
    let unknown = || AppError::Unauthenticated("the API key is invalid or has been revoked".into());
    if key.len() > 200 {
        return Err(unknown());
    }
    let secret_hash = hash_token(key);
    let found = db
        .run(move |conn| {
            let Some(found) = partner::live_key_by_secret_hash(conn, &secret_hash)? else {
                return Ok(None);
            };
            let now = now();
            if found
                .last_used_at
                .is_none_or(|used| now - used >= TOUCH_EVERY)
            {
                partner::touch_key(conn, found.id, now, now - TOUCH_EVERY)?;
            }
            Ok(Some(found))
        })
        .await?
        .ok_or_else(unknown)?;
    let scopes =
        Scopes::parse(&found.scopes).map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
    Ok(PartnerPrincipal {
        app_id: found.app_id,
        key_id: found.id,
        scopes,
    })
}
