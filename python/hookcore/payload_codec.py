"""Payloads to and from what is stored: built from an envelope and its body, and the
msgpack form in which a hook's rewritten payload travels in the envelope."""

from __future__ import annotations

from typing import Any

import msgspec

from hookcore.envelope import Envelope, from_micros
from hookcore.parsing import parse_body_noted, parse_query
from hookcore.payload import Body, InstanceLinks, Payload, RawBody


def build_payload(envelope: Envelope, body: bytes, links: InstanceLinks) -> tuple[Payload, str | None]:
    """The payload of ``envelope`` (whose body is ``body``) and a note when the body
    could not be read as its content type said. A payload ``on_trigger`` rewrote wins."""
    if envelope.payload is not None:
        return with_links(decode_payload(envelope.payload), links), None
    data, note = parse_body_noted(body, envelope.content_type, envelope.parts)
    payload = Payload(
        headers=envelope.headers,
        body=Body(data=data, content_type=envelope.content_type),
        raw_body=RawBody(data=body, content_type=envelope.content_type),
        path_fragment=envelope.path,
        query_parameters=parse_query(envelope.query),
        webhook_urls=links.webhook_urls,
        webhook_api_keys=links.webhook_api_keys,
        invoke_url=links.invoke_url,
        execution_id=envelope.id,
        customer=envelope.customer,
        instance=envelope.instance,
        flow=envelope.flow or "",
        received_at=from_micros(envelope.received_at),
    )
    return payload, note


_WIDE_INT = 1
"""msgpack extension code of an int beyond msgpack's 64 bits (JSON allows any):
its two's-complement bytes, little-endian."""
_MSGPACK_INTS = range(-(2**63), 2**64)


def _wide_int_ext(code: int, data: memoryview) -> Any:
    if code == _WIDE_INT:
        return int.from_bytes(data, "little", signed=True)
    return msgspec.msgpack.Ext(code, bytes(data))


_encoder = msgspec.msgpack.Encoder()
_payload_decoder = msgspec.msgpack.Decoder(Payload, ext_hook=_wide_int_ext)


def encode_payload(payload: Payload, secret_headers: frozenset[str] = frozenset()) -> bytes:
    """The payload as stored in the executions stream (msgpack), without secrets.

    The instance-derived fields (``webhook_urls``, ``webhook_api_keys``, ``invoke_url``)
    are left empty: the API keys must never be stored, and all three are derived again
    from the instance when the payload is read (`build_payload`). Headers named in
    ``secret_headers`` (lower case; the ``Api-Key`` hookcore checked) are dropped.
    """
    headers = payload.headers
    if secret_headers and isinstance(headers, dict):
        headers = {k: v for k, v in headers.items() if str(k).lower() not in secret_headers}
    stored = msgspec.structs.replace(
        payload, headers=headers, webhook_urls={}, webhook_api_keys={}, invoke_url=None
    )
    try:
        return _encoder.encode(stored)
    except OverflowError:  # an int beyond msgpack's 64 bits (a JSON body's big integer): kept exact
        return _encoder.encode(_widen(stored))


def _widen(value: Any) -> Any:
    """``value`` with every int msgpack cannot hold as a `_WIDE_INT` extension; walks
    what a payload is made of (dict values, lists, tuples, structs such as `Part`)."""
    kind = type(value)
    if kind is int:
        if value in _MSGPACK_INTS:
            return value
        wide = value.to_bytes(value.bit_length() // 8 + 1, "little", signed=True)
        return msgspec.msgpack.Ext(_WIDE_INT, wide)
    if kind is dict:
        return {k: _widen(v) for k, v in value.items()}  # JSON keys are str (an Ext is unhashable)
    if kind is list or kind is tuple:
        return [_widen(v) for v in value]
    if isinstance(value, msgspec.Struct):
        fields = {name: _widen(getattr(value, name)) for name in value.__struct_fields__}
        return msgspec.structs.replace(value, **fields)
    return value


def decode_payload(data: bytes) -> Payload:
    """A stored payload as it was stored: the instance-derived fields empty (see `with_links`)."""
    return _payload_decoder.decode(data)


def with_links(payload: Payload, links: InstanceLinks) -> Payload:
    """``payload`` with its instance's URLs and API keys, derived now rather than stored."""
    return msgspec.structs.replace(
        payload,
        webhook_urls=links.webhook_urls,
        webhook_api_keys=links.webhook_api_keys,
        invoke_url=links.invoke_url,
    )
