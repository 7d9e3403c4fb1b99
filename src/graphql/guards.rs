//! Who may call what, declared on fields: `#[graphql(guard = "RoleGuard(Role::Staff)")]` for
//! accounts only, `#[graphql(guard = "StaffOr(Scope::WriteProducts)")]` for staff work partners
//! may also do with that scope. Anonymous callers get `UNAUTHENTICATED`, callers without the
//! role or scope `FORBIDDEN`.

use async_graphql::{Context, Guard, Result};

use crate::domain::accounts::{AccountPrincipal, Principal, Role};
use crate::domain::partners::Scope;
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
            Principal::Account(_) | Principal::Partner(_) => Err(AppError::Forbidden.into()),
        }
    }
}

/// Requires staff (or an admin), or a partner whose key holds this scope.
pub struct StaffOr(pub Scope);

impl Guard for StaffOr {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        role_or_scope(ctx, Role::Staff, self.0)
    }
}

/// Requires a signed-in account, or a partner whose key holds this scope.
pub struct CustomerOr(pub Scope);

impl Guard for CustomerOr {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        role_or_scope(ctx, Role::Customer, self.0)
    }
}

/// What [`StaffOr`] checks, for resolvers whose scope depends on their arguments.
pub fn staff_or(ctx: &Context<'_>, scope: Scope) -> Result<()> {
    role_or_scope(ctx, Role::Staff, scope)
}

fn role_or_scope(ctx: &Context<'_>, role: Role, scope: Scope) -> Result<()> {
    let principal = ctx.request()?.principal;
    match principal {
        Principal::Anonymous => Err(sign_in_required().into()),
        _ if principal.has_role(role) || principal.has_scope(scope) => Ok(()),
        Principal::Account(_) | Principal::Partner(_) => Err(AppError::Forbidden.into()),
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
