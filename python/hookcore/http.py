"""Small helpers for answering over Granian's RSGI protocol."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Protocol

import msgspec

from hookcore.errors import BodyTooLarge, ErrorCode

JSON = "application/json"
JSON_HEADERS = [("content-type", JSON)]
# KEEP IN SYNC with `ERROR_CODE_HEADER` in rust/error_code.rs.
ERROR_CODE_HEADER = "hookcore-error-code"
EXECUTION_ID = "hookcore-execution-id"

_encoder = msgspec.json.Encoder()


class ErrorAnswer(msgspec.Struct):
    """The body of every error answer (with the ``hookcore-error-code`` header)."""

    error: str
    """What went wrong and what was expected, for a person."""


class Responder(Protocol):
    """The part of Granian's ``RSGIHTTPProtocol`` hookcore answers with."""

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None: ...

    def response_empty(self, status: int, headers: list[tuple[str, str]]) -> None: ...


def error_body(message: str) -> bytes:
    return _encoder.encode(ErrorAnswer(message))


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


async def read_body(proto: Any, content_length: str | None, limit: int) -> bytes:
    """The whole body; `BodyTooLarge` as soon as it is known to exceed ``limit``."""
    if content_length is not None:
        # The HTTP server has already rejected a Content-Length that is not a number.
        if int(content_length) > limit:
            raise BodyTooLarge(limit)
        body: bytes = await proto()
        return body
    chunks: list[bytes] = []
    size = 0
    async for chunk in proto:
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class BodyDeadlines:
    """Deadlines for reading request bodies, one timer for all of them.

    The handler calls `enter` before reading and `leave` after; a read still
    going when its deadline passes is cancelled, and `expired` then tells the
    handler it was the deadline (answer 408) rather than a shutdown. An
    ``asyncio.timeout`` per request costs ~13 µs on this project's machine (a
    timer armed and cancelled each time); here a read costs a dict entry, and
    one task sweeps the expired ones. Deadlines all have the same length, so
    the dict's insertion order is deadline order and the sweep stops at the
    first read still in time.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._reads: dict[int, tuple[float, asyncio.Task[Any]]] = {}
        self._expired: set[int] = set()
        self._tokens = itertools.count()
        self._sweeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._sweeper = asyncio.create_task(self._sweep())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)

    def enter(self) -> int:
        """Start the current task's deadline; the token is for `leave` and `expired`."""
        token = next(self._tokens)
        self._reads[token] = (self._loop.time() + self.seconds, asyncio.current_task())  # type: ignore[assignment]
        return token

    def leave(self, token: int) -> None:
        self._reads.pop(token, None)

    def expired(self, token: int) -> bool:
        """Whether the `CancelledError` the read raised came from its deadline (and is handled)."""
        if token not in self._expired:
            return False
        self._expired.discard(token)
        task = asyncio.current_task()
        return task is not None and task.uncancel() == 0

    async def _sweep(self) -> None:
        reads = self._reads
        while True:
            await asyncio.sleep(min(1.0, self.seconds / 4))
            now = self._loop.time()
            while reads:
                token, (deadline, task) = next(iter(reads.items()))
                if deadline > now:
                    break
                del reads[token]
                self._expired.add(token)
                task.cancel()
