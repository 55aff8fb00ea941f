//! `hookcore._core.NatsWire`: the protocol state of the publisher's NATS
//! connection (see `crate::nats_wire`); `hookcore.publisher` owns the socket.

use super::errors::NatsProtocolError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use pyo3::IntoPyObjectExt;

use super::repr_fields;
use crate::nats_wire::{Event, Wire};

#[pyclass(module = "hookcore._core")]
pub struct NatsWire {
    wire: Wire,
    events: Vec<Event>,
}

/// What one `NatsWire.feed` read: the acks, and whatever else the server said.
#[pyclass(frozen, module = "hookcore._core")]
pub struct Received {
    /// `(token, stream sequence)` of each ack, a list.
    #[pyo3(get)]
    acks: Py<PyList>,
    /// The other events, in order: `NotStored`, `Ping`, `Pong`, `ServerInfo`, `ServerErr`.
    #[pyo3(get)]
    events: Py<PyList>,
}

#[pymethods]
impl Received {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_fields(
            "Received",
            &[
                ("acks", self.acks.bind(py).clone().into_any()),
                ("events", self.events.bind(py).clone().into_any()),
            ],
        )
    }
}

/// JetStream did not store a publish: `kind` is `nak`, `full` (no room) or
/// `conflict` (an expected last subject sequence did not hold).
#[pyclass(frozen, module = "hookcore._core")]
pub struct NotStored {
    #[pyo3(get)]
    token: u64,
    kind: &'static str,
    #[pyo3(get)]
    reason: String,
}

impl NotStored {
    fn new(token: u64, kind: &'static str, reason: String) -> Self {
        NotStored {
            token,
            kind,
            reason,
        }
    }
}

#[pymethods]
impl NotStored {
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_fields(
            "NotStored",
            &[
                ("token", self.token.into_bound_py_any(py)?),
                ("kind", self.kind.into_bound_py_any(py)?),
                ("reason", self.reason.as_str().into_bound_py_any(py)?),
            ],
        )
    }
}

/// The server asks whether the connection is alive: answer `PONG`.
#[pyclass(frozen, module = "hookcore._core")]
pub struct Ping;

#[pymethods]
impl Ping {
    fn __repr__(&self) -> &'static str {
        "Ping()"
    }
}

/// The server's answer to a `PING`.
#[pyclass(frozen, module = "hookcore._core")]
pub struct Pong;

#[pymethods]
impl Pong {
    fn __repr__(&self) -> &'static str {
        "Pong()"
    }
}

/// The server's `INFO` (JSON text): at connect time and when its cluster changes.
#[pyclass(frozen, module = "hookcore._core")]
pub struct ServerInfo {
    #[pyo3(get)]
    json: String,
}

#[pymethods]
impl ServerInfo {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_fields(
            "ServerInfo",
            &[("json", self.json.as_str().into_bound_py_any(py)?)],
        )
    }
}

/// The server's `-ERR`; it usually closes the connection after one.
#[pyclass(frozen, module = "hookcore._core")]
pub struct ServerErr {
    #[pyo3(get)]
    message: String,
}

#[pymethods]
impl ServerErr {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_fields(
            "ServerErr",
            &[("message", self.message.as_str().into_bound_py_any(py)?)],
        )
    }
}

#[pymethods]
impl NatsWire {
    #[new]
    fn new(inbox: &str) -> Self {
        NatsWire {
            wire: Wire::new(inbox),
            events: Vec::new(),
        }
    }

    /// The `PUB` frame of `payload` to `subject`, replying to the inbox and
    /// `token`; an `HPUB` frame with a `Nats-Msg-Id` header when `msg_id` is
    /// given (and a `traceparent` header when `traceparent` is given), or with
    /// the header block `headers` (not both).
    #[pyo3(signature = (subject, token, payload, msg_id=None, headers=None, traceparent=None))]
    #[allow(clippy::too_many_arguments)]
    fn publish<'py>(
        &self,
        py: Python<'py>,
        subject: &str,
        token: u64,
        payload: &[u8],
        msg_id: Option<&str>,
        headers: Option<&[u8]>,
        traceparent: Option<&str>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let frame = match (msg_id, headers) {
            (_, None) => self
                .wire
                .publish_traced(subject, token, payload, msg_id, traceparent)
                .map_err(|e| NatsProtocolError::new_err(e.to_string()))?,
            (Some(_), Some(_)) => {
                return Err(NatsProtocolError::new_err(
                    "give msg_id or a header block, not both",
                ))
            }
            (None, Some(_)) if traceparent.is_some() => {
                return Err(NatsProtocolError::new_err(
                    "give traceparent or a header block, not both",
                ))
            }
            // A malformed block would make the server close the connection every publish shares.
            (None, Some(h)) if !(h.starts_with(b"NATS/1.0\r\n") && h.ends_with(b"\r\n\r\n")) => {
                return Err(NatsProtocolError::new_err(
                    "headers must be a NATS header block: NATS/1.0\\r\\n, lines, \\r\\n",
                ))
            }
            (None, Some(h)) => self.wire.publish_with_headers(subject, token, h, payload),
        };
        Ok(PyBytes::new(py, &frame))
    }

    /// The head of the frame `publish` would make for a `payload_len`-byte
    /// payload: the caller writes the payload from its own buffer, then CRLF.
    #[pyo3(signature = (subject, token, payload_len, msg_id=None))]
    fn publish_head<'py>(
        &self,
        py: Python<'py>,
        subject: &str,
        token: u64,
        payload_len: usize,
        msg_id: Option<&str>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let head = self
            .wire
            .publish_head(subject, token, payload_len, msg_id)
            .map_err(|e| NatsProtocolError::new_err(e.to_string()))?;
        Ok(PyBytes::new(py, &head))
    }

    /// Parse bytes read from the server into what they said; see `_core.pyi`.
    fn feed(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<Received> {
        self.events.clear();
        self.wire
            .feed(data, &mut self.events)
            .map_err(|e| NatsProtocolError::new_err(e.to_string()))?;
        let acks = PyList::empty(py);
        let others = PyList::empty(py);
        for event in self.events.drain(..) {
            match event {
                Event::Ack(token, seq) => acks.append((token, seq))?,
                Event::Nak(token, reason) => others.append(NotStored::new(token, "nak", reason))?,
                Event::Full(token, reason) => {
                    others.append(NotStored::new(token, "full", reason))?;
                }
                Event::Conflict(token, reason) => {
                    others.append(NotStored::new(token, "conflict", reason))?;
                }
                Event::Ping => others.append(Ping)?,
                Event::Pong => others.append(Pong)?,
                Event::Info(json) => others.append(ServerInfo { json })?,
                Event::Error(message) => others.append(ServerErr { message })?,
            }
        }
        Ok(Received {
            acks: acks.unbind(),
            events: others.unbind(),
        })
    }
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NatsWire>()?;
    m.add_class::<Received>()?;
    m.add_class::<NotStored>()?;
    m.add_class::<Ping>()?;
    m.add_class::<Pong>()?;
    m.add_class::<ServerInfo>()?;
    m.add_class::<ServerErr>()
}
