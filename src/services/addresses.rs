//! Address book use cases: a customer adds, changes, removes and picks the default of their own
//! addresses. An address that is not the caller's is "not found", never "forbidden".

use chrono::Utc;

use crate::db::models::address::{self, Address};
use crate::db::models::user;
use crate::db::{Db, write_transaction};
use crate::domain::accounts::AccountPrincipal;
use crate::domain::address::{AddressParts, MAX_ADDRESSES_PER_ACCOUNT, PostalAddress};
use crate::domain::ids::AddressId;
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::error::{AppError, AppResult};

fn parse(parts: &AddressParts) -> AppResult<PostalAddress> {
    PostalAddress::parse(parts).map_err(|problems| {
        AppError::Rejected(problems.into_iter().map(|p| p.under("input")).collect())
    })
}

fn not_found() -> AppError {
    AppError::rejected(Rejection::new(
        &["id"],
        RejectionCode::NotFound,
        "no such address in your address book",
    ))
}

/// Adds an address; the first one, or one marked so, becomes the default.
pub async fn add(
    db: &Db,
    owner: AccountPrincipal,
    parts: &AddressParts,
    make_default: bool,
) -> AppResult<Address> {
    let address = parse(parts)?;
    let user_id = owner.account_id;
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            if !user::lock(conn, user_id)? {
                return Err(not_found());
            }
            let count = address::count_for_user(conn, user_id)?;
            if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_ADDRESSES_PER_ACCOUNT {
                return Err(AppError::rejected(Rejection::new(
                    &[],
                    RejectionCode::LimitReached,
                    format!("an address book holds at most {MAX_ADDRESSES_PER_ACCOUNT} addresses"),
                )));
            }
            let now = Utc::now().naive_utc();
            let added = address::insert(conn, user_id, &address, false, now)?;
            if make_default || count == 0 {
                return address::set_default(conn, user_id, added.id, now)?.ok_or_else(not_found);
            }
            Ok(added)
        })
    })
    .await
}

/// Replaces the parts of one of the caller's addresses.
pub async fn update(
    db: &Db,
    owner: AccountPrincipal,
    id: AddressId,
    parts: &AddressParts,
) -> AppResult<Address> {
    let address = parse(parts)?;
    let user_id = owner.account_id;
    db.run(move |conn| {
        address::update(conn, user_id, id, &address, Utc::now().naive_utc())?.ok_or_else(not_found)
    })
    .await
}

/// Removes one of the caller's addresses. Removing the default leaves none.
pub async fn remove(db: &Db, owner: AccountPrincipal, id: AddressId) -> AppResult<()> {
    let user_id = owner.account_id;
    let removed = db
        .run(move |conn| Ok(address::delete(conn, user_id, id)?))
        .await?;
    if removed { Ok(()) } else { Err(not_found()) }
}

/// Makes one of the caller's addresses the default.
pub async fn set_default(db: &Db, owner: AccountPrincipal, id: AddressId) -> AppResult<Address> {
    let user_id = owner.account_id;
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            address::set_default(conn, user_id, id, Utc::now().naive_utc())?.ok_or_else(not_found)
        })
    })
    .await
}
