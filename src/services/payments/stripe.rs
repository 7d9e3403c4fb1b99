//! Stripe (being written on the stripe-adapter branch).
