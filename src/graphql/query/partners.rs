//! Partner queries: the admin list of apps and their keys.

use async_graphql::{Context, Object, Result};

use crate::domain::accounts::Role;
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::RoleGuard;
use crate::graphql::pagination::{encode_cursor, page_request};
use crate::graphql::types::partner::AppConnection;
use crate::services::partners;

/// Partner reads.
#[derive(Default)]
pub struct PartnerQuery;

#[Object]
impl PartnerQuery {
    /// Every partner app with its keys, newest first, for admins. Relay connection.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn apps(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first N apps (at most 100; default 20).")] first: Option<i32>,
        #[graphql(desc = "Return apps after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last N apps (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return apps before this cursor.")] before: Option<String>,
    ) -> Result<AppConnection> {
        let page = page_request::<i64>(first, after, last, before)?;
        let page = partners::list_apps(&ctx.request()?.db, page).await?;
        Ok(AppConnection::from_page(page, |(app, _)| {
            encode_cursor(&app.id)
        }))
    }
}
