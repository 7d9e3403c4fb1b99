//! `AuditEntry` and its connection: the staff audit log as admins read it.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use crate::db::models::audit::AuditEntry;
use crate::domain::ids::AccountId;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::loaders::Loader;
use crate::graphql::types::AccountNode;

crate::connection_types!(
    AuditEntryConnection,
    AuditEntryEdge,
    AuditEntryNode,
    "A page of the audit log.",
    "An entry of the audit log."
);

/// Who changed what and when.
pub struct AuditEntryNode(AuditEntry);

impl From<AuditEntry> for AuditEntryNode {
    fn from(row: AuditEntry) -> Self {
        Self(row)
    }
}

/// Who changed what and when: a staff change of prices, stock, roles, discount codes, order
/// states, review moderation or partner apps and keys, written in the same transaction as the
/// change.
#[Object(name = "AuditEntry")]
impl AuditEntryNode {
    /// What was done: `product.update`, `product.upsert` (a partner system's push that changed
    /// something), `variant.create`, `variant.update`, `variant.archive`, `inventory.adjust`, `account.role`, `discount.create`, `discount.update`,
    /// `discount.disable`, `order.status`, `order.fulfill` (a fulfilment: its lines, carrier and
    /// tracking number), `order.refund`, `review.moderate`, `app.create`,
    /// `api_key.create`, `api_key.revoke`, `metadata.set`, `metadata.delete` (the keys, not the
    /// values).
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// The global id of what it was done to.
    async fn subject_id(&self) -> Option<ID> {
        NodeKind::from_name(&self.0.subject_type)
            .map(|kind| GlobalId::new(kind, self.0.subject_id).into())
    }

    /// The values before and after, as JSON (e.g. `{"price": [1999, 2499]}`).
    async fn details(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(serde_json::from_str(&self.0.details).unwrap_or_default())
    }

    /// Who did it; null once that account is gone.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<AccountNode>> {
        let Some(actor) = self.0.actor_id else {
            return Ok(None);
        };
        Ok(ctx
            .data::<Loader>()?
            .load_one(AccountId(actor))
            .await?
            .map(AccountNode::from))
    }

    /// When.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.and_utc()
    }
}
