//! `hookcore._core.Ingress`: the routing table plus the one-call hot path.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use std::path::PathBuf;

use pyo3::exceptions::{PyOSError, PyValueError};

use crate::error_code::{ErrorCode, ERROR_CODE_HEADER};
use crate::ingest::{self, Decision, IngestConfig, TriggerRequest};
use crate::parse::MultipartLimits;
use crate::route::{RecordError, Router};
use crate::throttle::{Limiter, Table, Verdict};

use super::throttle::RATE_TABLE_SLOTS;

/// Bodies at least this big are checked without holding the GIL.
const DETACH_BODY_BYTES: usize = 64 * 1024;

#[pyclass(frozen, module = "hookcore._core")]
pub struct Ingress {
    config: IngestConfig,
    router: Router,
    /// None: rate limiting is off.
    limiter: Option<Limiter>,
}

type Headers = Vec<(&'static str, String)>;

/// `(status, headers, body)` of an answer given without storing anything.
type Answer<'py> = (u16, Headers, Bound<'py, PyBytes>);

/// `(status, headers, body, accepted)`; see `_core.pyi`.
type IngestResult<'py> = (
    u16,
    Headers,
    Bound<'py, PyBytes>,
    Option<AcceptedTuple<'py>>,
);

/// `(execution_id, subject, envelope, spill, synchronous, python, dedup)` of an accepted request.
type AcceptedTuple<'py> = (
    String,
    String,
    Bound<'py, PyBytes>,
    bool,
    bool,
    Option<(String, Option<String>)>,
    Option<(String, u64)>,
);

fn record_error(e: RecordError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

#[pymethods]
impl Ingress {
    #[new]
    #[pyo3(signature = (*, subject_prefix, reply_prefix, max_envelope, max_headers, max_header_bytes, max_parts, max_part_header_bytes, rate_limits=true, rate_table=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        subject_prefix: String,
        reply_prefix: String,
        max_envelope: usize,
        max_headers: usize,
        max_header_bytes: usize,
        max_parts: usize,
        max_part_header_bytes: usize,
        rate_limits: bool,
        rate_table: Option<PathBuf>,
    ) -> PyResult<Self> {
        let table = match (rate_limits, rate_table) {
            (false, _) => None,
            (true, Some(path)) => Some(
                Table::shared(&path, RATE_TABLE_SLOTS)
                    .map_err(|e| PyOSError::new_err(e.to_string()))?,
            ),
            (true, None) => Some(Table::in_process(RATE_TABLE_SLOTS)),
        };
        Ok(Ingress {
            config: IngestConfig {
                subject_prefix,
                reply_prefix,
                max_envelope,
                max_headers,
                max_header_bytes,
                multipart: MultipartLimits {
                    max_parts,
                    max_part_header_bytes,
                },
            },
            router: Router::default(),
            limiter: table.map(Limiter::new),
        })
    }

    /// Enforce `1/machines` of every rate limit (the other machines enforce the rest).
    fn set_rate_share(&self, machines: u32) {
        if let Some(limiter) = &self.limiter {
            limiter.set_share(machines);
        }
    }

    /// Load an integration's routing spec (JSON, from code).
    fn set_integration(&self, spec: &[u8]) -> PyResult<()> {
        self.router.set_integration_json(spec).map_err(record_error)
    }

    /// Insert or replace an endpoint from its JSON record.
    fn set_endpoint(&self, endpoint_id: &str, record: &[u8]) -> PyResult<()> {
        self.router
            .set_endpoint_json(endpoint_id, record)
            .map_err(record_error)
    }

    fn remove_endpoint(&self, endpoint_id: &str) -> bool {
        self.router.remove_endpoint(endpoint_id)
    }

    /// Insert or replace an instance from its JSON record.
    fn set_instance(&self, instance_id: &str, record: &[u8]) -> PyResult<()> {
        self.router
            .set_instance_json(instance_id, record)
            .map_err(record_error)
    }

    fn remove_instance(&self, instance_id: &str) -> bool {
        self.router.remove_instance(instance_id)
    }

    fn endpoint_count(&self) -> usize {
        self.router.endpoint_count()
    }

    /// What can be answered before the body is read (405, 404, HEAD, 429), or None.
    fn admit<'py>(&self, py: Python<'py>, method: &str, target: &str) -> Option<Answer<'py>> {
        ingest::admit(&self.router, self.limiter.as_ref(), method, target)
            .map(|decision| refusal(py, decision))
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
            py.detach(|| {
                ingest::ingest(&self.config, &self.router, self.limiter.as_ref(), &request)
            })
        } else {
            ingest::ingest(&self.config, &self.router, self.limiter.as_ref(), &request)
        };
        let json = || vec![("content-type", String::from("application/json"))];
        Ok(match decision {
            Decision::Accepted(a) => {
                let mut headers = json();
                headers.push((ingest::EXECUTION_ID_HEADER, a.execution_id.clone()));
                if let Some(limit) = &a.limit {
                    rate_headers(&mut headers, limit);
                }
                let accepted = (
                    a.execution_id,
                    a.subject,
                    PyBytes::new(py, &a.envelope),
                    a.body_in_object_store,
                    a.synchronous,
                    a.python,
                    a.dedup.map(|d| (d.key, d.window_secs)),
                );
                (200, headers, PyBytes::new(py, &a.response), Some(accepted))
            }
            refused => {
                let (status, headers, body) = refusal(py, refused);
                (status, headers, body, None)
            }
        })
    }
}

/// The answer to a request that stores nothing: HEAD, a handshake, or a rejection with its code.
fn refusal(py: Python<'_>, decision: Decision) -> Answer<'_> {
    let mut headers = vec![("content-type", String::from("application/json"))];
    match decision {
        Decision::Answer(answer) => {
            headers[0].1 = answer.content_type.to_owned();
            headers.extend(answer.headers);
            (answer.status, headers, PyBytes::new(py, &answer.body))
        }
        Decision::Rejected {
            status,
            code,
            body,
            limit,
        } => {
            headers.push((ERROR_CODE_HEADER, code.as_str().to_owned()));
            if status == 405 {
                headers.push(("allow", ingest::ALLOW.to_owned()));
            }
            if let Some(limit) = limit {
                rate_headers(&mut headers, &limit);
            }
            (status, headers, PyBytes::new(py, &body))
        }
        Decision::Head | Decision::Accepted(_) => (200, headers, PyBytes::new(py, b"")),
    }
}

/// `RateLimit-*` headers, and `Retry-After` when the request was refused.
fn rate_headers(headers: &mut Headers, verdict: &Verdict) {
    headers.push(("ratelimit-limit", verdict.limit.to_string()));
    headers.push(("ratelimit-remaining", verdict.remaining.to_string()));
    headers.push(("ratelimit-reset", verdict.reset_secs.to_string()));
    if !verdict.allowed {
        headers.push(("retry-after", verdict.retry_after_secs.to_string()));
    }
}

/// SHA-256 (hex) of an API key, as instance records store it.
#[pyfunction]
pub fn api_key_digest(key: &str) -> String {
    crate::route::apikey::digest_hex(key)
}

/// A new time-sortable id (UUIDv7), as used for executions and instances.
#[pyfunction]
pub fn new_id() -> String {
    crate::ids::execution_id()
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Ingress>()?;
    m.add_function(wrap_pyfunction!(new_id, m)?)?;
    m.add_function(wrap_pyfunction!(api_key_digest, m)?)?;
    m.add("ALLOW", ingest::ALLOW)?;
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    m.add("ERROR_CODES", codes)?;
    Ok(())
}
