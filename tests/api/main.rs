//! Black-box tests of the HTTP API: each test starts the real server on a free port over a fresh
//! database (SQLite in a temp dir, or PostgreSQL when `TEST_DATABASE_URL` is set).

mod accounts;
mod archive;
mod authorization;
mod bulk;
mod catalog;
mod commerce;
mod database;
mod edge;
mod errors;
mod events;
mod export;
mod fake_stripe;
mod faults;
mod feeds;
mod graphiql;
mod hardening;
mod helpers;
mod hostile_inputs;
mod http;
mod instances;
mod live;
mod merchandising;
mod observability;
mod pagination;
mod partners;
mod payments;
mod product_reviews;
mod query_cost;
mod schema;
mod shared_limits;
mod staff_commerce;
mod stock_bulk;
mod stripe_gateway;
mod stripe_payments;
mod webhooks;
