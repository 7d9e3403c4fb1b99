//! Use cases: each takes checked input, applies the domain rules and runs its database work
//! (one transaction where it writes).

pub mod catalog;
pub mod seed;
