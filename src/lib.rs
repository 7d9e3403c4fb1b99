//! Bazaar: a headless-commerce GraphQL API server.
//!
//! Module map (a room for everything; see `../shared/DESIGN.md`):
//! - [`config`]: every setting, read once from flags and the environment.
//! - [`telemetry`]: the tracing subscriber.
//! - [`error`]: [`error::AppError`] and how it becomes a GraphQL error.
//! - [`http`]: the actix-web app: routes, the GraphQL handler, health checks.
//! - [`graphql`]: the schema: root fields by area, types, inputs, loaders, pagination, ids.
//! - [`services`]: use cases, one transaction each.
//! - [`domain`]: pure business rules: money, catalog values.
//! - [`db`]: the connection pool over SQLite or PostgreSQL, table definitions, row models,
//!   migrations.

// Without the `postgres` feature the connection enum has one variant, so the `if let` that picks
// out SQLite cannot fail; the code stays written for both.
#![cfg_attr(not(feature = "postgres"), allow(irrefutable_let_patterns))]

pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod services;
pub mod telemetry;
