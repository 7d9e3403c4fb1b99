//! Manual collection mutations, for staff and partner keys with `WRITE_PRODUCTS`; each is
//! recorded in the audit log.

use async_graphql::{Context, ID, InputObject, Object, Result};

use super::shipping::DeletePayload;
use crate::domain::ids::{CollectionId, ProductId};
use crate::domain::partners::Scope;
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::StaffOr;
use crate::graphql::ids::{GlobalId, NodeKind, global_id_of};
use crate::graphql::types::CollectionNode;
use crate::graphql::user_errors::respond;
use crate::payload;
use crate::services::collections::{self, CollectionInput};

payload!(
    /// The result of a collection mutation.
    CollectionPayload {
        /// The collection as it is now.
        collection: Option<CollectionNode>,
    }
);

/// A collection's fields; omitted ones stay as they are (on update) or take their defaults.
#[derive(InputObject, Default)]
pub struct CollectionFields {
    /// Display title (1–200 characters; required on create).
    pub title: Option<String>,
    /// URL handle (lower-case letters, digits, dashes; at most 200); made from the title when
    /// omitted on create.
    pub slug: Option<String>,
    /// Description (at most 10,000 characters).
    pub description: Option<String>,
    /// Whether customers see it; new collections are published unless given.
    pub published: Option<bool>,
}

impl From<CollectionFields> for CollectionInput {
    fn from(fields: CollectionFields) -> Self {
        Self {
            title: fields.title,
            slug: fields.slug,
            description: fields.description,
            published: fields.published,
        }
    }
}

/// Puts a product of the collection at a new place.
#[derive(InputObject)]
pub struct CollectionMoveInput {
    /// The product (in the collection).
    pub product_id: ID,
    /// Its new 0-based index in the collection's order; past the end puts it last.
    pub position: i32,
}

fn collection_id(id: &ID) -> Result<CollectionId> {
    Ok(GlobalId::parse_as(id)?)
}

/// The database ids of `ids`, global product ids given as `argument`.
fn global_product_ids(argument: &str, ids: &[ID]) -> Result<Vec<ProductId>, AppError> {
    ids.iter()
        .enumerate()
        .map(|(index, id)| {
            GlobalId::parse_as(id).map_err(|e| match e {
                AppError::BadUserInput(message) => {
                    AppError::BadUserInput(format!("{argument}.{index}: {message}"))
                }
                other => other,
            })
        })
        .collect()
}

fn collection_payload(
    result: Result<crate::db::models::collection::Collection, AppError>,
) -> Result<CollectionPayload> {
    respond(result, |c| CollectionPayload {
        collection: Some(c.into()),
        ..Default::default()
    })
}

/// Staff collection writes.
#[derive(Default)]
pub struct CollectionMutation;

#[Object]
impl CollectionMutation {
    /// Creates a manual collection (published unless `published: false`), without products.
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn collection_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new collection (a title required).")] input: CollectionFields,
    ) -> Result<CollectionPayload> {
        collection_payload(collections::create(&ctx.request()?.db, input.into()).await)
    }

    /// Changes a collection's title, slug, description or publication.
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn collection_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The collection.")] id: ID,
        #[graphql(desc = "The changes.")] input: CollectionFields,
    ) -> Result<CollectionPayload> {
        let id = collection_id(&id)?;
        collection_payload(collections::update(&ctx.request()?.db, id, input.into()).await)
    }

    /// Deletes a collection; its products stay in the catalog.
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn collection_delete(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The collection.")] id: ID,
    ) -> Result<DeletePayload> {
        let id = collection_id(&id)?;
        let result = collections::delete(&ctx.request()?.db, id).await;
        respond(result, |id| DeletePayload {
            deleted_id: Some(global_id_of(NodeKind::Collection, id)),
            ..Default::default()
        })
    }

    /// Adds products at the end of a collection, in the order given (products already in it
    /// keep their place). A collection holds at most 1,000 products and a product is in at most
    /// 25 collections (`LIMIT_REACHED`); an unknown product is `NOT_FOUND` at its index.
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn collection_add_products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The collection.")] id: ID,
        #[graphql(desc = "1 to 250 products, in the order to add them.")] product_ids: Vec<ID>,
    ) -> Result<CollectionPayload> {
        let id = collection_id(&id)?;
        let products = global_product_ids("productIds", &product_ids)?;
        let result = collections::add_products(&ctx.request()?.db, id, products).await;
        collection_payload(result)
    }

    /// Takes products out of a collection (products not in it are ignored); they stay in the
    /// catalog.
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn collection_remove_products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The collection.")] id: ID,
        #[graphql(desc = "1 to 250 products.")] product_ids: Vec<ID>,
    ) -> Result<CollectionPayload> {
        let id = collection_id(&id)?;
        let products = global_product_ids("productIds", &product_ids)?;
        let result = collections::remove_products(&ctx.request()?.db, id, products).await;
        collection_payload(result)
    }

    /// Moves products of a collection: each move, in turn, puts its product at a 0-based index
    /// and shifts the others (as dragging it in a list would). A product not in the collection
    /// is `NOT_FOUND` at its move, and nothing moves.
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn collection_reorder_products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The collection.")] id: ID,
        #[graphql(desc = "1 to 250 moves, applied in order.")] moves: Vec<CollectionMoveInput>,
    ) -> Result<CollectionPayload> {
        let id = collection_id(&id)?;
        let ids: Vec<ID> = moves.iter().map(|m| m.product_id.clone()).collect();
        let products = global_product_ids("moves", &ids)?;
        let mut checked = Vec::with_capacity(moves.len());
        for (index, (product, step)) in products.into_iter().zip(&moves).enumerate() {
            let position = usize::try_from(step.position).map_err(|_| {
                AppError::bad_input(format!("moves.{index}.position must not be negative"))
            })?;
            checked.push((product, position));
        }
        let result = collections::reorder_products(&ctx.request()?.db, id, checked).await;
        collection_payload(result)
    }
}
