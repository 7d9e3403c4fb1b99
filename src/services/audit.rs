//! The staff audit log: [`record`] writes who changed what (and the values before and after) in
//! the transaction of the change; [`page`] reads it for admins.

use chrono::Utc;
use serde_json::Value;

use crate::db::models::audit::{self, AuditEntry, NewAuditEntry};
use crate::db::{Db, DbConnection};
use crate::domain::paging::{Page, PageRequest};
use crate::error::AppResult;

/// What an entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A product.
    Product(i64),
    /// A variant (prices, stock).
    Variant(i64),
    /// An account (its role).
    Account(i64),
    /// A discount code.
    DiscountCode(i64),
    /// An order (its state).
    Order(i64),
    /// A review (its moderation).
    Review(i64),
    /// A partner app (its keys).
    App(i64),
    /// A shipping zone (its countries and regions).
    ShippingZone(i64),
    /// A shipping method (its charge and band).
    ShippingMethod(i64),
    /// A tax rate.
    TaxRate(i64),
    /// A manual collection (its fields and products).
    Collection(i64),
}

impl Subject {
    fn parts(self) -> (&'static str, i64) {
        match self {
            Self::Product(id) => ("Product", id),
            Self::Variant(id) => ("Variant", id),
            Self::Account(id) => ("Account", id),
            Self::DiscountCode(id) => ("DiscountCode", id),
            Self::Order(id) => ("Order", id),
            Self::Review(id) => ("Review", id),
            Self::App(id) => ("App", id),
            Self::ShippingZone(id) => ("ShippingZone", id),
            Self::ShippingMethod(id) => ("ShippingMethod", id),
            Self::TaxRate(id) => ("TaxRate", id),
            Self::Collection(id) => ("Collection", id),
        }
    }
}

/// Writes an entry: `actor` did `action` to `subject`; `details` holds the values before and
/// after. Call inside the transaction of the change.
pub fn record(
    conn: &mut DbConnection,
    actor: Option<i64>,
    action: &str,
    subject: Subject,
    details: Value,
) -> AppResult<()> {
    let (subject_type, subject_id) = subject.parts();
    audit::insert(
        conn,
        &NewAuditEntry {
            actor_id: actor,
            action,
            subject_type,
            subject_id,
            details: &details.to_string(),
            created_at: Utc::now().naive_utc(),
        },
    )?;
    Ok(())
}

/// One page of entries, newest first.
pub async fn page(db: &Db, page: PageRequest<i64>) -> AppResult<Page<AuditEntry>> {
    let window = page.id_window();
    let rows = db.run(move |conn| Ok(audit::page(conn, &window)?)).await?;
    Ok(page.into_page(rows))
}
