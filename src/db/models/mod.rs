//! Row types (`Row`, `NewRow`) and the queries over each table, one module per table.

pub mod address;
pub mod audit;
pub mod bulk;
pub mod cart;
pub mod category;
pub mod collection;
pub mod discount;
pub mod email_verification;
pub mod event;
pub mod export;
pub mod fulfillment;
pub mod image;
pub mod metadata;
pub mod order;
pub mod partner;
pub mod password_reset;
pub mod payment;
pub mod product;
pub mod product_review;
pub mod session;
pub mod shipping;
pub mod sign_up;
pub mod user;
pub mod variant;
pub mod webhook;
