//! Pure business rules: no database, no GraphQL, no async. Values here are valid by construction.

pub mod accounts;
pub mod address;
pub mod archive;
pub mod bounds;
pub mod catalog;
pub mod cost;
pub mod delivery;
pub mod events;
pub mod feeds;
pub mod fulfillments;
pub mod idempotency;
pub mod ids;
pub mod instant;
pub mod metadata;
pub mod money;
pub mod options;
pub mod orders;
pub mod paging;
pub mod partners;
pub mod payments;
pub mod pricing;
pub mod rejection;
pub mod reviews;
pub mod sealing;
pub mod stock;
pub mod webhooks;
