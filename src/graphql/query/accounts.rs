//! Account queries: `me` for the caller, `customers` for staff.

use async_graphql::{Context, Object, Result};

use crate::domain::accounts::Role;
use crate::domain::feeds::RowKey;
use crate::domain::partners::Scope;
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::{RoleGuard, StaffOr};
use crate::graphql::inputs::accounts::CustomersWhere;
use crate::graphql::inputs::feeds::CustomerSortBy;
use crate::graphql::loaders::Loader;
use crate::graphql::pagination::{encode_cursor, page_request};
use crate::graphql::types::AccountNode;
use crate::graphql::types::audit::AuditEntryConnection;
use crate::services::audit;

crate::connection_types!(
    AccountConnection,
    AccountEdge,
    AccountNode,
    "A page of accounts.",
    "An account in a list."
);

/// Account reads.
#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The staff audit log, newest first, for admins: who changed prices, stock, roles,
    /// discount codes, order states and review moderation, and when. Relay connection.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first N entries (at most 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return entries after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last N entries (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return entries before this cursor.")] before: Option<String>,
    ) -> Result<AuditEntryConnection> {
        let page = page_request::<i64>(first, after, last, before)?;
        let page = audit::page(&ctx.request()?.db, page).await?;
        Ok(AuditEntryConnection::from_page(page, |entry| {
            encode_cursor(&entry.id)
        }))
    }

    /// The signed-in account; null when the request carries no session.
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<AccountNode>> {
        let Some(id) = ctx.request()?.principal.account_id() else {
            return Ok(None);
        };
        let loader = ctx.data::<Loader>()?;
        Ok(loader.load_one(id).await?.map(AccountNode::from))
    }

    /// Every account, newest first unless `sortBy` says otherwise, for staff and partners with
    /// `read_customers`. With `sortBy: {field: UPDATED_AT}` it is the change feed of accounts:
    /// see `products`. Relay connection.
    #[graphql(guard = "StaffOr(Scope::ReadCustomers)")]
    async fn customers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first N accounts (at most 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return accounts after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last N accounts (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return accounts before this cursor.")] before: Option<String>,
        #[graphql(name = "where", desc = "Conditions every returned account meets.")]
        filter: Option<CustomersWhere>,
        #[graphql(desc = "Sort order; by default newest first (`CREATED_AT`, `DESC`).")]
        sort_by: Option<CustomerSortBy>,
    ) -> Result<AccountConnection> {
        let page = page_request::<RowKey>(first, after, last, before)?;
        let query = filter.unwrap_or_default().into_query(sort_by)?;
        let order = query.sort.order;
        let page = ctx
            .accounts()?
            .customers(&ctx.request()?.db, query, page)
            .await?;
        Ok(AccountConnection::from_page(page, |user| {
            encode_cursor(&RowKey::of(order, user.id, user.change_position))
        }))
    }
}
