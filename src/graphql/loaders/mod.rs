//! Per-request DataLoaders: one `Loader` impl per relationship, keyed by id newtypes, so a
//! request runs one statement per relationship and query depth, whatever the list lengths.

mod accounts;
mod catalog;
mod collections;
mod discounts;
mod metadata;
mod orders;
mod ratings;

use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, HashMapCache};
use tracing::Instrument as _;

pub use accounts::{AddressesOf, OrderStatsOf};
pub use catalog::{CategoryProducts, ChildrenOf, DbLoader, ImagesOf, VariantBySku, VariantsOf};
pub use collections::{CollectionMembers, CollectionsOf};
pub use metadata::MetadataOf;
pub use orders::{
    EventsOf, FulfillmentsOf, LinesOf, LinesWithVariantsOf, NotesOf, PaymentsOf,
    remember_page_lines,
};
pub use ratings::{RatingOf, ReviewsPage};

use crate::db::Db;
use crate::domain::catalog::CatalogVisibility;

/// The loader type resolvers ask for with `ctx.data::<Loader>()`.
pub type Loader = DataLoader<DbLoader, HashMapCache>;

/// Copies out, one by one, the rows a loader shared for one key (none if it had none).
pub fn each_row<T: Clone>(shared: Option<Arc<[T]>>) -> impl Iterator<Item = T> {
    let rows = shared.unwrap_or_default();
    (0..rows.len()).map(move |i| rows[i].clone())
}

/// Scheduler rounds a batch waits for more keys before it loads.
///
/// async-graphql resolves a list of more than 30 items through `FuturesOrdered`, which yields to
/// the scheduler after polling 32 futures: a batch dispatched on the very next tick would hold
/// only the keys of the first 32 items, and a 50-order page would run dozens of statements.
/// Each round lets the resolving task register 32 more items; 16 rounds cover 500 items per
/// level (more than the largest page times its lines). On an idle worker a round costs well
/// under a microsecond, far less than any timer delay.
const BATCH_ROUNDS: usize = 16;

/// Creates the loaders for one request. Batches dispatch after [`BATCH_ROUNDS`] scheduler
/// rounds instead of after a timer: actix workers are single-threaded, so every key the request
/// asks for in those rounds lands in one batch.
pub fn for_request(db: Db, visibility: CatalogVisibility) -> Loader {
    DataLoader::with_cache(
        DbLoader::new(db, visibility),
        |future| {
            actix_web::rt::spawn(
                async move {
                    for _ in 0..BATCH_ROUNDS {
                        actix_web::rt::task::yield_now().await;
                    }
                    future.await
                }
                .in_current_span(),
            )
        },
        HashMapCache::default(),
    )
    .delay(Duration::ZERO)
}
