//! The PyO3 layer: thin wrappers that convert Python values and call the
//! pure-Rust modules. Nothing here decides anything.

pub mod errors;
pub mod ingress;
pub mod metrics;
pub mod nats_wire;
pub mod parse;
pub mod rate_limit;
pub mod verify;
