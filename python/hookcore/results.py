"""Turning a flow's return value into stored bytes with a content type."""

from __future__ import annotations

import inspect
from typing import Any

import msgspec

from hookcore.errors import ResultError
from hookcore.integration import HttpResponse

_encoder = msgspec.json.Encoder()


def encode_result(value: Any) -> tuple[bytes, str]:
    """bytes -> octet-stream, str -> text/plain, HttpResponse -> its own type, else JSON.

    `ResultError` (the flow's fault: its run fails, an attempt) for anything else.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value), "application/octet-stream"
    if isinstance(value, str):
        return value.encode(), "text/plain; charset=utf-8"
    if isinstance(value, HttpResponse):
        return _response(value)
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()  # no "never awaited" warning: the error says so
        raise ResultError(
            f"the flow returned a {type(value).__name__} instead of a value: await it "
            "(an async step is `await ctx.step(...)`)"
        )
    try:
        return _encoder.encode(value), "application/json"
    except Exception as e:  # TypeError, msgspec.EncodeError, RecursionError for a cycle, …
        raise ResultError(
            f"the flow returned a {type(value).__name__} that cannot be stored as JSON "
            f"({type(e).__name__}: {e}); return JSON-compatible data, str, bytes or an HttpResponse"
        ) from e


def _response(value: HttpResponse) -> tuple[bytes, str]:
    if not isinstance(value.content_type, str):
        raise ResultError(
            f"the flow returned an HttpResponse whose content_type is a {type(value.content_type).__name__}; "
            "it must be a str"
        )
    if isinstance(value.body, str):
        return value.body.encode(), value.content_type
    if isinstance(value.body, bytes | bytearray | memoryview):
        return bytes(value.body), value.content_type
    raise ResultError(
        f"the flow returned an HttpResponse whose body is a {type(value.body).__name__}; "
        "it must be str or bytes"
    )
