//! `metadataSet` and `metadataDelete`: staff, and partner keys with the owner's write scope,
//! attach key-value pairs to products, variants, orders and accounts.

use async_graphql::{Context, ID, InputObject, Object, Result};

use crate::domain::ids::{AccountId, OrderId, ProductId, VariantId};
use crate::domain::metadata::MetadataOwner;
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::staff_or;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::loaders::Loader;
use crate::graphql::query::node::load_node;
use crate::graphql::types::Node;
use crate::graphql::user_errors::respond;
use crate::payload;
use crate::services::metadata;

/// A metadata entry to set.
#[derive(Debug, InputObject)]
pub struct MetadataInput {
    /// The key: 1 to 100 letters, digits and `_ - . : /`, e.g. `erp.id`.
    pub key: String,
    /// The value: at most 2,000 characters (may be empty).
    pub value: String,
}

payload!(
    /// The result of `metadataSet` and `metadataDelete`.
    MetadataPayload {
        /// The object as it is now; null when refused, or when the caller may not read it (a
        /// draft product and a key without `READ_PRODUCTS`).
        node: Option<Node>,
    }
);

/// The owner `id` names, after checking that the caller may change its metadata.
fn owner_of(ctx: &Context<'_>, id: &ID) -> Result<(GlobalId, MetadataOwner)> {
    let parsed = GlobalId::parse(id)?;
    let owner = match parsed.kind {
        NodeKind::Product => MetadataOwner::Product(ProductId(parsed.id)),
        NodeKind::Variant => MetadataOwner::Variant(VariantId(parsed.id)),
        NodeKind::Order => MetadataOwner::Order(OrderId(parsed.id)),
        NodeKind::Account => MetadataOwner::Account(AccountId(parsed.id)),
        other => {
            return Err(AppError::bad_input(format!(
                "a {} has no metadata: give a Product, Variant, Order or Account id",
                other.name()
            ))
            .into());
        }
    };
    staff_or(ctx, owner.write_scope())?;
    Ok((parsed, owner))
}

/// The owner as the caller sees it now.
async fn node(ctx: &Context<'_>, id: GlobalId) -> Result<Option<Node>> {
    let caller = ctx.request()?.principal;
    load_node(ctx.data::<Loader>()?, &caller, id).await
}

/// Metadata writes.
#[derive(Default)]
pub struct MetadataMutation;

#[Object]
impl MetadataMutation {
    /// Sets metadata entries on a product, variant, order or account: keys it has take the new
    /// value, others are added (at most 50 a side). Staff, and partner keys with the owner's
    /// write scope (`WRITE_PRODUCTS` for products and variants, `WRITE_ORDERS`,
    /// `WRITE_CUSTOMERS`).
    async fn metadata_set(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product, variant, order or account.")] id: ID,
        #[graphql(desc = "The entries to set (at most 50).")] items: Vec<MetadataInput>,
        #[graphql(desc = "Set private entries instead of public ones.", default = false)]
        private: bool,
    ) -> Result<MetadataPayload> {
        let (id, owner) = owner_of(ctx, &id)?;
        let entries = items
            .into_iter()
            .map(|item| (item.key, item.value))
            .collect();
        let result = metadata::set(&ctx.request()?.db, owner, private, entries).await;
        let node = match &result {
            Ok(()) => node(ctx, id).await?,
            Err(_) => None,
        };
        respond(result, |()| MetadataPayload {
            node,
            ..Default::default()
        })
    }

    /// Deletes metadata entries by key from a product, variant, order or account (keys it does
    /// not have are ignored). Who may: as for `metadataSet`.
    async fn metadata_delete(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product, variant, order or account.")] id: ID,
        #[graphql(desc = "The keys to delete (at most 50).")] keys: Vec<String>,
        #[graphql(
            desc = "Delete private entries instead of public ones.",
            default = false
        )]
        private: bool,
    ) -> Result<MetadataPayload> {
        let (id, owner) = owner_of(ctx, &id)?;
        let result = metadata::delete(&ctx.request()?.db, owner, private, keys).await;
        let node = match &result {
            Ok(()) => node(ctx, id).await?,
            Err(_) => None,
        };
        respond(result, |()| MetadataPayload {
            node,
            ..Default::default()
        })
    }
}
