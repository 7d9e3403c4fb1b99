//! Setting and deleting an owner's metadata: checked, under a lock on the owner, bounded to
//! [`MAX_METADATA_ENTRIES`] a side, recorded in the audit log, and moving the owner in the
//! change feeds so that partners syncing by `updatedSince` see it again.

use std::collections::BTreeSet;

use serde_json::json;

use crate::db::Db;
use crate::db::DbConnection;
use crate::db::models::event::Tracked;
use crate::db::models::metadata;
use crate::domain::bounds::room_for;
use crate::domain::metadata::{MAX_METADATA_ENTRIES, MetadataOwner, checked_entries, checked_keys};
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Subject};
use crate::services::events::{Changes, recorded_transaction};

/// Sets `entries` (key, value) on `owner`'s public or `private` side: keys it has take the new
/// value, the others are added.
pub async fn set(
    db: &Db,
    owner: MetadataOwner,
    private: bool,
    entries: Vec<(String, String)>,
) -> AppResult<()> {
    let entries = checked_entries(entries).map_err(AppError::rejected)?;
    let currency = db.currency();
    let actor = db.actor();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            locked_owner(conn, owner)?;
            let held: BTreeSet<String> = metadata::keys_of(conn, owner, private)?
                .into_iter()
                .collect();
            let added = entries.keys().filter(|key| !held.contains(*key)).count();
            room_for(
                held.len() as i64,
                added,
                MAX_METADATA_ENTRIES,
                &["items"],
                "metadata entries on each side of one owner",
            )
            .map_err(AppError::rejected)?;
            metadata::set(conn, owner, private, &entries)?;
            let keys: Vec<&String> = entries.keys().collect();
            changed(
                conn,
                changes,
                actor,
                owner,
                "metadata.set",
                json!({ "private": private, "keys": keys }),
            )
        })
    })
    .await
}

/// Deletes `keys` from `owner`'s public or `private` side; keys it does not have are ignored.
pub async fn delete(
    db: &Db,
    owner: MetadataOwner,
    private: bool,
    keys: Vec<String>,
) -> AppResult<()> {
    let keys = checked_keys(keys).map_err(AppError::rejected)?;
    let currency = db.currency();
    let actor = db.actor();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            locked_owner(conn, owner)?;
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            if metadata::delete(conn, owner, private, &keys)? == 0 {
                return Ok(());
            }
            changed(
                conn,
                changes,
                actor,
                owner,
                "metadata.delete",
                json!({ "private": private, "keys": keys }),
            )
        })
    })
    .await
}

/// Locks `owner`; `NOT_FOUND` at `id` when it does not exist.
fn locked_owner(conn: &mut DbConnection, owner: MetadataOwner) -> AppResult<()> {
    if metadata::lock_owner(conn, owner)? {
        Ok(())
    } else {
        Err(AppError::rejected(Rejection::new(
            &["id"],
            RejectionCode::NotFound,
            "no such product, variant, order or account",
        )))
    }
}

/// Records a change of `owner`'s metadata: an audit entry (the keys, not the values, which may
/// be private) and a new change position for the owner.
fn changed(
    conn: &mut DbConnection,
    changes: &mut Changes,
    actor: Option<i64>,
    owner: MetadataOwner,
    action: &str,
    details: serde_json::Value,
) -> AppResult<()> {
    let id = owner.id();
    let (subject, tracked) = match owner {
        MetadataOwner::Product(_) => (Subject::Product(id), Tracked::Products),
        MetadataOwner::Variant(_) => (Subject::Variant(id), Tracked::Variants),
        MetadataOwner::Order(_) => (Subject::Order(id), Tracked::Orders),
        MetadataOwner::Account(_) => (Subject::Account(id), Tracked::Users),
    };
    audit::record(conn, actor, action, subject, details)?;
    changes.touch(tracked, id);
    Ok(())
}
