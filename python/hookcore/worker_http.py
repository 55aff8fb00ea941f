"""A worker's own HTTP port (HOOKCORE_WORKER_PORT): ``GET /metrics`` and ``GET /healthz``.

Two read-only routes for a scraper and a liveness probe, so a small asyncio
server: one request per connection, answered and closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from hookcore.errors import ConfigError, ErrorCode
from hookcore.http import ERROR_CODE_HEADER, JSON
from hookcore.metrics import CONTENT_TYPE, WorkerMetrics

log = logging.getLogger("hookcore.worker")

MAX_REQUEST_HEAD = 16 * 1024
READ_TIMEOUT = 10.0


class WorkerHttp:
    """Serves a worker's metrics, and its health: 200 while its NATS connection is up, else 503."""

    def __init__(self, metrics: WorkerMetrics, connected: Callable[[], bool]) -> None:
        self._metrics = metrics
        self._connected = connected
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, host, port, limit=MAX_REQUEST_HEAD)
        except OSError as e:
            raise ConfigError(
                f"cannot serve the worker's metrics on {host}:{port} ({e.strerror or e}): set "
                "HOOKCORE_WORKER_PORT to a free port (each worker of a machine needs its own), or 0"
            ) from e
        log.info("worker metrics and health on http://%s:%d/metrics and /healthz", host, port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            method, _, rest = head.partition(b" ")
            target = rest.partition(b" ")[0].partition(b"?")[0]
            status, headers, body = self._answer(method, target)
            headers += [("content-length", str(len(body))), ("connection", "close")]
            lines = "".join(f"{name}: {value}\r\n" for name, value in headers)
            writer.write(f"HTTP/1.1 {status}\r\n{lines}\r\n".encode() + (b"" if method == b"HEAD" else body))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # a client that sent no whole request, or left: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _answer(self, method: bytes, target: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
        if method not in (b"GET", b"HEAD"):
            return _error(
                "405 Method Not Allowed", ErrorCode.METHOD_NOT_ALLOWED, "Only GET and HEAD are served here."
            )
        if target == b"/metrics":
            return "200 OK", [("content-type", CONTENT_TYPE)], self._metrics.render()
        if target == b"/healthz":
            if self._connected():
                return "200 OK", [("content-type", JSON)], b'{"status":"ok"}'
            status, headers, _ = _error("503 Service Unavailable", ErrorCode.QUEUE_UNAVAILABLE, "")
            down = "The worker's NATS connection is down; it is reconnecting."
            return status, headers, json.dumps({"status": "unavailable", "error": down}).encode()
        return _error("404 Not Found", ErrorCode.NOT_FOUND, "A worker serves /metrics and /healthz only.")


def _error(status: str, code: ErrorCode, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    headers = [("content-type", JSON), (ERROR_CODE_HEADER, str(code))]
    return status, headers, json.dumps({"error": message}).encode()
