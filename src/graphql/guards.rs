//! Who may call what, declared on fields: `#[graphql(guard = "RoleGuard(Role::Staff)")]`.
//! Anonymous callers get `UNAUTHENTICATED`, signed-in callers without the role `FORBIDDEN`.

use async_graphql::{Context, Guard, Result};

use crate::domain::accounts::{AccountPrincipal, Principal, Role};
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;

/// Requires a signed-in caller holding at least this role.
pub struct RoleGuard(pub Role);

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let principal = ctx.request()?.principal;
        match principal {
            Principal::Anonymous => Err(sign_in_required().into()),
            Principal::Account(account) if account.role >= self.0 => Ok(()),
            Principal::Account(_) => Err(AppError::Forbidden.into()),
        }
    }
}

fn sign_in_required() -> AppError {
    AppError::Unauthenticated("sign in first: send `Authorization: Bearer <token>`".into())
}

/// The signed-in caller; `UNAUTHENTICATED` for anonymous callers. For resolvers behind a
/// [`RoleGuard`], which has already checked.
pub fn signed_in(ctx: &Context<'_>) -> Result<AccountPrincipal> {
    ctx.request()?
        .principal
        .account()
        .copied()
        .ok_or_else(|| sign_in_required().into())
}
