//! `hookcore._core.IngressCounters`: the ingress's counters and latency histogram,
//! shared by the worker processes of one `hookcore serve` (see `crate::counters`).

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::counters::{Counters, LATENCY_BOUNDS_NS, MAX_CUSTOMER_SLOTS};

use super::errors::MetricsFileError;

#[pyclass(frozen, module = "hookcore._core")]
pub struct IngressCounters {
    pub inner: Arc<Counters>,
}

/// What the counters held when `IngressCounters.snapshot` read them.
#[pyclass(frozen, get_all, module = "hookcore._core")]
pub struct CountersSnapshot {
    statuses: Vec<(u16, u64)>,
    publish_failures: u64,
    duplicates: u64,
    latency_bounds: Vec<f64>,
    latency_buckets: Vec<u64>,
    latency_sum: f64,
    customers: Vec<(String, u64)>,
    other_customers: u64,
}

#[pymethods]
impl IngressCounters {
    #[new]
    #[pyo3(signature = (path=None, *, customers, create=false))]
    fn new(
        py: Python<'_>,
        path: Option<PathBuf>,
        customers: usize,
        create: bool,
    ) -> PyResult<Self> {
        if customers > MAX_CUSTOMER_SLOTS {
            return Err(PyValueError::new_err(format!(
                "customers must be at most {MAX_CUSTOMER_SLOTS}, got {customers}"
            )));
        }
        let counters = match path {
            None => Counters::in_process(customers),
            Some(path) => py
                .detach(|| {
                    if create {
                        Counters::create(&path, customers)
                    } else {
                        Counters::open(&path, customers)
                    }
                })
                .map_err(|e| MetricsFileError::new_err(e.to_string()))?,
        };
        Ok(IngressCounters {
            inner: Arc::new(counters),
        })
    }

    /// One answer to a trigger request received at `started_ns` (`time.monotonic_ns()`).
    fn answered(&self, status: u16, started_ns: u64) {
        self.inner
            .answered(status, monotonic_ns().saturating_sub(started_ns));
    }

    fn publish_failed(&self) {
        self.inner.publish_failed();
    }

    fn duplicate(&self) {
        self.inner.duplicate();
    }

    fn snapshot(&self) -> CountersSnapshot {
        let s = self.inner.snapshot();
        CountersSnapshot {
            statuses: s.statuses,
            publish_failures: s.publish_failures,
            duplicates: s.duplicates,
            latency_bounds: LATENCY_BOUNDS_NS
                .iter()
                .map(|&ns| ns as f64 / 1e9)
                .collect(),
            latency_buckets: s.latency_buckets,
            latency_sum: s.latency_sum_ns as f64 / 1e9,
            customers: s.customers,
            other_customers: s.other_customers,
        }
    }
}

/// Nanoseconds on `CLOCK_MONOTONIC`, the clock of Python's `time.monotonic_ns()` on Linux.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<IngressCounters>()?;
    m.add_class::<CountersSnapshot>()
}
