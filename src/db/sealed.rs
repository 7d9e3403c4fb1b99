//! Sealed columns: the process's keyring (`--sealing-keys`), and the diesel types that seal a
//! personal value on its way into a column ([`Sealed`]) and open it on its way out
//! ([`Unsealed`]), or when read ([`SealedText`], for an order's addresses, which most reads of
//! an order never show).
//!
//! Sealed: every address column but the country, the addresses of carts and orders, and the payloads
//! of the event log and of webhook deliveries (an order's payload carries its address).
//! Nothing searches or sorts by them.

use std::sync::OnceLock;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use sha2::{Digest as _, Sha256};

use crate::db::DbConnection;
use crate::db::schema::{carts, events, orders, webhook_deliveries};

use crate::domain::sealing::{Keyring, SealingError, open_without_keys};

/// The keyring the process was started with, and a fingerprint of its setting.
struct Installed {
    fingerprint: Option<[u8; 32]>,
    keyring: Option<Keyring>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Makes `setting` (`ID:KEY[,ID:KEY…]`, or none: values are stored in clear) the keyring of
/// the process. Installing the same setting again is a no-op; another one is refused, since
/// every connection of a process seals with the same keys.
pub fn install(setting: Option<&str>) -> anyhow::Result<()> {
    let fingerprint = setting.map(|s| Sha256::digest(s.as_bytes()).into());
    let keyring = setting.map(Keyring::parse).transpose()?;
    let installed = INSTALLED.get_or_init(|| Installed {
        fingerprint,
        keyring,
    });
    anyhow::ensure!(
        installed.fingerprint == fingerprint,
        "this process already seals personal data with other keys"
    );
    Ok(())
}

/// The process's keyring, if it was started with one.
pub fn keyring() -> Option<&'static Keyring> {
    INSTALLED.get().and_then(|i| i.keyring.as_ref())
}

/// `clear` as it is stored: sealed under the current key, or as it is without a keyring.
pub fn seal(clear: &str) -> String {
    match keyring() {
        Some(keyring) => keyring.seal(clear),
        None => clear.to_owned(),
    }
}

/// The clear text of a stored value.
pub fn open(stored: &str) -> Result<String, SealingError> {
    match keyring() {
        Some(keyring) => keyring.open(stored),
        None => open_without_keys(stored),
    }
}

/// A value sealed for a sealed column: `#[diesel(serialize_as = Sealed)]` on an insert's or
/// update's field.
#[derive(Debug, AsExpression)]
#[diesel(sql_type = Text)]
pub struct Sealed(String);

impl From<&str> for Sealed {
    fn from(clear: &str) -> Self {
        Self(seal(clear))
    }
}

impl From<String> for Sealed {
    fn from(clear: String) -> Self {
        Self(seal(&clear))
    }
}

impl<DB: Backend> ToSql<Text, DB> for Sealed
where
    String: ToSql<Text, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        self.0.to_sql(out)
    }
}

/// A sealed column's stored value, opened into the row's `String`:
/// `#[diesel(deserialize_as = Unsealed)]` on a row's field.
#[derive(Debug, FromSqlRow)]
pub struct Unsealed(String);

impl<DB: Backend> FromSql<Text, DB> for Unsealed
where
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        String::from_sql(bytes).map(Self)
    }
}

impl TryFrom<Unsealed> for String {
    type Error = SealingError;

    fn try_from(stored: Unsealed) -> Result<Self, Self::Error> {
        open(&stored.0)
    }
}

/// A sealed column's stored value, kept sealed in the row and opened only when read
/// ([`SealedText::open`]): for columns most reads of their row never show (an order's addresses,
/// which a page of orders would otherwise decrypt twice a row for nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq, FromSqlRow)]
pub struct SealedText(String);

impl SealedText {
    /// The clear text.
    pub fn open(&self) -> Result<String, SealingError> {
        open(&self.0)
    }
}

impl<DB: Backend> FromSql<Text, DB> for SealedText
where
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        String::from_sql(bytes).map(Self)
    }
}

/// A table whose one sealed column is re-sealed by [`reseal_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    /// `orders.shipping_address`.
    OrderShippingAddresses,
    /// `orders.billing_address`.
    OrderBillingAddresses,
    /// `carts.shipping_address`.
    CartShippingAddresses,
    /// `carts.billing_address`.
    CartBillingAddresses,
    /// `events.payload`.
    EventPayloads,
    /// `webhook_deliveries.body`.
    WebhookBodies,
}

/// Re-seals `$column` of `$table` in the rows after `$after` (up to `$limit`, in id order) that
/// do not match `$pattern` (empty values, which hold nothing, are skipped); a row whose value
/// changed since it was read is left as it is.
macro_rules! reseal_column {
    ($conn:expr, $table:ident, $column:ident, $pattern:expr, $after:expr, $limit:expr) => {{
        let rows: Vec<(i64, String)> = $table::table
            .filter($table::id.gt($after))
            .filter($table::$column.not_like($pattern).escape('\\'))
            .filter($table::$column.ne(""))
            .order_by($table::id)
            .limit($limit)
            .select(($table::id, $table::$column))
            .load($conn)?;
        let mut written = 0;
        for (id, stored) in &rows {
            let opened = open(stored)
                .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
            written += diesel::update($table::table.find(id))
                .filter($table::$column.eq(stored))
                .set($table::$column.eq(Sealed::from(opened)))
                .execute($conn)? as u64;
        }
        Ok((rows.last().map(|row| row.0), written))
    }};
}

/// Re-seals, under the current key, the values of `column` in up to `limit` rows after
/// `after_id` that it did not seal (`sealed_pattern`: a LIKE pattern escaped with `\`). The last
/// id looked at (`None`: no row was left) and how many values were written.
pub fn reseal_batch(
    conn: &mut DbConnection,
    column: SealedColumn,
    sealed_pattern: &str,
    after_id: i64,
    limit: i64,
) -> QueryResult<(Option<i64>, u64)> {
    match column {
        SealedColumn::OrderShippingAddresses => {
            reseal_column!(
                conn,
                orders,
                shipping_address,
                sealed_pattern,
                after_id,
                limit
            )
        }
        SealedColumn::OrderBillingAddresses => {
            reseal_column!(
                conn,
                orders,
                billing_address,
                sealed_pattern,
                after_id,
                limit
            )
        }
        SealedColumn::CartShippingAddresses => {
            reseal_column!(
                conn,
                carts,
                shipping_address,
                sealed_pattern,
                after_id,
                limit
            )
        }
        SealedColumn::CartBillingAddresses => {
            reseal_column!(
                conn,
                carts,
                billing_address,
                sealed_pattern,
                after_id,
                limit
            )
        }
        SealedColumn::EventPayloads => {
            reseal_column!(conn, events, payload, sealed_pattern, after_id, limit)
        }
        SealedColumn::WebhookBodies => {
            reseal_column!(
                conn,
                webhook_deliveries,
                body,
                sealed_pattern,
                after_id,
                limit
            )
        }
    }
}
