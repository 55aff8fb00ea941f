//! The PyO3 layer: thin wrappers that convert Python values and call the
//! pure-Rust modules. Nothing here decides anything.
// PyO3 hands arguments over as owned values (`Vec<String>`, `PathBuf`, `PyRef`).
#![allow(clippy::needless_pass_by_value)]

pub mod errors;
pub mod ingress;
pub mod metrics;
pub mod nats_wire;
pub mod parse;
pub mod rate_limit;
pub mod verify;
