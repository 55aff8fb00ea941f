//! `hookcore._core.NatsWire`: the protocol state of the publisher's NATS
//! connection (see `crate::nats_wire`); `hookcore.publisher` owns the socket.

use super::errors::NatsProtocolError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::nats_wire::{Event, Wire};

#[pyclass(module = "hookcore._core")]
pub struct NatsWire {
    wire: Wire,
    events: Vec<Event>,
}

/// `(kind, token, text)` of an event other than an ack; see `_core.pyi`.
type OtherEvent = (&'static str, u64, String);

/// `(token, stream sequence)` of an ack.
type Acked = (u64, u64);

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

    /// Parse bytes read from the server: `((token, stream sequence) of each ack, other events)`.
    fn feed(&mut self, data: &[u8]) -> PyResult<(Vec<Acked>, Vec<OtherEvent>)> {
        self.events.clear();
        self.wire
            .feed(data, &mut self.events)
            .map_err(|e| NatsProtocolError::new_err(e.to_string()))?;
        let mut acks = Vec::new();
        let mut others = Vec::new();
        for event in self.events.drain(..) {
            match event {
                Event::Ack(token, seq) => acks.push((token, seq)),
                Event::Nak(token, reason) => others.push(("nak", token, reason)),
                Event::Full(token, reason) => others.push(("full", token, reason)),
                Event::Conflict(token, reason) => others.push(("conflict", token, reason)),
                Event::Ping => others.push(("ping", 0, String::new())),
                Event::Pong => others.push(("pong", 0, String::new())),
                Event::Info(json) => others.push(("info", 0, json)),
                Event::Error(message) => others.push(("error", 0, message)),
            }
        }
        Ok((acks, others))
    }
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NatsWire>()
}
