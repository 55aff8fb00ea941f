//! The PyO3 layer: thin wrappers that convert Python values and call the
//! pure-Rust modules. Nothing here decides anything.

pub mod errors;
pub mod ingress;
pub mod metrics;
pub mod parse;
pub mod publish;
pub mod throttle;
pub mod verify;
