"""The JetStream publisher: its own NATS connection, spoken through `_core.NatsWire`.

Every accepted request is published here and answered only after JetStream's
acknowledgement, so this is the ingress's hot path. nats-py, which hookcore
uses for everything else, parses each ack in Python and hands it to a
callback through a queue; here the event loop's protocol callback gives the
bytes read to Rust, which returns the acknowledged tokens, and each publish
is one write of a frame made in Rust. (Writing at once beat gathering a loop
iteration's publishes into one write: the ingress waits on acks, so latency
counts more than system calls.)

Each publish names its own reply subject (`{inbox}{token}`) under one
wildcard subscription, so concurrent requests share the connection without
waiting for each other's ack. The connection comes back by itself, to the
next server of the list (or one the cluster announced). While it is down,
publishes fail at once with `QueueUnavailable`, and so do those whose ack was
outstanding when it dropped: the caller answers 503 and the sender retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from hookcore import __version__, _core
from hookcore.errors import QueueUnavailable, WriteConflict

log = logging.getLogger("hookcore.publisher")

CONNECT_TIMEOUT = 5.0
RECONNECT_WAIT = 0.25
PING_INTERVAL = 30.0
# Unanswered pings before the connection counts as dead and is replaced.
MAX_PINGS_OUT = 2
# How a refusal of Nats-Expected-Last-Subject-Sequence ends (JetStream's err_code 10071).
# KEEP IN SYNC with ack_error in rust/nats_wire.rs, which writes "{description} (code {err_code})".
WRONG_LAST_SEQUENCE = "(code 10071)"


@dataclass(frozen=True)
class Server:
    """One NATS server address, as in ``HOOKCORE_NATS_URL``."""

    host: str
    port: int
    tls: bool = False
    auth: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, url: str) -> Server:
        """``nats://[user:password@ | token@]host[:port]``, ``tls://…`` or ``host[:port]``."""
        parts = urlsplit(url if "://" in url else f"nats://{url}")
        if parts.scheme not in ("nats", "tls") or not parts.hostname:
            raise ValueError(f"not a NATS server URL: {url!r} (expected nats://host:port)")
        auth: dict[str, str] = {}
        if parts.username and parts.password is not None:
            auth = {"user": unquote(parts.username), "pass": unquote(parts.password)}
        elif parts.username:
            auth = {"auth_token": unquote(parts.username)}
        return cls(parts.hostname, parts.port or 4222, parts.scheme == "tls", auth)

    def __str__(self) -> str:
        return f"{'tls' if self.tls else 'nats'}://{self.host}:{self.port}"


class Publisher:
    """Publishes to JetStream with many acknowledgements outstanding at once."""

    def __init__(self, nats_url: str, timeout: float, name: str) -> None:
        self._servers = [Server.parse(s.strip()) for s in nats_url.split(",") if s.strip()]
        if not self._servers:
            raise ValueError("no NATS server URL given")
        self._timeout = timeout
        self._name = name
        self._inbox = f"_INBOX.{secrets.token_hex(11)}."
        # token -> (deadline, future of the stream sequence); tokens increase, so the oldest come first.
        self._pending: dict[int, tuple[float, asyncio.Future[int]]] = {}
        self._tokens = itertools.count()
        self._connection: _Connection | None = None
        self._next_server = 0
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Connect; raises `QueueUnavailable` when no server answers."""
        self._loop = asyncio.get_running_loop()
        self._connection = await self._connect_any()
        self._spawn(self._sweep())

    async def stop(self) -> None:
        """Stop reconnecting and drop the connection; publishes still waiting fail.

        Unsent frames are dropped rather than flushed: their callers are told
        they failed, so none of them may be stored behind their back.
        """
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        connection = self._connection
        if connection is not None:
            connection.abort()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(connection.closed), CONNECT_TIMEOUT)

    @property
    def connected(self) -> bool:
        """Whether publishes can be sent now (else they fail at once while it reconnects)."""
        return self._connection is not None

    async def publish(self, subject: str, payload: bytes, headers: bytes | None = None) -> int:
        """Publish and wait for JetStream's ack: the message's sequence in its stream.

        ``headers`` is a NATS header block (``NATS/1.0\\r\\n``, lines, ``\\r\\n``).
        Raises `QueueUnavailable` when the message was not stored, `WriteConflict`
        when a ``Nats-Expected-Last-Subject-Sequence`` header did not hold.
        """
        connection = self._connection
        if connection is None:
            raise QueueUnavailable("not connected to NATS")
        loop = self._loop
        token = next(self._tokens)
        future: asyncio.Future[int] = loop.create_future()
        self._pending[token] = (loop.time() + self._timeout, future)
        try:
            connection.publish(subject, token, payload, headers)
            return await future
        finally:
            self._pending.pop(token, None)

    def _settle(self, token: int, seq: int, error: str | None) -> None:
        entry = self._pending.get(token)
        if entry is None or entry[1].done():
            return
        if error is None:
            entry[1].set_result(seq)
        elif error.endswith(WRONG_LAST_SEQUENCE):
            entry[1].set_exception(WriteConflict(error))
        else:
            entry[1].set_exception(QueueUnavailable(error))

    def _lost(self, connection: _Connection, reason: str) -> None:
        if connection is not self._connection:
            return  # a connection that never finished its handshake
        self._connection = None
        for _, future in self._pending.values():
            if not future.done():
                future.set_exception(QueueUnavailable(f"lost the connection to NATS ({reason})"))
        if not self._stopping:
            log.warning("publisher lost its NATS connection (%s); reconnecting", reason)
            self._spawn(self._reconnect())

    async def _reconnect(self) -> None:
        while not self._stopping:
            try:
                self._connection = await self._connect_any()
            except Exception as e:  # whatever went wrong, try again: triggers get 503 meanwhile
                log.debug("%s", e)
                await asyncio.sleep(RECONNECT_WAIT)
            else:
                log.warning("publisher reconnected to NATS at %s", self._connection.server)
                return

    async def _connect_any(self) -> _Connection:
        """The first server of the list (from the one after the last used) that accepts us."""
        errors = []
        count = len(self._servers)
        for i in range(count):
            server = self._servers[(self._next_server + i) % count]
            try:
                connection = await self._open(server)
            except (OSError, TimeoutError, QueueUnavailable, ValueError) as e:
                errors.append(f"{server}: {e or type(e).__name__}")
                continue
            self._next_server = (self._next_server + i + 1) % count
            return connection
        raise QueueUnavailable(f"cannot connect to NATS ({'; '.join(errors)})")

    async def _open(self, server: Server) -> _Connection:
        """Connect to `server`, say who we are, check it accepts us, and subscribe to the acks."""
        loop = self._loop
        wire = _core.NatsWire(self._inbox)
        transport, connection = await asyncio.wait_for(
            loop.create_connection(lambda: _Connection(self, wire, server), server.host, server.port),
            CONNECT_TIMEOUT,
        )
        try:
            info = await asyncio.wait_for(asyncio.shield(connection.info), CONNECT_TIMEOUT)
            tls = server.tls or bool(info.get("tls_required"))
            if tls:
                upgraded = await loop.start_tls(
                    transport, connection, ssl.create_default_context(), server_hostname=server.host
                )
                if upgraded is None:
                    raise QueueUnavailable("the TLS handshake with NATS failed")
                connection.transport = upgraded  # type: ignore[assignment]
            options: dict[str, Any] = {
                "verbose": False,
                "pedantic": False,
                "tls_required": tls,
                "name": self._name,
                "lang": "python",
                "version": __version__,
                "protocol": 1,
                "headers": True,
                "no_responders": True,
                **server.auth,
            }
            connection.pong = loop.create_future()
            connection.send(b"CONNECT " + json.dumps(options).encode() + b"\r\nPING\r\n")
            await asyncio.wait_for(asyncio.shield(connection.pong), CONNECT_TIMEOUT)
            connection.send(f"SUB {self._inbox}* 1\r\n".encode())
        except BaseException:
            connection.abort()
            raise
        self._learn(info)
        connection.on_info = self._learn
        return connection

    def _learn(self, info: dict[str, Any]) -> None:
        """Add the servers a cluster announces (``connect_urls``) to those to try."""
        for url in info.get("connect_urls") or ():
            try:
                server = Server.parse(url)
            except ValueError:
                continue
            if server not in self._servers:
                first = self._servers[0]  # announced addresses carry no scheme or credentials
                self._servers.append(Server(server.host, server.port, first.tls, first.auth))

    async def _sweep(self) -> None:
        """Fail publishes whose ack is overdue, and ping the server now and then:
        one timer for all, instead of one per publish."""
        loop = self._loop
        next_ping = loop.time() + PING_INTERVAL
        while True:
            await asyncio.sleep(min(0.1, self._timeout / 4))
            now = loop.time()
            for token, (deadline, future) in list(self._pending.items()):
                if deadline > now:
                    break
                del self._pending[token]
                if not future.done():
                    future.set_exception(QueueUnavailable(f"no acknowledgement within {self._timeout:g}s"))
            connection = self._connection
            if connection is not None and now >= next_ping:
                next_ping = now + PING_INTERVAL
                if connection.pings_out >= MAX_PINGS_OUT:
                    connection.abort()  # half-open: connection_lost brings a new one
                else:
                    connection.pings_out += 1
                    connection.send(b"PING\r\n")

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Connection(asyncio.Protocol):
    """One NATS connection of a `Publisher`: the socket's callbacks."""

    def __init__(self, publisher: Publisher, wire: _core.NatsWire, server: Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.info: asyncio.Future[dict[str, Any]] = publisher._loop.create_future()
        self.pong: asyncio.Future[None] | None = None
        self.closed: asyncio.Future[None] = publisher._loop.create_future()
        self.on_info: Callable[[dict[str, Any]], None] | None = None
        self.pings_out = 0
        self._publisher = publisher
        self._wire = wire

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def publish(self, subject: str, token: int, payload: bytes, headers: bytes | None = None) -> None:
        transport = self.transport
        # A closing transport is followed by connection_lost, which fails what is pending.
        if transport is not None and not transport.is_closing():
            transport.write(self._wire.publish(subject, token, payload, headers))

    def send(self, command: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(command)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Close at once, dropping unsent bytes: a silent peer would never take them."""
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        try:
            acks, events = self._wire.feed(data)
        except ValueError as e:
            log.warning("closing the publisher's NATS connection: %s", e)
            self.close()
            return
        settle = self._publisher._settle
        for token, seq in acks:
            settle(token, seq, None)
        for kind, token, text in events:
            self._event(kind, token, text)

    def _event(self, kind: str, token: int, text: str) -> None:
        if kind == "nak":
            self._publisher._settle(token, 0, text)
        elif kind == "ping":
            self.send(b"PONG\r\n")
        elif kind == "pong":
            self.pings_out = 0
            if self.pong is not None and not self.pong.done():
                self.pong.set_result(None)
        elif kind == "info":
            info = json.loads(text)
            if not self.info.done():
                self.info.set_result(info)
            elif self.on_info is not None:
                self.on_info(info)
        elif kind == "error":
            log.warning("NATS said to the publisher: %s", text)
            if self.pong is not None and not self.pong.done():
                self.pong.set_exception(QueueUnavailable(f"NATS refused the connection: {text}"))

    def connection_lost(self, exc: Exception | None) -> None:
        reason = str(exc) if exc else "closed"
        for waiter in (self.info, self.pong):
            if waiter is not None and not waiter.done():
                waiter.set_exception(QueueUnavailable(f"NATS closed the connection ({reason})"))
                waiter.exception()  # a handshake that timed out no longer awaits it: no log line
        self.closed.set_result(None)
        self._publisher._lost(self, reason)
