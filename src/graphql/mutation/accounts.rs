//! Account mutations: sign-up, sign-in and out, passwords, profile, address book, roles.

use crate::services::rate_limits::Limited;
use async_graphql::{Context, ID, Object, Result};

use crate::domain::accounts::Role;
use crate::domain::accounts::{AccountPrincipal, Principal};
use crate::domain::address::AddressParts;
use crate::domain::ids::{AccountId, AddressId};
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::{RoleGuard, signed_in};
use crate::graphql::ids::GlobalId;
use crate::graphql::inputs::accounts::{AccountRegisterInput, AccountUpdateInput, AddressInput};
use crate::graphql::types::account::{self, Session};
use crate::graphql::types::cart::{CartNode, cart_token};
use crate::graphql::types::{AccountNode, AddressNode, saturating_int};
use crate::graphql::user_errors::respond;
use crate::payload;
use crate::services::accounts::Registration;
use crate::services::{addresses, cart};

payload!(
    /// The result of `accountRegister`. The same whether or not the email has an account.
    AccountRegisterPayload {
        /// True when the sign-up was taken: a mail is on its way to the email, with a link that
        /// makes the account (`accountRegisterConfirm`), or, when the email has an account, a
        /// note saying so to its owner.
        accepted: bool,
    }
);

payload!(
    /// The result of `accountRegisterConfirm`.
    AccountRegisterConfirmPayload {
        /// The new account, its email verified.
        account: Option<AccountNode>,
        /// A session for it, so the customer is signed in at once.
        session: Option<Session>,
    }
);

payload!(
    /// The result of `login`.
    LoginPayload {
        /// The account signed in.
        account: Option<AccountNode>,
        /// The new session.
        session: Option<Session>,
        /// The customer's open cart, with the anonymous cart passed as `cartId` merged in.
        cart: Option<CartNode>,
    }
);

payload!(
    /// The result of `logout` and `logoutAllSessions`.
    LogoutPayload {
        /// How many sessions ended.
        ended_sessions: i32,
    }
);

payload!(
    /// The result of `passwordChange`.
    PasswordChangePayload {
        /// The account; its other sessions have ended.
        account: Option<AccountNode>,
    }
);

payload!(
    /// The result of `passwordResetRequest`. The same whether or not the email has an account.
    PasswordResetRequestPayload {
        /// True when the request was accepted: if the email has an account, a reset link is on
        /// its way.
        accepted: bool,
    }
);

payload!(
    /// The result of `passwordReset`.
    PasswordResetPayload {
        /// True when the password was changed; every session of the account has ended.
        password_changed: bool,
    }
);

payload!(
    /// The result of `accountEmailVerify`.
    AccountEmailVerifyPayload {
        /// The account, its email now verified.
        account: Option<AccountNode>,
        /// How many orders placed as a guest with this email became the account's.
        adopted_orders: i32,
    }
);

payload!(
    /// The result of `accountEmailVerificationRequest`.
    AccountEmailVerificationRequestPayload {
        /// The account; when its email is not verified yet, a new link is on its way.
        account: Option<AccountNode>,
    }
);

payload!(
    /// The result of `accountUpdate`.
    AccountUpdatePayload {
        /// The account as changed.
        account: Option<AccountNode>,
    }
);

payload!(
    /// The result of `accountRoleSet`.
    AccountRoleSetPayload {
        /// The account with its new role.
        account: Option<AccountNode>,
    }
);

payload!(
    /// The result of an address-book mutation.
    AddressPayload {
        /// The address as stored.
        address: Option<AddressNode>,
    }
);

payload!(
    /// The result of `addressRemove`.
    AddressRemovePayload {
        /// The id of the removed address.
        removed_address_id: Option<ID>,
    }
);

fn address_id(id: &ID) -> Result<AddressId> {
    Ok(GlobalId::parse_as(id)?)
}

/// Account writes.
#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Starts a sign-up: the email gets a link that makes the account (see
    /// `accountRegisterConfirm`). The answer is the same, and as quick, whether or not the email
    /// has an account already (its owner gets a note instead), so sign-up cannot be used to find
    /// out who has one. At most one per operation.
    async fn account_register(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new account.")] input: AccountRegisterInput,
    ) -> Result<AccountRegisterPayload> {
        ctx.rate_limit(Limited::Register, None).await?;
        let result = ctx
            .accounts()?
            .register(
                &ctx.request()?.db,
                Registration {
                    email: &input.email,
                    password: &input.password,
                    first_name: &input.first_name,
                    last_name: &input.last_name,
                },
            )
            .await
            .map_err(|e| e.under("input"));
        respond(result, |()| AccountRegisterPayload {
            accepted: true,
            ..Default::default()
        })
    }

    /// Finishes a sign-up with the token from its mail: makes the customer account (its email
    /// verified, and orders placed as a guest with it become its own) and signs it in. At most
    /// one per operation.
    async fn account_register_confirm(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token from the sign-up mail (`bzu_…`).")] token: String,
    ) -> Result<AccountRegisterConfirmPayload> {
        let result = ctx
            .accounts()?
            .confirm_sign_up(&ctx.request()?.db, &token)
            .await;
        respond(result, |session| AccountRegisterConfirmPayload {
            session: Some(Session::from(&session)),
            account: Some(session.user.into()),
            ..Default::default()
        })
    }

    /// Signs in. A wrong password and an unknown email get the same `INVALID_CREDENTIALS`
    /// user error; repeated failures are refused with `RATE_LIMITED` for a growing time. At most
    /// one per operation.
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's email.")] email: String,
        #[graphql(desc = "The account's password.")] password: String,
        #[graphql(desc = "An anonymous cart to join the customer's cart.")] cart_id: Option<ID>,
    ) -> Result<LoginPayload> {
        let request = ctx.request()?;
        let anonymous_cart = cart_id.as_ref().map(cart_token).transpose()?;
        let result = ctx
            .accounts()?
            .login(
                &request.db,
                request.client_address.as_deref(),
                &email,
                &password,
            )
            .await;
        let cart = match &result {
            Ok(session) => {
                let pricing = ctx.shop()?.pricing;
                let owner = Principal::Account(AccountPrincipal {
                    account_id: session.user.id,
                    role: session.user.role,
                    session_id: 0,
                });
                match cart::claim(&request.db, session.user.id, anonymous_cart).await? {
                    Some(token) => cart::get(&request.db, owner, token, pricing)
                        .await?
                        .map(CartNode::from),
                    None => None,
                }
            }
            Err(_) => None,
        };
        respond(result, |session| LoginPayload {
            session: Some(Session::from(&session)),
            account: Some(session.user.into()),
            cart,
            ..Default::default()
        })
    }

    /// Ends the session this request was made with.
    #[graphql(guard = "RoleGuard(Role::Customer)")]
    async fn logout(&self, ctx: &Context<'_>) -> Result<LogoutPayload> {
        let caller = signed_in(ctx)?;
        let result = ctx.accounts()?.logout(&ctx.request()?.db, caller).await;
        respond(result, |()| LogoutPayload {
            ended_sessions: 1,
            ..Default::default()
        })
    }

    /// Ends every session of the caller's account, this one included.
    #[graphql(guard = "RoleGuard(Role::Customer)")]
    async fn logout_all_sessions(&self, ctx: &Context<'_>) -> Result<LogoutPayload> {
        let caller = signed_in(ctx)?;
        let result = ctx.accounts()?.logout_all(&ctx.request()?.db, caller).await;
        respond(result, |ended| LogoutPayload {
            ended_sessions: saturating_int(ended),
            ..Default::default()
        })
    }

    /// Changes the caller's password. Every other session of the account ends; this one stays.
    /// At most one per operation.
    #[graphql(guard = "RoleGuard(Role::Customer)")]
    async fn password_change(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The password in use now.")] current_password: String,
        #[graphql(desc = "The new password: 8 characters to 72 bytes.")] new_password: String,
    ) -> Result<PasswordChangePayload> {
        let caller = signed_in(ctx)?;
        let request = ctx.request()?;
        let result = ctx
            .accounts()?
            .change_password(&request.db, caller, &current_password, &new_password)
            .await;
        let account = match &result {
            Ok(()) => ctx
                .data::<crate::graphql::loaders::Loader>()?
                .load_one(caller.account_id)
                .await?
                .map(AccountNode::from),
            Err(_) => None,
        };
        respond(result, |()| PasswordChangePayload {
            account,
            ..Default::default()
        })
    }

    /// Mails a single-use, expiring reset link if the email has an account. The answer is the
    /// same, and as quick, either way. At most one per operation.
    async fn password_reset_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's email.")] email: String,
    ) -> Result<PasswordResetRequestPayload> {
        ctx.rate_limit(Limited::PasswordResetRequest, Some(&email))
            .await?;
        let result = ctx
            .accounts()?
            .request_password_reset(&ctx.request()?.db, &email);
        respond(result, |()| PasswordResetRequestPayload {
            accepted: true,
            ..Default::default()
        })
    }

    /// Sets a new password with the token from a reset mail. Every session of the account ends.
    /// At most one per operation.
    async fn password_reset(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token from the reset mail.")] token: String,
        #[graphql(desc = "The new password: 8 characters to 72 bytes.")] new_password: String,
    ) -> Result<PasswordResetPayload> {
        let result = ctx
            .accounts()?
            .reset_password(&ctx.request()?.db, &token, &new_password)
            .await;
        respond(result, |()| PasswordResetPayload {
            password_changed: true,
            ..Default::default()
        })
    }

    /// Verifies an account's email with the token from the mail sent by
    /// `accountEmailVerificationRequest`. Orders placed as a guest with that email then belong to
    /// the account, and so do later ones at each sign-in. At most one per operation.
    async fn account_email_verify(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token from the verification mail (`bzv_…`).")] token: String,
    ) -> Result<AccountEmailVerifyPayload> {
        let result = ctx
            .accounts()?
            .verify_email(&ctx.request()?.db, &token)
            .await;
        respond(result, |(user, adopted)| AccountEmailVerifyPayload {
            account: Some(user.into()),
            adopted_orders: saturating_int(adopted),
            ..Default::default()
        })
    }

    /// Mails the caller a new email-verification link (nothing when the email is verified
    /// already). At most one per operation.
    #[graphql(guard = "RoleGuard(Role::Customer)")]
    async fn account_email_verification_request(
        &self,
        ctx: &Context<'_>,
    ) -> Result<AccountEmailVerificationRequestPayload> {
        let caller = signed_in(ctx)?;
        let result = ctx
            .accounts()?
            .request_email_verification(&ctx.request()?.db, caller)
            .await;
        respond(result, |user| AccountEmailVerificationRequestPayload {
            account: Some(user.into()),
            ..Default::default()
        })
    }

    /// Changes the caller's names.
    #[graphql(guard = "RoleGuard(Role::Customer)")]
    async fn account_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The changes.")] input: AccountUpdateInput,
    ) -> Result<AccountUpdatePayload> {
        let caller = signed_in(ctx)?;
        let result = ctx
            .accounts()?
            .update_profile(
                &ctx.request()?.db,
                caller,
                input.first_name.as_deref(),
                input.last_name.as_deref(),
            )
            .await
            .map_err(|e| e.under("input"));
        respond(result, |user| AccountUpdatePayload {
            account: Some(user.into()),
            ..Default::default()
        })
    }

    /// Gives an account a role. Admins only; the last admin cannot be demoted.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn account_role_set(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account.")] account_id: ID,
        #[graphql(desc = "Its new role.")] role: account::Role,
    ) -> Result<AccountRoleSetPayload> {
        let id: AccountId = GlobalId::parse_as(&account_id)?;
        let result = ctx
            .accounts()?
            .set_role(&ctx.request()?.db, id, role.into())
            .await;
        respond(result, |user| AccountRoleSetPayload {
            account: Some(user.into()),
            ..Default::default()
        })
    }

    /// Adds an address to the caller's address book (at most 20). The first address becomes
    /// the default.
    #[graphql(guard = "RoleGuard(Role::Customer)")]
    async fn address_add(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The address.")] input: AddressInput,
        #[graphql(desc = "Make it the default address (default: only if it is the first).")]
        make_default: Option<bool>,
    ) -> Result<AddressPayload> {
        let caller = signed_in(ctx)?;
        let parts = AddressParts::from(input);
        let result = addresses::add(
            &ctx.request()?.db,
            caller,
            &parts,
            make_default.unwrap_or(false),
        )
        .await;
        respond(result, |address| AddressPayload {
            address: Some(address.into()),
            ..Default::default()
        })
    }

    /// Replaces one of the caller's addresses.
    #[graphql(guard = "RoleGuard(Role::Customer)")]
    async fn address_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The address to change.")] id: ID,
        #[graphql(desc = "Its new parts.")] input: AddressInput,
    ) -> Result<AddressPayload> {
        let caller = signed_in(ctx)?;
        let id = address_id(&id)?;
        let parts = AddressParts::from(input);
        let result = addresses::update(&ctx.request()?.db, caller, id, &parts).await;
        respond(result, |address| AddressPayload {
            address: Some(address.into()),
            ..Default::default()
        })
    }

    /// Removes one of the caller's addresses. Removing the default leaves no default.
    #[graphql(guard = "RoleGuard(Role::Customer)")]
    async fn address_remove(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The address to remove.")] id: ID,
    ) -> Result<AddressRemovePayload> {
        let caller = signed_in(ctx)?;
        let parsed = address_id(&id)?;
        let result = addresses::remove(&ctx.request()?.db, caller, parsed).await;
        respond(result, |()| AddressRemovePayload {
            removed_address_id: Some(id),
            ..Default::default()
        })
    }

    /// Makes one of the caller's addresses the default.
    #[graphql(guard = "RoleGuard(Role::Customer)")]
    async fn address_set_default(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The address.")] id: ID,
    ) -> Result<AddressPayload> {
        let caller = signed_in(ctx)?;
        let id = address_id(&id)?;
        let result = addresses::set_default(&ctx.request()?.db, caller, id).await;
        respond(result, |address| AddressPayload {
            address: Some(address.into()),
            ..Default::default()
        })
    }
}
