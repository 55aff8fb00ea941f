//! hookcore's Rust core. Pure-Rust modules hold the logic (tested with
//! `cargo test`, no Python needed); `bindings` is the thin PyO3 layer that
//! maturin builds into the private module `hookcore._core`.

use pyo3::prelude::*;

mod bindings;
pub mod counters;
pub mod envelope;
pub mod error_code;
/// The fuzz targets' properties, also run by `cargo test` (see `fuzz/`).
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz_checks;
pub mod ids;
pub mod ingest;
pub mod key_hash;
pub mod nats_wire;
pub mod parse;
pub mod rate_limit;
pub mod route;
pub mod senders;
pub mod shards;
pub mod verify;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    bindings::ingress::init_pymodule(m)?;
    bindings::metrics::init_pymodule(m)?;
    bindings::parse::init_pymodule(m)?;
    bindings::nats_wire::init_pymodule(m)?;
    bindings::rate_limit::init_pymodule(m)?;
    bindings::verify::init_pymodule(m)?;
    Ok(())
}
