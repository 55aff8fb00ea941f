"""Small helpers for answering over Granian's RSGI protocol."""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from hookcore.errors import ErrorCode

JSON = "application/json"
JSON_HEADERS = [("content-type", JSON)]
# KEEP IN SYNC with `ERROR_CODE_HEADER` in rust/error_code.rs.
ERROR_CODE_HEADER = "hookcore-error-code"

_encoder = msgspec.json.Encoder()


class Responder(Protocol):
    """The part of Granian's ``RSGIHTTPProtocol`` hookcore answers with."""

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None: ...

    def response_empty(self, status: int, headers: list[tuple[str, str]]) -> None: ...


def error_body(message: str) -> bytes:
    return _encoder.encode({"error": message})


def send_json(
    proto: Responder, status: int, value: Any, headers: list[tuple[str, str]] | None = None
) -> None:
    proto.response_bytes(status, [*JSON_HEADERS, *(headers or ())], _encoder.encode(value))


def send_error(
    proto: Responder,
    status: int,
    message: str,
    headers: list[tuple[str, str]] | None = None,
    *,
    code: ErrorCode,
) -> None:
    """Answer ``status`` with ``{"error": message}`` and the ``hookcore-error-code`` header."""
    proto.response_bytes(
        status, [*JSON_HEADERS, (ERROR_CODE_HEADER, code), *(headers or ())], error_body(message)
    )


class BodyTooLarge(Exception):
    """The body is over its limit (HTTP 413, `ErrorCode.BODY_TOO_LARGE`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body is larger than the limit of {limit} bytes.")


async def read_body(proto: Any, content_length: str | None, limit: int) -> bytes:
    """The whole body; `BodyTooLarge` as soon as it is known to exceed ``limit``."""
    if content_length is not None:
        # The HTTP server has already rejected a Content-Length that is not a number.
        if int(content_length) > limit:
            raise BodyTooLarge(limit)
        return await proto()
    chunks: list[bytes] = []
    size = 0
    async for chunk in proto:
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
