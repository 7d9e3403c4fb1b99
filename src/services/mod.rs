//! Use cases: each takes checked input, applies the domain rules and runs its database work
//! (one transaction where it writes).

pub mod accounts;
pub mod addresses;
pub mod archive;
pub mod audit;
pub mod background;
pub mod bus;
pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod collections;
pub mod cost;
pub mod discounts;
pub mod events;
pub mod export;
pub mod fulfillments;
pub mod jobs;
pub mod live;
pub mod mail;
pub mod merchandising;
pub mod metadata;
pub mod orders;
pub mod partners;
pub mod passwords;
pub mod payments;
pub mod product_reviews;
pub mod product_upsert;
pub mod rate_limits;
pub mod sealing;
pub mod seed;
pub mod session_cache;
pub mod shared_limits;
pub mod shipping;
pub mod throttle;
pub mod tokens;
pub mod webhooks;
