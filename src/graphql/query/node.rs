//! `node(id:)` and `nodes(ids:)`: any object by global id.

use async_graphql::{Context, ID, Object, Result};

use crate::domain::accounts::{Principal, Role};
use crate::domain::ids::{
    AccountId, AddressId, CategoryId, CollectionId, DiscountCodeId, ImageId, OrderId, ProductId,
    ReviewId, VariantId,
};
use crate::domain::partners::Scope;
use crate::domain::reviews::ReviewStatus;
use crate::graphql::context::ContextExt as _;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::loaders::Loader;
use crate::graphql::types::product::ImageNode;
use crate::graphql::types::review::ReviewNode;
use crate::graphql::types::{
    AccountNode, AddressNode, CategoryNode, CollectionNode, DiscountCodeNode, Node, OrderNode,
    ProductNode, VariantNode,
};
use crate::services::orders::{self, OrderCaller};

/// Most ids one `nodes` call may ask for.
const MAX_NODES: usize = 100;

/// Lookups by global id.
#[derive(Default)]
pub struct NodeQuery;

/// Loads the object `id` names if the caller may see it; accounts and addresses only for their
/// owner and staff, discount codes only for staff, images and approved reviews where their
/// product shows, other reviews for their author and moderators (anyone else gets null, as if
/// it did not exist).
pub(crate) async fn load_node(
    loader: &Loader,
    caller: &Principal,
    id: GlobalId,
) -> Result<Option<Node>> {
    Ok(match id.kind {
        NodeKind::Category => loader
            .load_one(CategoryId(id.id))
            .await?
            .map(|c| Node::Category(CategoryNode::from(c))),
        NodeKind::Collection => loader
            .load_one(CollectionId(id.id))
            .await?
            .map(|c| Node::Collection(CollectionNode::from(c))),
        NodeKind::Product => loader
            .load_one(ProductId(id.id))
            .await?
            .map(|p| Node::Product(ProductNode::from(p))),
        NodeKind::Variant => loader
            .load_one(VariantId(id.id))
            .await?
            .map(|v| Node::Variant(VariantNode::from(v))),
        NodeKind::Account
            if caller.may_access_account(AccountId(id.id))
                || caller.has_scope(Scope::ReadCustomers) =>
        {
            loader
                .load_one(AccountId(id.id))
                .await?
                .map(|a| Node::Account(AccountNode::from(a)))
        }
        NodeKind::Address if caller.account().is_some() => loader
            .load_one(AddressId(id.id))
            .await?
            .map(AddressNode::from)
            .filter(|a| caller.may_access_account(a.owner()))
            .map(Node::Address),
        NodeKind::Order if caller.account().is_some() || caller.has_scope(Scope::ReadOrders) => {
            loader
                .load_one(OrderId(id.id))
                .await?
                .filter(|order| orders::may_see(order, &OrderCaller::from(*caller)))
                .map(|order| Node::Order(Box::new(OrderNode::from(order))))
        }
        NodeKind::Image => {
            let Some(image) = loader.load_one(ImageId(id.id)).await? else {
                return Ok(None);
            };
            let product = loader.load_one(image.product_id).await?;
            product.map(|_| Node::Image(ImageNode::from(image)))
        }
        NodeKind::Review => {
            let Some(review) = loader.load_one(ReviewId(id.id)).await? else {
                return Ok(None);
            };
            let moderates = caller.is_staff_or(Scope::ReadProducts);
            let own = caller.account_id() == Some(review.user_id);
            let shown = review.status == ReviewStatus::Approved;
            let product = loader.load_one(review.product_id).await?;
            (moderates || own || (shown && product.is_some()))
                .then(|| Node::Review(ReviewNode::from(review)))
        }
        NodeKind::DiscountCode if caller.has_role(Role::Staff) => loader
            .load_one(DiscountCodeId(id.id))
            .await?
            .map(|code| Node::DiscountCode(DiscountCodeNode::from(code))),
        NodeKind::Account
        | NodeKind::Address
        | NodeKind::Order
        | NodeKind::DiscountCode
        | NodeKind::App
        | NodeKind::ApiKey
        | NodeKind::Event
        | NodeKind::WebhookSubscription
        | NodeKind::WebhookDelivery
        | NodeKind::OrderLine
        | NodeKind::Fulfillment
        | NodeKind::OrderNote
        | NodeKind::ShippingZone
        | NodeKind::ShippingMethod
        | NodeKind::TaxRate => None,
    })
}

#[Object]
impl NodeQuery {
    /// The object with this global id, or null if there is none you may see.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id.")] id: ID,
    ) -> Result<Option<Node>> {
        let id = GlobalId::parse(&id)?;
        let caller = ctx.request()?.principal;
        load_node(ctx.data::<Loader>()?, &caller, id).await
    }

    /// The objects with these global ids, in the same order; null where there is none you may
    /// see. At most 100 ids.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ids (at most 100).")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(crate::error::AppError::bad_input(format!(
                "ask for at most {MAX_NODES} ids"
            ))
            .into());
        }
        let ids = ids
            .iter()
            .map(|id| GlobalId::parse(id))
            .collect::<Result<Vec<_>, _>>()?;
        let loader = ctx.data::<Loader>()?;
        let caller = ctx.request()?.principal;
        // Loads started together batch together: one statement per kind.
        futures_util::future::try_join_all(ids.into_iter().map(|id| load_node(loader, &caller, id)))
            .await
    }
}
