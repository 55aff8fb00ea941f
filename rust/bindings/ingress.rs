//! `hookcore._core.Ingress`: the routing table plus the one-call hot path.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::ingest::{self, Decision, IngestConfig, TriggerRequest};
use crate::parse::MultipartLimits;
use crate::route::Router;

/// Bodies at least this big are checked without holding the GIL.
const DETACH_BODY_BYTES: usize = 64 * 1024;

#[pyclass(frozen, module = "hookcore._core")]
pub struct Ingress {
    config: IngestConfig,
    router: Router,
}

type IngestResult<'py> = (
    u16,
    Bound<'py, PyBytes>,
    Option<String>,
    Option<String>,
    Option<Bound<'py, PyBytes>>,
    bool,
);

#[pymethods]
impl Ingress {
    #[new]
    #[pyo3(signature = (*, subject_prefix, max_inline_body, max_headers, max_header_bytes, max_parts, max_part_header_bytes))]
    fn new(
        subject_prefix: String,
        max_inline_body: usize,
        max_headers: usize,
        max_header_bytes: usize,
        max_parts: usize,
        max_part_header_bytes: usize,
    ) -> Self {
        Ingress {
            config: IngestConfig {
                subject_prefix,
                max_inline_body,
                max_headers,
                max_header_bytes,
                multipart: MultipartLimits {
                    max_parts,
                    max_part_header_bytes,
                },
            },
            router: Router::default(),
        }
    }

    /// Insert or replace a route from its JSON endpoint record.
    fn set_route(&self, endpoint_id: &str, record: &[u8]) -> PyResult<()> {
        self.router
            .set_json(endpoint_id, record)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
    }

    /// Remove a route; True when it existed.
    fn remove_route(&self, endpoint_id: &str) -> bool {
        self.router.remove(endpoint_id)
    }

    fn route_count(&self) -> usize {
        self.router.len()
    }

    /// Decide one trigger request; see `_core.pyi` for the returned tuple.
    fn ingest<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        target: &str,
        query: &str,
        headers: &Bound<'py, PyList>,
        body: &Bound<'py, PyBytes>,
    ) -> PyResult<IngestResult<'py>> {
        let mut owned: Vec<(Bound<'py, PyString>, Bound<'py, PyString>)> =
            Vec::with_capacity(headers.len());
        for item in headers.iter() {
            let pair = item.cast_into::<PyTuple>()?;
            owned.push((
                pair.get_item(0)?.cast_into::<PyString>()?,
                pair.get_item(1)?.cast_into::<PyString>()?,
            ));
        }
        let mut raw: Vec<(&str, &str)> = Vec::with_capacity(owned.len());
        for (name, value) in &owned {
            raw.push((name.to_str()?, value.to_str()?));
        }
        let body_bytes = body.as_bytes();
        let request = TriggerRequest {
            method,
            target,
            query,
            headers: &raw,
            body: body_bytes,
        };
        let decision = if body_bytes.len() >= DETACH_BODY_BYTES {
            py.detach(|| ingest::ingest(&self.config, &self.router, &request))
        } else {
            ingest::ingest(&self.config, &self.router, &request)
        };
        Ok(match decision {
            Decision::Accepted {
                execution_id,
                subject,
                envelope,
                body_in_object_store,
                response,
            } => (
                200,
                PyBytes::new(py, &response),
                Some(execution_id),
                Some(subject),
                Some(PyBytes::new(py, &envelope)),
                body_in_object_store,
            ),
            Decision::Head => (200, PyBytes::new(py, b""), None, None, None, false),
            Decision::Rejected { status, body } => {
                (status, PyBytes::new(py, &body), None, None, None, false)
            }
        })
    }
}

/// A new time-sortable id (UUIDv7), as used for executions and instances.
#[pyfunction]
pub fn new_id() -> String {
    crate::ids::execution_id()
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Ingress>()?;
    m.add_function(wrap_pyfunction!(new_id, m)?)?;
    m.add("ALLOW", ingest::ALLOW)?;
    Ok(())
}
