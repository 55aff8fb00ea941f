"""The envelope: what the ingress publishes for one accepted request.

The ingress never builds it in Python: ``_core.Ingress.ingest`` returns the
msgpack bytes. KEEP IN SYNC with ``rust/envelope.rs`` (field names and order).
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec


class Envelope(msgspec.Struct, rename="camel", frozen=True):
    """One accepted trigger request, exactly as received."""

    id: str
    """Execution id (UUIDv7)."""
    received_at: int
    """Microseconds since the Unix epoch when the ingress accepted the request."""
    endpoint: str
    integration: str
    instance: str
    flow: str | None
    """None until a Python ``preprocess`` function has picked it (the ingress then sets it)."""
    customer: str
    reply: str | None
    """Where the worker announces the end of a synchronous execution."""
    method: str
    path: str
    """Path fragment after ``/trigger/{endpoint_id}/``, percent-decoded, no leading slash."""
    query: str
    """Raw query string."""
    headers: dict[str, str]
    """Lower-cased names; repeated headers joined with ``", "``."""
    content_type: str | None
    body_in_object_store: bool
    parts: list[tuple[str, str | None, str | None, int, int]] | None
    """Multipart index found by the ingress: (name, filename, content type, start, end)."""
    body: bytes | None
    """The body, or None when it is in the object store (``body_in_object_store``). Last:
    the ingress sends it from the buffer it arrived in, after the rest."""
    payload: bytes | None = None
    """A payload rewritten by ``on_trigger`` (msgpack of `hookcore.Payload`), used as is."""
    replay_of: str | None = None
    """The execution this one replays (`hookcore.executions.Executions.replay` sets it; the
    Rust core never writes it)."""


_decoder = msgspec.msgpack.Decoder(Envelope)
encode_envelope = msgspec.msgpack.Encoder().encode


def decode_envelope(data: bytes) -> Envelope:
    """Decode envelope bytes; raises ``msgspec.DecodeError`` naming the bad field."""
    return _decoder.decode(data)


def from_micros(micros: int) -> datetime:
    """An aware UTC datetime from microseconds since the epoch (``Envelope.received_at``)."""
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)
