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

use std::fmt::Write;

use pyo3::prelude::*;

/// How the values handed to Python print: `Name(field=value, ...)`, each value
/// as Python's `repr` shows it (as a dataclass prints).
pub(crate) fn repr_fields(name: &str, fields: &[(&str, Bound<'_, PyAny>)]) -> PyResult<String> {
    let mut out = format!("{name}(");
    for (i, (field, value)) in fields.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        // Writing to a String cannot fail.
        let _ = write!(out, "{sep}{field}={}", value.repr()?);
    }
    out.push(')');
    Ok(out)
}
