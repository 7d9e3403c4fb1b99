//! Discount code mutations (staff): create a code, change its rules, disable or enable it.

use async_graphql::{Context, ID, Object, Result};

use crate::domain::accounts::Role;
use crate::domain::ids::DiscountCodeId;
use crate::domain::pricing::DiscountType;
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::RoleGuard;
use crate::graphql::ids::GlobalId;
use crate::graphql::inputs::discounts::{DiscountCodeInput, DiscountCodeUpdateInput};
use crate::graphql::types::DiscountCodeNode;
use crate::graphql::user_errors::respond;
use crate::payload;
use crate::services::discounts;

payload!(
    /// The result of a discount code mutation.
    DiscountCodePayload {
        /// The code's text as stored (upper-cased); kept for clients of `discountCodeCreate`
        /// written before `discountCode` existed.
        code: Option<String>,
        /// The discount code as it is now.
        discount_code: Option<DiscountCodeNode>,
    }
);

fn code_id(id: &ID) -> Result<DiscountCodeId> {
    Ok(GlobalId::parse_as(id)?)
}

fn payload(code: crate::db::models::discount::DiscountCode) -> DiscountCodePayload {
    DiscountCodePayload {
        code: Some(code.code.clone()),
        discount_code: Some(code.into()),
        ..Default::default()
    }
}

/// Discount code writes (staff).
#[derive(Default)]
pub struct DiscountMutation;

#[Object]
impl DiscountMutation {
    /// Creates a discount code (staff).
    #[graphql(guard = "RoleGuard(Role::Staff)")]
    async fn discount_code_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The code and its rules.")] input: DiscountCodeInput,
    ) -> Result<DiscountCodePayload> {
        let currency = ctx.shop()?.currency;
        let read = |kind: DiscountType, value: &str, field: &str| {
            discounts::read_value(kind, value, currency)
                .map_err(|e| AppError::bad_input(format!("input.{field}: {e}")))
        };
        let kind = input.kind.into();
        let new = discounts::NewCode {
            code: input.code.trim().to_uppercase(),
            kind,
            value: read(kind, &input.value.0, "value")?,
            minimum_subtotal: match &input.minimum_subtotal {
                Some(minimum) => read(DiscountType::FixedAmount, &minimum.0, "minimumSubtotal")?,
                None => 0,
            },
            usage_limit: input.usage_limit,
            starts_at: input.starts_at.map(|t| t.naive_utc()),
            ends_at: input.ends_at.map(|t| t.naive_utc()),
        };
        let result = discounts::create(&ctx.request()?.db, new).await;
        respond(result, payload)
    }

    /// Changes a discount code's rules (staff): value, minimum subtotal, usage limit and
    /// validity window, checked as `discountCodeCreate` checks them. Carts holding the code are
    /// priced by the new rules from now on; orders already placed keep their prices.
    #[graphql(guard = "RoleGuard(Role::Staff)")]
    async fn discount_code_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The discount code.")] id: ID,
        #[graphql(desc = "What to change; omitted fields keep their values.")]
        input: DiscountCodeUpdateInput,
    ) -> Result<DiscountCodePayload> {
        let id = code_id(&id)?;
        let currency = ctx.shop()?.currency;
        let result = discounts::update(&ctx.request()?.db, id, input.into(), currency).await;
        respond(result, payload)
    }

    /// Disables a discount code (staff): it can no longer be applied, carts holding it show a
    /// `discountProblem` and their checkout is refused with `DISCOUNT_NOT_APPLICABLE`. With
    /// `disabled: false` it is enabled again. Disabling a disabled code keeps its `disabledAt`.
    #[graphql(guard = "RoleGuard(Role::Staff)")]
    async fn discount_code_disable(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The discount code.")] id: ID,
        #[graphql(
            desc = "`true` (or omitted, or null) disables the code, `false` enables it again.",
            default_with = "Some(true)"
        )]
        disabled: Option<bool>,
    ) -> Result<DiscountCodePayload> {
        let id = code_id(&id)?;
        let disabled = disabled.unwrap_or(true);
        let result = discounts::set_disabled(&ctx.request()?.db, id, disabled).await;
        respond(result, payload)
    }
}
