//! Per-request DataLoaders: one `Loader` impl per relationship, keyed by id newtypes, so a
//! request runs one statement per relationship and query depth, whatever the list lengths.

mod accounts;
mod catalog;
mod orders;

use std::time::Duration;

use async_graphql::dataloader::{DataLoader, HashMapCache};
use tracing::Instrument as _;

pub use accounts::AddressesOf;
pub use catalog::{CategoryProducts, ChildrenOf, DbLoader, ImagesOf, VariantsOf};
pub use orders::{EventsOf, LinesOf, PaymentsOf};

use crate::db::Db;
use crate::domain::catalog::CatalogVisibility;

/// The loader type resolvers ask for with `ctx.data::<Loader>()`.
pub type Loader = DataLoader<DbLoader, HashMapCache>;

/// Creates the loaders for one request. Batches dispatch on the next tick (delay 0): actix
/// workers are single-threaded, so every key requested in the same pass still lands in one batch.
pub fn for_request(db: Db, visibility: CatalogVisibility) -> Loader {
    DataLoader::with_cache(
        DbLoader::new(db, visibility),
        |future| actix_web::rt::spawn(future.in_current_span()),
        HashMapCache::default(),
    )
    .delay(Duration::ZERO)
}
