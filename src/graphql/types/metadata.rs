//! `MetadataItem` and the `metadata` and `metafield` fields that products, variants, orders and
//! accounts share: public entries for whoever sees the owner, private ones for staff and for
//! partner keys with the owner's read scope.

use async_graphql::{Context, Result, SimpleObject};

use crate::db::models::metadata::MetadataRow;
use crate::domain::metadata::MetadataOwner;
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;
use crate::graphql::loaders::{Loader, MetadataOf, each_row};

/// A metadata entry: a key and its value.
#[derive(SimpleObject)]
pub struct MetadataItem {
    /// The key, e.g. `erp.id`.
    pub key: String,
    /// The value.
    pub value: String,
}

impl From<MetadataRow> for MetadataItem {
    fn from(row: MetadataRow) -> Self {
        Self {
            key: row.key,
            value: row.value,
        }
    }
}

/// `FORBIDDEN` unless the caller may read `owner`'s `private` side.
fn check_side(ctx: &Context<'_>, owner: MetadataOwner, private: bool) -> Result<()> {
    let caller = ctx.request()?.principal;
    if private && !caller.is_staff_or(owner.read_scope()) {
        return Err(AppError::Forbidden.into());
    }
    Ok(())
}

/// `owner`'s entries on one side, by key.
pub async fn metadata_of(
    ctx: &Context<'_>,
    owner: MetadataOwner,
    private: bool,
) -> Result<Vec<MetadataItem>> {
    check_side(ctx, owner, private)?;
    let rows = ctx
        .data::<Loader>()?
        .load_one(MetadataOf { owner, private })
        .await?;
    Ok(each_row(rows).map(MetadataItem::from).collect())
}

/// `owner`'s value under `key` on one side.
pub async fn metafield_of(
    ctx: &Context<'_>,
    owner: MetadataOwner,
    private: bool,
    key: &str,
) -> Result<Option<String>> {
    let entries = metadata_of(ctx, owner, private).await?;
    Ok(entries
        .into_iter()
        .find(|entry| entry.key == key)
        .map(|entry| entry.value))
}
