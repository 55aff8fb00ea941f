//! `verify_signature` and `answer_handshake`: the signature engine
//! (`crate::verify`) callable from Python, for tests and benchmarks. The
//! ingress calls the engine in Rust, not through these.

use std::cell::RefCell;
use std::sync::Arc;

use super::errors::RecordUnreadable;
use super::ingress::Answer;
use super::repr_fields;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::IntoPyObjectExt;

use crate::verify::{self, HandshakeSpec, VerifySpec};

/// Bodies from this size on are checked with the GIL released.
const DETACH_FROM: usize = 16 * 1024;

/// Why a request was refused: a `hookcore-error-code` and the message answered.
#[pyclass(frozen, module = "hookcore._core")]
pub struct Rejection {
    code: &'static str,
    #[pyo3(get)]
    message: String,
}

#[pymethods]
impl Rejection {
    #[getter]
    fn code(&self) -> &'static str {
        self.code
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_fields(
            "Rejection",
            &[
                ("code", self.code.into_bound_py_any(py)?),
                ("message", self.message.as_str().into_bound_py_any(py)?),
            ],
        )
    }
}

impl From<verify::Rejection> for Rejection {
    fn from(r: verify::Rejection) -> Self {
        Rejection {
            code: r.code.as_str(),
            message: r.message,
        }
    }
}

/// What `answer_handshake` returns when the request is a handshake.
#[derive(IntoPyObject)]
pub enum Handshake {
    Answer(Answer),
    Refused(Rejection),
}

fn bad_spec(what: &str, e: &serde_json::Error) -> PyErr {
    RecordUnreadable::new_err(format!("malformed {what} spec: {e}"))
}

/// A spec's JSON and the spec parsed from it.
type ParsedSpec = (Box<[u8]>, Arc<VerifySpec>);

thread_local! {
    /// The spec parsed last on this thread, with its JSON: callers check many
    /// requests under one spec, and parsing it again would cost more than
    /// checking a small request.
    static LAST_SPEC: RefCell<Option<ParsedSpec>> = const { RefCell::new(None) };
}

fn verify_spec(json: &[u8]) -> PyResult<Arc<VerifySpec>> {
    LAST_SPEC.with_borrow_mut(|last| {
        if let Some((cached, spec)) = last.as_ref() {
            if **cached == *json {
                return Ok(Arc::clone(spec));
            }
        }
        let spec = Arc::new(VerifySpec::from_json(json).map_err(|e| bad_spec("verify", &e))?);
        *last = Some((json.into(), Arc::clone(&spec)));
        Ok(spec)
    })
}

/// Check one request's signature: None when it verifies, else why not.
#[pyfunction]
pub fn verify_signature(
    py: Python<'_>,
    spec: &[u8],
    secrets: Vec<String>,
    headers: Vec<(String, String)>,
    body: &Bound<'_, PyBytes>,
    now: u64,
) -> PyResult<Option<Rejection>> {
    let spec = verify_spec(spec)?;
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let body = body.as_bytes();
    let check = || verify::verify(&spec, &secrets, &headers, body, now);
    let result = if body.len() >= DETACH_FROM {
        py.detach(check)
    } else {
        check()
    };
    Ok(result.err().map(Rejection::from))
}

/// The answer to a handshake request, the refusal when refused, None when
/// the request is not one.
#[pyfunction]
pub fn answer_handshake(
    py: Python<'_>,
    spec: &[u8],
    secrets: Vec<String>,
    method: &str,
    query: &str,
    body: &[u8],
) -> PyResult<Option<Handshake>> {
    let spec = HandshakeSpec::from_json(spec).map_err(|e| bad_spec("handshake", &e))?;
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    verify::respond(&spec, &secrets, method, query, body)
        .map(|result| match result {
            Ok(answer) => Answer::handshake(py, answer).map(Handshake::Answer),
            Err(r) => Ok(Handshake::Refused(r.into())),
        })
        .transpose()
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(verify_signature, m)?)?;
    m.add_function(wrap_pyfunction!(answer_handshake, m)?)?;
    m.add_class::<Rejection>()
}
