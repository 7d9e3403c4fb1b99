//! Use cases: each takes checked input, applies the domain rules and runs its database work
//! (one transaction where it writes).

pub mod accounts;
pub mod addresses;
pub mod catalog;
pub mod cost;
pub mod mail;
pub mod passwords;
pub mod seed;
pub mod throttle;
pub mod tokens;
