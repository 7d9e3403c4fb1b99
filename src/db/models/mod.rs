//! Row types (`Row`, `NewRow`) and the queries over each table, one module per table.

pub mod address;
pub mod bulk;
pub mod category;
pub mod image;
pub mod password_reset;
pub mod product;
pub mod session;
pub mod user;
pub mod variant;
