//! `App`, `ApiKey` and `ApiScope`: partner apps and their keys, as admins manage them.

use async_graphql::{Enum, ID, Object};
use chrono::{DateTime, Utc};

use crate::db::models::partner::{ApiKey, App};
use crate::domain::partners::{Scope, Scopes};
use crate::graphql::ids::{GlobalId, NodeKind};

/// What a partner's API key allows.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiScope {
    /// Read the whole catalog, drafts and archived products too, with stock levels.
    ReadProducts,
    /// Create and change categories, products, variants and images.
    WriteProducts,
    /// Change stock levels.
    WriteInventory,
    /// Read every order with its lines, payments and history (personal data needs
    /// `READ_CUSTOMERS`).
    ReadOrders,
    /// Fulfil, cancel and refund orders.
    WriteOrders,
    /// Read customers: accounts, and the email and addresses on orders.
    ReadCustomers,
    /// Subscribe webhooks and read their deliveries.
    ManageWebhooks,
    /// Change customers' metadata (reading them needs `READ_CUSTOMERS`).
    WriteCustomers,
}

impl From<ApiScope> for Scope {
    fn from(scope: ApiScope) -> Self {
        match scope {
            ApiScope::ReadProducts => Scope::ReadProducts,
            ApiScope::WriteProducts => Scope::WriteProducts,
            ApiScope::WriteInventory => Scope::WriteInventory,
            ApiScope::ReadOrders => Scope::ReadOrders,
            ApiScope::WriteOrders => Scope::WriteOrders,
            ApiScope::ReadCustomers => Scope::ReadCustomers,
            ApiScope::ManageWebhooks => Scope::ManageWebhooks,
            ApiScope::WriteCustomers => Scope::WriteCustomers,
        }
    }
}

impl From<Scope> for ApiScope {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::ReadProducts => ApiScope::ReadProducts,
            Scope::WriteProducts => ApiScope::WriteProducts,
            Scope::WriteInventory => ApiScope::WriteInventory,
            Scope::ReadOrders => ApiScope::ReadOrders,
            Scope::WriteOrders => ApiScope::WriteOrders,
            Scope::ReadCustomers => ApiScope::ReadCustomers,
            Scope::ManageWebhooks => ApiScope::ManageWebhooks,
            Scope::WriteCustomers => ApiScope::WriteCustomers,
        }
    }
}

crate::connection_types!(
    AppConnection,
    AppEdge,
    AppNode,
    "A page of partner apps.",
    "A partner app in a page."
);

/// A partner app with its keys.
pub struct AppNode {
    app: App,
    keys: Vec<ApiKey>,
}

impl From<(App, Vec<ApiKey>)> for AppNode {
    fn from((app, keys): (App, Vec<ApiKey>)) -> Self {
        Self { app, keys }
    }
}

/// A partner system (an ERP, a marketplace, a fulfilment service) that calls the API with its
/// own keys.
#[Object(name = "App")]
impl AppNode {
    /// Global id.
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::App, self.app.id).into()
    }

    /// The app's name.
    async fn name(&self) -> &str {
        &self.app.name
    }

    /// Whom to contact about it.
    async fn contact(&self) -> &str {
        &self.app.contact
    }

    /// Its keys, newest first, revoked ones too. At most 10 (older revoked keys are not
    /// listed); at most 2 are live at once.
    async fn keys(&self) -> Vec<ApiKeyNode> {
        self.keys.iter().cloned().map(ApiKeyNode).collect()
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.app.created_at.and_utc()
    }
}

/// An API key of a partner app, without its secret (shown once, when made).
pub struct ApiKeyNode(pub ApiKey);

/// An API key: sent as `Authorization: Bearer bzk_…`; only its prefix is shown after it is made.
#[Object(name = "ApiKey")]
impl ApiKeyNode {
    /// Global id.
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::ApiKey, self.0.id).into()
    }

    /// The key's first characters (`bzk_` and eight more): how lists and logs name it.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }

    /// What it allows.
    async fn scopes(&self) -> Vec<ApiScope> {
        Scopes::parse(&self.0.scopes)
            .unwrap_or_default()
            .iter()
            .map(ApiScope::from)
            .collect()
    }

    /// When it was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.and_utc()
    }

    /// When it was last used (recorded at most once a minute); null if never.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at.map(|at| at.and_utc())
    }

    /// When it was revoked; null while it works.
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at.map(|at| at.and_utc())
    }
}
