//! The event log's query: `events`, which partners and staff replay from any position.

use async_graphql::{Context, Object, Result};

use crate::graphql::context::ContextExt as _;
use crate::graphql::pagination::{encode_cursor, page_request};
use crate::graphql::types::event::{EventConnection, EventType};
use crate::services::events;

/// Event-log reads.
#[derive(Default)]
pub struct EventQuery;

#[Object]
impl EventQuery {
    /// The event log, oldest first: every change partners care about, in the order the changes
    /// committed, so a reader that keeps the last cursor it saw and asks for what comes `after`
    /// it never misses one. Staff read every kind; a partner key reads the kinds its scopes
    /// allow (see `EventType`). Kept for the configured retention (default 30 days). Relay
    /// connection.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first N events (at most 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return events after this cursor (the last one you processed).")]
        after: Option<String>,
        #[graphql(desc = "Return the last N events (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return events before this cursor.")] before: Option<String>,
        #[graphql(
            desc = "Only these kinds (at most 12; default: every kind the caller may read). Asking for a kind your key's scopes do not allow is FORBIDDEN."
        )]
        types: Option<Vec<EventType>>,
    ) -> Result<EventConnection> {
        let request = ctx.request()?;
        let requested = types.map(|kinds| kinds.into_iter().map(Into::into).collect::<Vec<_>>());
        let kinds = events::readable_kinds(&request.principal, requested.as_deref())?;
        let page = page_request::<i64>(first, after, last, before)?;
        let page = events::page(
            &request.db,
            kinds,
            request.principal.sees_personal_data(),
            page,
        )
        .await?;
        Ok(EventConnection::from_page(page, |event| {
            encode_cursor(&event.position)
        }))
    }
}
