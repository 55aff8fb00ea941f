//! `hookcore._core.RateLimiter`: the ingress's token buckets, callable on their own
//! (from `on_trigger` hooks for custom limits, and from benchmarks).

use std::path::PathBuf;

use pyo3::exceptions::PyValueError;

use super::errors::RateTableError;
use super::repr_fields;
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;

use crate::rate_limit::{now_us as now_us_clock, Rate, Table};

#[pyclass(frozen, module = "hookcore._core")]
pub struct RateLimiter {
    // The table itself, not a `Limiter`: this binding enforces whole limits (no
    // machine share) and lets the caller say what time it is.
    table: Table,
}

/// One request's verdict from `RateLimiter.check`, with the `RateLimit-*` figures.
#[pyclass(frozen, name = "Verdict", module = "hookcore._core")]
pub struct PyVerdict {
    #[pyo3(get)]
    allowed: bool,
    #[pyo3(get)]
    limit: u32,
    #[pyo3(get)]
    remaining: u32,
    #[pyo3(get)]
    reset_secs: u32,
    #[pyo3(get)]
    retry_after_secs: u32,
}

#[pymethods]
impl PyVerdict {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_fields(
            "Verdict",
            &[
                ("allowed", self.allowed.into_bound_py_any(py)?),
                ("limit", self.limit.into_bound_py_any(py)?),
                ("remaining", self.remaining.into_bound_py_any(py)?),
                ("reset_secs", self.reset_secs.into_bound_py_any(py)?),
                (
                    "retry_after_secs",
                    self.retry_after_secs.into_bound_py_any(py)?,
                ),
            ],
        )
    }
}

#[pymethods]
impl RateLimiter {
    #[new]
    #[pyo3(signature = (*, slots=65536, table=None))]
    fn new(slots: usize, table: Option<PathBuf>) -> PyResult<Self> {
        if slots == 0 {
            return Err(PyValueError::new_err("slots must be at least 1"));
        }
        let table = match table {
            Some(path) => {
                Table::shared(&path, slots).map_err(|e| RateTableError::new_err(e.to_string()))?
            }
            None => Table::in_process(slots),
        };
        Ok(RateLimiter { table })
    }

    /// Take one request from `key`'s bucket; see `_core.pyi`.
    /// `now_us` (microseconds, > 0) replaces the monotonic clock: tests and simulations stop time with it.
    #[pyo3(signature = (key, rate, burst=None, *, now_us=None))]
    fn check(
        &self,
        key: &str,
        rate: f64,
        burst: Option<u32>,
        now_us: Option<u64>,
    ) -> PyResult<PyVerdict> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(PyValueError::new_err(format!(
                "rate must be a positive number of requests per second, got {rate}"
            )));
        }
        let now = match now_us {
            Some(0) => {
                return Err(PyValueError::new_err(
                    "now_us must be a positive number of microseconds, got 0",
                ))
            }
            Some(t) => t,
            None => now_us_clock(),
        };
        let v = self.table.check(key, Rate::new(rate, burst), now);
        Ok(PyVerdict {
            allowed: v.allowed,
            limit: v.limit,
            remaining: v.remaining,
            reset_secs: v.reset_secs,
            retry_after_secs: v.retry_after_secs,
        })
    }
}

/// Slots of the machine-wide table `hookcore._core.Ingress` maps (16 bytes each).
pub const RATE_TABLE_SLOTS: usize = 1 << 18;

/// Create the machine-wide rate-limit table at `path` or check the one there
/// (owner, mode, size, magic, version); `OSError` says why it cannot be used.
#[pyfunction]
#[pyo3(signature = (path, slots=RATE_TABLE_SLOTS))]
fn check_rate_table(py: Python<'_>, path: PathBuf, slots: usize) -> PyResult<()> {
    if slots == 0 {
        return Err(PyValueError::new_err("slots must be at least 1"));
    }
    py.detach(|| Table::shared(&path, slots).map(drop))
        .map_err(|e| RateTableError::new_err(e.to_string()))
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("RATE_TABLE_SLOTS", RATE_TABLE_SLOTS)?;
    m.add_function(wrap_pyfunction!(check_rate_table, m)?)?;
    m.add_class::<RateLimiter>()?;
    m.add_class::<PyVerdict>()
}
