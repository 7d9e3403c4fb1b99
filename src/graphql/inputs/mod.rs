//! GraphQL input types and their conversion into checked service inputs.

pub mod accounts;
pub mod catalog;
pub mod commerce;
pub mod discounts;
pub mod feeds;
pub mod merchandising;
pub mod metadata;
