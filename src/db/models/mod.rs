//! Row types (`Row`, `NewRow`) and the queries over each table, one module per table.

pub mod bulk;
pub mod category;
pub mod image;
pub mod product;
pub mod variant;
