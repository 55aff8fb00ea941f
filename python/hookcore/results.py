"""Turning a flow's return value into stored bytes with a content type."""

from __future__ import annotations

from typing import Any

import msgspec

from hookcore.integration import HttpResponse

_encoder = msgspec.json.Encoder()


class ResultError(TypeError):
    """The flow returned something hookcore cannot store as its result."""


def encode_result(value: Any) -> tuple[bytes, str]:
    """bytes -> octet-stream, str -> text/plain, HttpResponse -> its own type, else JSON."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value), "application/octet-stream"
    if isinstance(value, str):
        return value.encode(), "text/plain; charset=utf-8"
    if isinstance(value, HttpResponse):
        body = value.body.encode() if isinstance(value.body, str) else value.body
        return body, value.content_type
    try:
        return _encoder.encode(value), "application/json"
    except (TypeError, msgspec.EncodeError) as e:
        raise ResultError(
            f"the flow returned a {type(value).__name__} that cannot be stored as JSON ({e}); "
            "return JSON-compatible data, str, bytes or an HttpResponse"
        ) from e
