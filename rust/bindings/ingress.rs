//! `hookcore._core.Ingress`: the routing table plus the one-call hot path.

use super::repr_fields;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;

use std::path::PathBuf;
use std::sync::Arc;

use crate::counters::Counters;
use crate::error_code::{ErrorCode, ERROR_CODE_HEADER};
use crate::ingest::{self, Decision, IngestConfig, TriggerRequest};
use crate::nats_wire::frame_head_traced;
use crate::parse::MultipartLimits;
use crate::rate_limit::{Limiter, Table, Verdict};
use crate::route::IntegrationSpec;
use crate::route::{RecordError, Router};
use crate::shards;

use super::errors::{NatsProtocolError, RateTableError, RecordUnreadable};
use super::metrics::IngressCounters;
use super::rate_limit::RATE_TABLE_SLOTS;

/// Bodies at least this big are checked without holding the GIL.
const DETACH_BODY_BYTES: usize = 64 * 1024;

#[pyclass(frozen, module = "hookcore._core")]
pub struct Ingress {
    config: IngestConfig,
    /// The publisher's reply prefix: acks come to `{inbox}{token}`.
    inbox: Vec<u8>,
    router: Router,
    /// None: rate limiting is off.
    limiter: Option<Limiter>,
    /// Counts accepted requests per customer.
    counters: Arc<Counters>,
}

type Headers = Vec<(&'static str, String)>;

/// Bodies at least this big leave after their frame's head, from the buffer they
/// arrived in; smaller ones are copied into one frame (one write).
const SEPARATE_BODY_BYTES: usize = 64 * 1024;

/// An answer that stores nothing: an error with its code, HEAD, a handshake.
#[pyclass(frozen, module = "hookcore._core")]
pub struct Answer {
    #[pyo3(get)]
    status: u16,
    #[pyo3(get)]
    headers: Py<PyList>,
    #[pyo3(get)]
    body: Py<PyBytes>,
}

#[pymethods]
impl Answer {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_fields(
            "Answer",
            &[
                ("status", self.status.into_bound_py_any(py)?),
                ("headers", self.headers.bind(py).clone().into_any()),
                ("body", self.body.bind(py).clone().into_any()),
            ],
        )
    }
}

impl Answer {
    fn new(py: Python<'_>, status: u16, headers: Headers, body: &[u8]) -> PyResult<Answer> {
        Ok(Answer {
            status,
            headers: PyList::new(py, headers)?.unbind(),
            body: PyBytes::new(py, body).unbind(),
        })
    }

    /// A provider's handshake answered: its content type first among the headers.
    pub(crate) fn handshake(py: Python<'_>, answer: crate::verify::Answer) -> PyResult<Answer> {
        let mut headers = vec![("content-type", answer.content_type.to_owned())];
        headers.extend(answer.headers);
        Answer::new(py, answer.status, headers, &answer.body)
    }
}

/// An accepted request: the frame that stores it and the answer once it is stored.
#[pyclass(frozen, module = "hookcore._core")]
pub struct Accepted {
    #[pyo3(get)]
    execution_id: Py<PyString>,
    #[pyo3(get)]
    subject: Py<PyString>,
    #[pyo3(get)]
    token: u64,
    #[pyo3(get)]
    frame: Py<PyBytes>,
    #[pyo3(get)]
    body: Option<Py<PyBytes>>,
    #[pyo3(get)]
    envelope: Option<Py<PyBytes>>,
    #[pyo3(get)]
    spill: bool,
    #[pyo3(get)]
    synchronous: bool,
    #[pyo3(get)]
    python: Option<(String, Option<String>)>,
    #[pyo3(get)]
    dedup: Option<(String, u64)>,
    #[pyo3(get)]
    headers: Py<PyList>,
    #[pyo3(get)]
    response: Py<PyBytes>,
    /// The W3C trace context the frame carries (None: the ingress does not trace).
    #[pyo3(get)]
    traceparent: Option<String>,
    /// What traces say about the request (read only when tracing: made into
    /// Python strings on demand).
    customer: String,
    integration: Arc<IntegrationSpec>,
    flow: Option<String>,
}

#[pymethods]
impl Accepted {
    #[getter]
    fn customer(&self) -> &str {
        &self.customer
    }

    #[getter]
    fn integration(&self) -> &str {
        &self.integration.name
    }

    #[getter]
    fn flow(&self) -> Option<&str> {
        self.flow.as_deref()
    }
}

fn record_error(e: RecordError) -> PyErr {
    RecordUnreadable::new_err(e.to_string())
}

#[pymethods]
impl Ingress {
    #[new]
    #[pyo3(signature = (*, subject_prefix, reply_prefix, inbox, max_envelope, max_headers, max_header_bytes, max_parts, max_part_header_bytes, counters, rate_limits=true, rate_table=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        subject_prefix: String,
        reply_prefix: String,
        inbox: String,
        max_envelope: usize,
        max_headers: usize,
        max_header_bytes: usize,
        max_parts: usize,
        max_part_header_bytes: usize,
        counters: PyRef<'_, IngressCounters>,
        rate_limits: bool,
        rate_table: Option<PathBuf>,
    ) -> PyResult<Self> {
        let table = match (rate_limits, rate_table) {
            (false, _) => None,
            (true, Some(path)) => Some(
                Table::shared(&path, RATE_TABLE_SLOTS)
                    .map_err(|e| RateTableError::new_err(e.to_string()))?,
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
            inbox: inbox.into_bytes(),
            router: Router::default(),
            limiter: table.map(Limiter::new),
            counters: Arc::clone(&counters.inner),
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
    fn admit(&self, py: Python<'_>, method: &str, target: &str) -> PyResult<Option<Answer>> {
        ingest::admit(&self.router, self.limiter.as_ref(), method, target)
            .map(|decision| refusal(py, decision))
            .transpose()
    }

    /// Decide one trigger request; see `_core.pyi`.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (method, target, query, headers, body, token, traceparent=None))]
    fn ingest<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        target: &str,
        query: &str,
        headers: &Bound<'py, PyList>,
        body: &Bound<'py, PyBytes>,
        token: u64,
        traceparent: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
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
        match decision {
            Decision::Accepted(a) => {
                self.counters.customer(&a.customer);
                Ok(self.accepted(py, a, body, token, traceparent)?.into_any())
            }
            refused => Ok(Bound::new(py, refusal(py, refused)?)?.into_any()),
        }
    }
}

impl Ingress {
    /// The typed answer to an accepted request: its frame (with the ack token
    /// `token`, and the `traceparent` header when given), and the envelope
    /// itself when Python takes part.
    fn accepted<'py>(
        &self,
        py: Python<'py>,
        a: ingest::Accepted,
        body: &Bound<'py, PyBytes>,
        token: u64,
        traceparent: Option<String>,
    ) -> PyResult<Bound<'py, Accepted>> {
        let inline = if a.body_inline {
            body.as_bytes()
        } else {
            &[][..]
        };
        let mut head = Vec::with_capacity(a.subject.len() + self.inbox.len() + 192);
        frame_head_traced(
            &mut head,
            &a.subject,
            &self.inbox,
            token,
            Some(&a.execution_id),
            traceparent.as_deref(),
            a.envelope_head.len() + inline.len(),
        )
        .map_err(|e| NatsProtocolError::new_err(e.to_string()))?;
        let separate = inline.len() >= SEPARATE_BODY_BYTES;
        let frame = if separate {
            head.extend_from_slice(&a.envelope_head);
            PyBytes::new(py, &head)
        } else {
            let parts = [&head[..], &a.envelope_head, inline, b"\r\n"];
            let length = parts.iter().map(|p| p.len()).sum();
            PyBytes::new_with(py, length, |buffer| {
                let mut at = 0;
                for part in parts {
                    buffer[at..at + part.len()].copy_from_slice(part);
                    at += part.len();
                }
                Ok(())
            })?
        };
        let envelope = a.python.is_some().then(|| {
            PyBytes::new_with(py, a.envelope_head.len() + inline.len(), |buffer| {
                let (head_part, body_part) = buffer.split_at_mut(a.envelope_head.len());
                head_part.copy_from_slice(&a.envelope_head);
                body_part.copy_from_slice(inline);
                Ok(())
            })
        });
        let mut headers = vec![("content-type", String::from("application/json"))];
        headers.push((ingest::EXECUTION_ID_HEADER, a.execution_id.clone()));
        if let Some(limit) = &a.limit {
            rate_headers(&mut headers, limit);
        }
        Bound::new(
            py,
            Accepted {
                execution_id: PyString::new(py, &a.execution_id).unbind(),
                subject: PyString::new(py, &a.subject).unbind(),
                token,
                frame: frame.unbind(),
                body: separate.then(|| body.clone().unbind()),
                envelope: envelope.transpose()?.map(Bound::unbind),
                spill: a.body_in_object_store,
                synchronous: a.synchronous,
                python: a.python,
                dedup: a.dedup.map(|d| (d.key, d.window_secs)),
                headers: PyList::new(py, headers)?.unbind(),
                response: PyBytes::new(py, &a.response).unbind(),
                traceparent,
                customer: a.customer,
                integration: a.integration,
                flow: a.flow,
            },
        )
    }
}

/// The answer to a request that stores nothing: HEAD, a handshake, or a rejection with its code.
fn refusal(py: Python<'_>, decision: Decision) -> PyResult<Answer> {
    let mut headers = vec![("content-type", String::from("application/json"))];
    let (status, body) = match decision {
        Decision::Answer(answer) => return Answer::handshake(py, answer),
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
            (status, body)
        }
        Decision::Head | Decision::Accepted(_) => (200, Vec::new()),
    };
    Answer::new(py, status, headers, &body)
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

/// The shard of `customer`'s executions (`shards::shard`).
#[pyfunction]
fn execution_shard(customer: &str) -> u16 {
    shards::shard(customer)
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Ingress>()?;
    m.add_class::<Answer>()?;
    m.add_class::<Accepted>()?;
    m.add_function(wrap_pyfunction!(new_id, m)?)?;
    m.add_function(wrap_pyfunction!(api_key_digest, m)?)?;
    m.add_function(wrap_pyfunction!(execution_shard, m)?)?;
    m.add("EXECUTION_SHARDS", shards::SHARDS)?;
    m.add("ALLOW", ingest::ALLOW)?;
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    m.add("ERROR_CODES", codes)?;
    Ok(())
}
