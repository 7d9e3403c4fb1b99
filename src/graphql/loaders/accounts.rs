//! Batched account reads: accounts by id, addresses by id and by owner, and what each account's
//! orders add up to. Access is checked by the
//! resolvers before they ask.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::catalog::{DbLoader, LoadResult, group_by_key};
use crate::db::models::address::{self, Address};
use crate::db::models::order;
use crate::db::models::user::{self, User};
use crate::domain::address::MAX_ADDRESSES_PER_ACCOUNT;
use crate::domain::ids::{AccountId, AddressId};
use crate::domain::orders::{CustomerOrderStats, OrderStatus};
use crate::error::AppError;

/// What an account's orders add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderStatsOf(pub AccountId);

impl Loader<OrderStatsOf> for DbLoader {
    type Value = CustomerOrderStats;
    type Error = AppError;

    async fn load(&self, keys: &[OrderStatsOf]) -> LoadResult<OrderStatsOf, CustomerOrderStats> {
        let ids: Vec<AccountId> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .db
            .run(move |conn| Ok(order::totals_by_status_of(conn, &ids)?))
            .await?;
        let mut stats: HashMap<OrderStatsOf, CustomerOrderStats> = keys
            .iter()
            .map(|key| (*key, CustomerOrderStats::default()))
            .collect();
        for (user_id, status, orders, total) in rows {
            let (Some(user_id), Ok(status)) = (user_id, status.parse::<OrderStatus>()) else {
                continue;
            };
            if let Some(entry) = stats.get_mut(&OrderStatsOf(user_id)) {
                entry.add(status, orders, total.unwrap_or(0));
            }
        }
        Ok(stats)
    }
}

/// The addresses of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressesOf(pub AccountId);

impl Loader<AccountId> for DbLoader {
    type Value = User;
    type Error = AppError;

    async fn load(&self, keys: &[AccountId]) -> LoadResult<AccountId, User> {
        let ids = keys.to_vec();
        let rows = self
            .db
            .run(move |conn| Ok(user::by_ids(conn, &ids)?))
            .await?;
        Ok(rows.into_iter().map(|u| (u.id, u)).collect())
    }
}

impl Loader<AddressId> for DbLoader {
    type Value = Address;
    type Error = AppError;

    async fn load(&self, keys: &[AddressId]) -> LoadResult<AddressId, Address> {
        let ids = keys.to_vec();
        let rows = self
            .db
            .run(move |conn| Ok(address::by_ids(conn, &ids)?))
            .await?;
        Ok(rows.into_iter().map(|a| (a.id, a)).collect())
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
        let owner = |a: &Address| Some(AddressesOf(a.user_id));
        Ok(group_by_key(keys, rows, owner, MAX_ADDRESSES_PER_ACCOUNT))
    }
}
