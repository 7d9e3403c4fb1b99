//! Batched account reads: accounts by id, addresses by id and by owner. Access is checked by the
//! resolvers before they ask.

use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::catalog::{DbLoader, LoadResult, group_by_key, raw_ids};
use crate::db::models::address::{self, Address};
use crate::db::models::user::{self, User};
use crate::domain::address::MAX_ADDRESSES_PER_ACCOUNT;
use crate::domain::ids::{AccountId, AddressId};
use crate::error::AppError;

/// The addresses of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressesOf(pub AccountId);

impl Loader<AccountId> for DbLoader {
    type Value = User;
    type Error = AppError;

    async fn load(&self, keys: &[AccountId]) -> LoadResult<AccountId, User> {
        let ids = raw_ids(keys);
        let rows = self
            .db
            .run(move |conn| Ok(user::by_ids(conn, &ids)?))
            .await?;
        Ok(rows.into_iter().map(|u| (AccountId(u.id), u)).collect())
    }
}

impl Loader<AddressId> for DbLoader {
    type Value = Address;
    type Error = AppError;

    async fn load(&self, keys: &[AddressId]) -> LoadResult<AddressId, Address> {
        let ids = raw_ids(keys);
        let rows = self
            .db
            .run(move |conn| Ok(address::by_ids(conn, &ids)?))
            .await?;
        Ok(rows.into_iter().map(|a| (AddressId(a.id), a)).collect())
    }
}

impl Loader<AddressesOf> for DbLoader {
    type Value = Arc<[Address]>;
    type Error = AppError;

    async fn load(&self, keys: &[AddressesOf]) -> LoadResult<AddressesOf, Arc<[Address]>> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0.0).collect();
        let rows = self
            .db
            .run(move |conn| Ok(address::for_users(conn, &ids)?))
            .await?;
        let owner = |a: &Address| Some(AddressesOf(AccountId(a.user_id)));
        Ok(group_by_key(keys, rows, owner, MAX_ADDRESSES_PER_ACCOUNT))
    }
}
