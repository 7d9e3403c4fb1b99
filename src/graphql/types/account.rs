//! `Account`, `Address`, `Session` and `Role`: accounts as their owner and staff see them. Only
//! built after an access check; no field here exposes a credential.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use crate::db::models::address::Address;
use crate::db::models::user::User;
use crate::domain::ids::AccountId;
use crate::domain::metadata::MetadataOwner;
use crate::domain::orders::CustomerOrderStats;
use crate::graphql::context::ContextExt as _;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::loaders::{AddressesOf, Loader, OrderStatsOf, each_row};
use crate::graphql::types::metadata::{MetadataItem, metadata_of, metafield_of};
use crate::graphql::types::money::Money;
use crate::services::accounts::NewSession;

/// What an account may do. Each role includes the ones before it.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::domain::accounts::Role")]
pub enum Role {
    /// Shops: own profile, addresses, carts and orders.
    Customer,
    /// Runs the shop: catalog, inventory, customers.
    Staff,
    /// Everything staff may, plus changing roles.
    Admin,
}

/// A customer, staff or admin account.
pub struct AccountNode {
    row: User,
}

impl From<User> for AccountNode {
    fn from(row: User) -> Self {
        Self { row }
    }
}

/// A customer, staff or admin account.
#[Object(name = "Account")]
impl AccountNode {
    /// Globally unique id.
    pub(crate) async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Account, self.row.id).into()
    }

    /// Metadata staff and partners attached, by key: the public entries, or with `private:
    /// true` the private ones (staff, and partner keys with `READ_CUSTOMERS`). At most 50.
    async fn metadata(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The private entries instead of the public ones.",
            default = false
        )]
        private: bool,
    ) -> Result<Vec<MetadataItem>> {
        metadata_of(ctx, MetadataOwner::Account(self.row.id), private).await
    }

    /// The metadata value under `key`; null when there is none (see `metadata`).
    async fn metafield(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key, e.g. `erp.id`.")] key: String,
        #[graphql(
            desc = "Read the private entries instead of the public ones.",
            default = false
        )]
        private: bool,
    ) -> Result<Option<String>> {
        metafield_of(ctx, MetadataOwner::Account(self.row.id), private, &key).await
    }

    /// Sign-in email, normalised (trimmed, lower-case).
    async fn email(&self) -> &str {
        &self.row.email
    }

    /// Whether the owner proved the email is theirs (the link mailed at sign-up). Guest orders
    /// placed with a verified email belong to the account.
    async fn email_verified(&self) -> bool {
        self.row.email_verified_at.is_some()
    }

    /// Given name; may be empty.
    async fn first_name(&self) -> &str {
        &self.row.first_name
    }

    /// Family name; may be empty.
    async fn last_name(&self) -> &str {
        &self.row.last_name
    }

    /// What the account may do.
    async fn role(&self) -> Role {
        self.row.role.into()
    }

    /// When the account was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at.and_utc()
    }

    /// When the account last changed (its names, role, email verification or password).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at.and_utc()
    }

    /// How many orders the account has placed, in any status.
    async fn order_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let placed = self.order_stats(ctx).await?.placed;
        Ok(super::saturating_int(placed))
    }

    /// What the account has spent: the totals of its paid and fulfilled orders (cancelled,
    /// refunded and unpaid ones do not count).
    async fn total_spent(&self, ctx: &Context<'_>) -> Result<Money> {
        let spent = self.order_stats(ctx).await?.spent;
        Ok(Money::new(spent, ctx.shop()?.currency))
    }

    /// The account's address book, oldest first. At most 20.
    async fn addresses(&self, ctx: &Context<'_>) -> Result<Vec<AddressNode>> {
        let loader = ctx.data::<Loader>()?;
        let addresses = loader.load_one(AddressesOf(self.row.id)).await?;
        Ok(each_row(addresses).map(AddressNode::from).collect())
    }

    /// The default address (for shipping and billing), if one is set.
    async fn default_address(&self, ctx: &Context<'_>) -> Result<Option<AddressNode>> {
        let loader = ctx.data::<Loader>()?;
        let addresses = loader.load_one(AddressesOf(self.row.id)).await?;
        Ok(each_row(addresses)
            .find(|a| a.is_default)
            .map(AddressNode::from))
    }
}

impl AccountNode {
    async fn order_stats(&self, ctx: &Context<'_>) -> Result<CustomerOrderStats> {
        let loader = ctx.data::<Loader>()?;
        let stats = loader.load_one(OrderStatsOf(self.row.id)).await?;
        Ok(stats.unwrap_or_default())
    }
}

/// A postal address in an account's address book.
pub struct AddressNode {
    row: Address,
}

impl From<Address> for AddressNode {
    fn from(row: Address) -> Self {
        Self { row }
    }
}

impl AddressNode {
    /// The account owning this address.
    pub fn owner(&self) -> AccountId {
        self.row.user_id
    }
}

/// A postal address in an account's address book.
#[Object(name = "Address")]
impl AddressNode {
    /// Globally unique id.
    pub(crate) async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Address, self.row.id).into()
    }

    /// Recipient's given name.
    async fn first_name(&self) -> &str {
        &self.row.first_name
    }

    /// Recipient's family name.
    async fn last_name(&self) -> &str {
        &self.row.last_name
    }

    /// Company; may be empty.
    async fn company(&self) -> &str {
        &self.row.company
    }

    /// Street address.
    async fn line1(&self) -> &str {
        &self.row.line1
    }

    /// Apartment, suite, floor; may be empty.
    async fn line2(&self) -> &str {
        &self.row.line2
    }

    /// City or town.
    async fn city(&self) -> &str {
        &self.row.city
    }

    /// State, province or region; may be empty.
    async fn region(&self) -> &str {
        &self.row.region
    }

    /// Postal or ZIP code; may be empty.
    async fn postal_code(&self) -> &str {
        &self.row.postal_code
    }

    /// ISO 3166-1 alpha-2 country code, e.g. `US`.
    async fn country_code(&self) -> &str {
        &self.row.country_code
    }

    /// Phone number for the carrier; may be empty.
    async fn phone(&self) -> &str {
        &self.row.phone
    }

    /// Whether this is the account's default address.
    async fn is_default(&self) -> bool {
        self.row.is_default
    }
}

/// A new session. The token is shown only here, once: send it as
/// `Authorization: Bearer <token>`.
#[derive(SimpleObject)]
pub struct Session {
    /// The bearer token (256 random bits). Store it like a password.
    pub token: String,
    /// When the session ends at the latest; it also ends after a period of inactivity, at
    /// `logout`, `logoutAllSessions` and password changes.
    pub expires_at: DateTime<Utc>,
}

impl From<&NewSession> for Session {
    fn from(session: &NewSession) -> Self {
        Self {
            token: session.token.expose().to_owned(),
            expires_at: session.expires_at.and_utc(),
        }
    }
}
