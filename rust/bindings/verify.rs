//! `verify_signature` and `answer_handshake`: the signature engine
//! (`crate::verify`) callable from Python, for tests and benchmarks. The
//! ingress calls the engine in Rust, not through these.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::verify::{self, HandshakeSpec, VerifySpec};

/// Bodies from this size on are checked with the GIL released.
const DETACH_FROM: usize = 16 * 1024;

/// A refusal as Python sees it: `(code, message)`.
type Refusal = (&'static str, String);

/// An answer as Python sees it: `(status, content_type, body, headers)`.
type AnswerTuple = (u16, &'static str, Vec<u8>, Vec<(&'static str, String)>);

/// What `answer_handshake` returns when the request is a handshake.
#[derive(IntoPyObject)]
pub enum Handshake {
    Answer(AnswerTuple),
    Refused(Refusal),
}

fn bad_spec(what: &str, e: &serde_json::Error) -> PyErr {
    PyValueError::new_err(format!("malformed {what} spec: {e}"))
}

/// Check one request's signature: None when it verifies, else `(code, message)`.
#[pyfunction]
pub fn verify_signature(
    py: Python<'_>,
    spec: &[u8],
    secrets: Vec<String>,
    mut headers: Vec<(String, String)>,
    body: &Bound<'_, PyBytes>,
    now: u64,
) -> PyResult<Option<Refusal>> {
    let spec = VerifySpec::from_json(spec).map_err(|e| bad_spec("verify", &e))?;
    for (name, _) in &mut headers {
        name.make_ascii_lowercase();
    }
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let body = body.as_bytes();
    let check = || verify::verify(&spec, &secrets, &headers, body, now);
    let result = if body.len() >= DETACH_FROM {
        py.detach(check)
    } else {
        check()
    };
    Ok(result.err().map(|r| (r.code.as_str(), r.message)))
}

/// The answer to a handshake request: `(status, content_type, body, headers)`,
/// `(code, message)` when refused, None when the request is not one.
#[pyfunction]
pub fn answer_handshake(
    spec: &[u8],
    secrets: Vec<String>,
    method: &str,
    query: &str,
    body: &[u8],
) -> PyResult<Option<Handshake>> {
    let spec = HandshakeSpec::from_json(spec).map_err(|e| bad_spec("handshake", &e))?;
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    Ok(
        verify::respond(&spec, &secrets, method, query, body).map(|result| match result {
            Ok(a) => Handshake::Answer((a.status, a.content_type, a.body, a.headers)),
            Err(r) => Handshake::Refused((r.code.as_str(), r.message)),
        }),
    )
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(verify_signature, m)?)?;
    m.add_function(wrap_pyfunction!(answer_handshake, m)?)?;
    Ok(())
}
