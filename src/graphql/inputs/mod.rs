//! GraphQL input types and their conversion into checked service inputs.

pub mod catalog;
