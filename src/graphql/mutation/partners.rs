//! Partner mutations: admins create apps, make and revoke their API keys.

use async_graphql::{Context, ID, Object, Result};

use crate::domain::accounts::Role;
use crate::domain::partners::{Scope, Scopes};
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::RoleGuard;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::types::partner::{ApiKeyNode, ApiScope, AppNode};
use crate::graphql::user_errors::respond;
use crate::payload;
use crate::services::partners;

payload!(
    /// The result of `appCreate`.
    AppCreatePayload {
        /// The new app, without keys yet.
        app: Option<AppNode>,
    }
);

payload!(
    /// The result of `apiKeyCreate`.
    ApiKeyCreatePayload {
        /// The key as stored.
        api_key: Option<ApiKeyNode>,
        /// The whole key (`bzk_…`), shown this once: send it as `Authorization: Bearer <key>`.
        /// Only its SHA-256 is kept.
        secret: Option<String>,
    }
);

payload!(
    /// The result of `apiKeyRevoke`.
    ApiKeyRevokePayload {
        /// The key, revoked: it stops working on the next request, on every instance.
        api_key: Option<ApiKeyNode>,
    }
);

/// Partner app administration (admins).
#[derive(Default)]
pub struct PartnerMutation;

#[Object]
impl PartnerMutation {
    /// Creates a partner app (then make it a key with `apiKeyCreate`).
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn app_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The app's name (at most 100 characters).")] name: String,
        #[graphql(desc = "Whom to contact about it (at most 254 characters).")] contact: String,
    ) -> Result<AppCreatePayload> {
        let result = partners::create_app(&ctx.request()?.db, &name, &contact).await;
        respond(result, |app| AppCreatePayload {
            app: Some(AppNode::from((app, Vec::new()))),
            ..Default::default()
        })
    }

    /// Makes an API key for an app with the scopes given. The secret is in the answer only; an
    /// app holds at most 2 live keys (make the new one, move the partner to it, revoke the old).
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn api_key_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The app's global id.")] app_id: ID,
        #[graphql(desc = "What the key allows (at least one).")] scopes: Vec<ApiScope>,
    ) -> Result<ApiKeyCreatePayload> {
        let app = GlobalId::parse_kind(&app_id, NodeKind::App)?;
        let scopes = Scopes::of(scopes.into_iter().map(Scope::from));
        let result = partners::create_key(&ctx.request()?.db, app, scopes).await;
        respond(result, |made| ApiKeyCreatePayload {
            secret: Some(made.secret.expose().to_owned()),
            api_key: Some(ApiKeyNode(made.key)),
            ..Default::default()
        })
    }

    /// Revokes an API key: the next request with it is `UNAUTHENTICATED`, on every instance.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn api_key_revoke(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key's global id.")] id: ID,
    ) -> Result<ApiKeyRevokePayload> {
        let key = GlobalId::parse_kind(&id, NodeKind::ApiKey)?;
        let result = partners::revoke_key(&ctx.request()?.db, key).await;
        respond(result, |key| ApiKeyRevokePayload {
            api_key: Some(ApiKeyNode(key)),
            ..Default::default()
        })
    }
}
