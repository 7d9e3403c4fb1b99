//! Partner apps: the scopes an API key may hold, the set of them a key holds, and the caller a
//! key stands for.

use std::fmt;

/// Live (unrevoked) keys an app may hold at once: one in use and one being rolled out.
pub const MAX_LIVE_KEYS_PER_APP: usize = 2;
/// Keys an app lists: the newest, live or revoked (older revoked keys stay stored, unlisted).
pub const KEYS_LISTED_PER_APP: usize = 10;

/// One thing a partner's key allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read the whole catalog: drafts and archived products too.
    ReadProducts,
    /// Create and change categories, products, variants and images.
    WriteProducts,
    /// Change stock levels.
    WriteInventory,
    /// Read every order, its lines, payments and history.
    ReadOrders,
    /// Move orders along: fulfil, cancel, refund.
    WriteOrders,
    /// Read customers' personal data: accounts, and the email and addresses on orders.
    ReadCustomers,
    /// Subscribe webhooks and read their deliveries.
    ManageWebhooks,
    /// Change customers' metadata.
    WriteCustomers,
}

impl Scope {
    /// Every scope, in the order they are listed.
    pub const ALL: [Scope; 8] = [
        Scope::ReadProducts,
        Scope::WriteProducts,
        Scope::WriteInventory,
        Scope::ReadOrders,
        Scope::WriteOrders,
        Scope::ReadCustomers,
        Scope::ManageWebhooks,
        Scope::WriteCustomers,
    ];

    /// The scope's name, as stored and as the API spells it in lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ReadProducts => "read_products",
            Scope::WriteProducts => "write_products",
            Scope::WriteInventory => "write_inventory",
            Scope::ReadOrders => "read_orders",
            Scope::WriteOrders => "write_orders",
            Scope::ReadCustomers => "read_customers",
            Scope::ManageWebhooks => "manage_webhooks",
            Scope::WriteCustomers => "write_customers",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl std::str::FromStr for Scope {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == name)
            .ok_or_else(|| {
                format!(
                    "unknown scope {:?}",
                    name.chars().take(40).collect::<String>()
                )
            })
    }
}

/// The scopes a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Scopes(u8);

impl Scopes {
    /// The set of `scopes`.
    pub fn of(scopes: impl IntoIterator<Item = Scope>) -> Self {
        Self(scopes.into_iter().fold(0, |bits, scope| bits | scope.bit()))
    }

    /// Whether the set holds `scope`.
    pub fn has(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Whether the set holds none.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes held, in [`Scope::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |scope| self.has(*scope))
    }

    /// Reads the stored form: names separated by spaces.
    pub fn parse(stored: &str) -> Result<Self, String> {
        stored
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<Vec<Scope>, _>>()
            .map(Self::of)
    }
}

impl fmt::Display for Scopes {
    /// The stored form: names separated by spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Scope::as_str).collect();
        f.write_str(&names.join(" "))
    }
}

/// A caller authenticated by a partner app's API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartnerPrincipal {
    /// The app the key belongs to.
    pub app_id: i64,
    /// The key.
    pub key_id: i64,
    /// What the key allows.
    pub scopes: Scopes,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_through_their_stored_form() {
        let scopes = Scopes::of([Scope::ReadOrders, Scope::ReadProducts]);
        assert_eq!(scopes.to_string(), "read_products read_orders");
        assert_eq!(Scopes::parse("read_orders  read_products"), Ok(scopes));
        assert!(scopes.has(Scope::ReadOrders));
        assert!(!scopes.has(Scope::WriteOrders));
        assert_eq!(Scopes::parse(""), Ok(Scopes::default()));
        assert!(Scopes::parse("read_products admin").is_err());
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse(), Ok(scope));
        }
    }
}
