//! Keeping personal data sealed: `bazaar rotate-key` re-seals every sealed value (addresses,
//! the addresses of carts and orders, event and webhook payloads) under the current key, and `serve` checks
//! at start that the stored values open.

use crate::db::models::{address, order};
use crate::db::sealed::{self, SealedColumn};
use crate::db::{Db, write_transaction};
use crate::domain::ids::AddressId;
use crate::error::AppError;

/// Rows re-sealed per transaction.
const BATCH: i64 = 500;

/// What a rotation re-sealed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Addresses.
    pub addresses: u64,
    /// Orders' shipping and billing addresses.
    pub orders: u64,
    /// Carts' shipping and billing addresses.
    pub carts: u64,
    /// Event payloads.
    pub events: u64,
    /// Webhook delivery bodies.
    pub webhook_deliveries: u64,
}

/// Re-seals under the current key every value sealed under another key or stored in clear, in
/// batches of [`BATCH`] rows per transaction, while the shop keeps serving. A row changed
/// meanwhile is left to the change, which sealed it with the key its server had.
pub fn rotate(db: &Db) -> anyhow::Result<Resealed> {
    let keyring = sealed::keyring().ok_or_else(|| {
        anyhow::anyhow!("no sealing keys: set BAZAAR_SEALING_KEYS (or --sealing-keys)")
    })?;
    let pattern = keyring.current_like_pattern();
    let mut resealed = Resealed::default();
    let mut after = AddressId(0);
    loop {
        let done = db.run_blocking(|conn| {
            write_transaction(conn, |conn| {
                let ids = address::not_sealed_by(conn, &pattern, after, BATCH)?;
                let mut written = 0;
                for row in address::by_ids(conn, &ids)? {
                    written += u64::from(address::reseal(conn, &row)?);
                }
                Ok::<_, AppError>((ids.last().copied(), written))
            })
        })?;
        resealed.addresses += done.1;
        match done.0 {
            Some(last) => after = last,
            None => break,
        }
    }
    for column in [
        SealedColumn::OrderShippingAddresses,
        SealedColumn::OrderBillingAddresses,
        SealedColumn::CartShippingAddresses,
        SealedColumn::CartBillingAddresses,
        SealedColumn::EventPayloads,
        SealedColumn::WebhookBodies,
    ] {
        let mut after = 0;
        loop {
            let (last, written) = db.run_blocking(|conn| {
                write_transaction(conn, |conn| {
                    Ok::<_, AppError>(sealed::reseal_batch(conn, column, &pattern, after, BATCH)?)
                })
            })?;
            match column {
                SealedColumn::OrderShippingAddresses | SealedColumn::OrderBillingAddresses => {
                    resealed.orders += written;
                }
                SealedColumn::CartShippingAddresses | SealedColumn::CartBillingAddresses => {
                    resealed.carts += written;
                }
                SealedColumn::EventPayloads => resealed.events += written,
                SealedColumn::WebhookBodies => resealed.webhook_deliveries += written,
            }
            match last {
                Some(last) => after = last,
                None => break,
            }
        }
    }
    Ok(resealed)
}

/// Fails, naming the key, when the newest address or order holds a value the keyring cannot
/// open: a server started without the key its data was sealed with would fail on every
/// request that reads personal data.
pub fn check_newest_values_open(db: &Db) -> anyhow::Result<()> {
    let opened = db.run_blocking(|conn| {
        Ok(address::newest(conn).and_then(|_| order::newest(conn).map(drop)))
    })?;
    opened.map_err(|error| match error {
        diesel::result::Error::DeserializationError(why) => anyhow::anyhow!("{why}"),
        other => anyhow::anyhow!("cannot read the newest address and order: {other}"),
    })
}
