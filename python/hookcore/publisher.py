"""The JetStream publisher: its own NATS connection, spoken through `_core.NatsWire`.

Every accepted request is published here and answered only after JetStream's
acknowledgement, so this is the ingress's hot path. nats-py, which hookcore
uses for everything else, parses each ack in Python and hands it to a
callback through a queue; here the event loop's protocol callback gives the
bytes read to Rust, which returns the acknowledged tokens, and each publish
is one write of a frame made in Rust: an accepted request's by
`_core.Ingress.ingest` itself, in the call that decided it (`send`), others
by `_core.NatsWire` (`publish`). (Writing at once beat gathering a loop
iteration's publishes into one write: the ingress waits on acks, so latency
counts more than system calls.)

Each publish names its own reply subject (`{inbox}{token}`) under one
wildcard subscription, so concurrent requests share the connection without
waiting for each other's ack.

Faults, and what a caller sees (`QueueUnavailable.maybe_stored` says whether
the frame had left):

- A silent server (SIGSTOPped, a dead host behind a live route): once an ack
  is overdue by a quarter of the publish timeout (at most 1 s) the publisher
  pings, and if no PONG comes as long again it drops the connection and
  connects to the next server. Publishes with a message id (envelopes: the
  execution id) are sent again there: JetStream stores one message per id
  within the stream's duplicate window, so a frame that did reach the old
  server is not stored twice. Others fail ("may not have been stored").
- A connection that drops: the same, at once.
- A server that does not read: more than ``max_buffer`` bytes waiting to be
  sent fail new publishes at once, before anything is written.
- Lame duck mode (an ``INFO`` with ``ldm``, a server about to shut down):
  the publisher connects to another server and publishes there; the old
  connection stays until the acks of what was sent on it arrive.
- No ack within the timeout: `QueueUnavailable` (``maybe_stored``).

The server list is shuffled once (the processes of a deployment spread over
a cluster's nodes) and reconnect waits have jitter (they do not come back in
step after an outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from hookcore import __version__, _core
from hookcore._core import NotStored, Ping, Pong, ServerErr, ServerInfo
from hookcore.errors import NatsProtocolError, QueueUnavailable, StorageFull, WriteConflict
from hookcore.nats_auth import NatsAuth

log = logging.getLogger("hookcore.publisher")

CONNECT_TIMEOUT = 5.0
RECONNECT_WAIT = 0.25
PING_INTERVAL = 30.0
# Unanswered keep-alive pings before the connection counts as dead and is replaced.
MAX_PINGS_OUT = 2
# The longest an overdue ack waits before a probing ping, and that ping for its PONG.
MAX_PROBE_AFTER = 1.0
DEFAULT_MAX_BUFFER = 8 * 1024 * 1024


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


class _Pending:
    """A publish waiting for its ack: its frame, and where it went."""

    __slots__ = ("body", "connection", "deadline", "frame", "future", "resendable", "sends")

    def __init__(
        self,
        deadline: float,
        future: asyncio.Future[int],
        frame: bytes,
        body: bytes | memoryview | None,
        resendable: bool,
    ) -> None:
        self.deadline = deadline
        self.future = future
        # The frame names the publisher's inbox, not a connection's: it can be sent again as is.
        self.frame = frame
        self.body = body
        self.resendable = resendable  # it carries a message id: JetStream stores it once
        # The connection the frame was last written to; None while it waits for one.
        self.connection: _Connection | None = None
        self.sends = 0

    def fail(self, error: QueueUnavailable) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class Publisher:
    """Publishes to JetStream with many acknowledgements outstanding at once."""

    def __init__(
        self,
        nats_url: str,
        timeout: float,
        name: str,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        auth: NatsAuth | None = None,
    ) -> None:
        servers = [Server.parse(s.strip()) for s in nats_url.split(",") if s.strip()]
        if not servers:
            raise ValueError("no NATS server URL given")
        random.shuffle(servers)
        self._servers = servers
        self._timeout = timeout
        self._max_buffer = max_buffer
        self._probe_after = min(MAX_PROBE_AFTER, timeout / 4)
        # A reconnect tries the next server when one does not finish its handshake within this.
        self._handshake_timeout = min(CONNECT_TIMEOUT, max(0.5, timeout / 2))
        self._name = name
        self._auth = auth or NatsAuth()
        self._inbox = f"_INBOX.{secrets.token_hex(11)}."
        # token -> pending publish; tokens increase, so the oldest come first.
        self._pending: dict[int, _Pending] = {}
        self._tokens = itertools.count()
        self._connection: _Connection | None = None
        self._open: set[_Connection] = set()
        self._retiring: set[_Connection] = set()  # left for another server, waiting for their acks
        self._next_server = 0
        self._stopping = False
        self._reconnecting = False
        self._orphans = False  # some pending publishes wait for a connection to be sent on
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Connect; raises `QueueUnavailable` when no server answers."""
        self._loop = asyncio.get_running_loop()
        self._adopt(await self._connect_any(CONNECT_TIMEOUT))
        self._spawn(self._sweep())

    async def stop(self) -> None:
        """Stop reconnecting and drop the connections; publishes still waiting fail.

        Unsent frames are dropped rather than flushed: their callers are told
        they failed, so none of them may be stored behind their back.
        """
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        connections = list(self._open)
        for connection in connections:
            connection.abort()
        for connection in connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(connection.closed), CONNECT_TIMEOUT)
        for entry in self._pending.values():
            entry.fail(QueueUnavailable("the publisher stopped", maybe_stored=entry.sends > 0))
        self._pending.clear()

    @property
    def connected(self) -> bool:
        """Whether publishes can be sent now (else they fail at once while it reconnects)."""
        return self._connection is not None

    @property
    def server(self) -> Server | None:
        """The server publishes go to now (None while reconnecting)."""
        return self._connection.server if self._connection is not None else None

    @property
    def inbox(self) -> str:
        """The reply prefix of every publish: acks come to ``{inbox}{token}``."""
        return self._inbox

    def next_token(self) -> int:
        """A new ack token, for a frame made elsewhere (`_core.Ingress.ingest`) and given to `send`."""
        return next(self._tokens)

    async def publish(
        self,
        subject: str,
        payload: bytes,
        msg_id: str | None = None,
        headers: bytes | None = None,
        traceparent: str | None = None,
    ) -> int:
        """Publish and wait for JetStream's ack: the message's sequence in its stream.

        Raises `QueueUnavailable` when it was not stored (`StorageFull` when
        JetStream has no room), `WriteConflict` when a
        ``Nats-Expected-Last-Subject-Sequence`` header in ``headers`` (a NATS
        header block: ``NATS/1.0\\r\\n``, lines, ``\\r\\n``) did not hold.

        With ``msg_id`` (an envelope's execution id) the frame carries a
        ``Nats-Msg-Id`` header, and may be sent again on another connection
        while its fate is unknown: JetStream stores it once. With ``traceparent`` (not with
        ``headers``) the frame carries that W3C trace context header too (`hookcore.tracing`).
        """
        connection = self._writable()
        token = next(self._tokens)
        frame = connection.wire.publish(subject, token, payload, msg_id, headers, traceparent)
        return await self._send(connection, token, frame, None, msg_id is not None)

    def send(self, token: int, frame: bytes, body: bytes | None = None) -> asyncio.Future[int]:
        """Send a frame that `_core.Ingress.ingest` made with ``token`` (from `next_token`)
        and a message id; await the result as `publish`'s. When ``body`` is given the
        frame is its head: the body and CRLF follow it."""
        return self._send(self._writable(), token, frame, body, True)

    def send_chunks(
        self, subject: str, data: memoryview, chunk: int, msg_id_prefix: str
    ) -> list[asyncio.Future[int]]:
        """Publish ``data`` to ``subject`` as messages of ``chunk`` bytes, all at once; await
        each future as `publish`'s. Chunk ``n`` carries the message id ``{msg_id_prefix}.{n}``
        (it may be sent again after a failover) and is written from ``data``'s own buffer,
        after its frame's head: nothing is copied into a frame. One backlog check for the
        lot, so a value is not cut off halfway by its own chunks."""
        connection = self._writable()
        futures = []
        for n, start in enumerate(range(0, len(data), chunk)):
            part = data[start : start + chunk]
            token = next(self._tokens)
            head = connection.wire.publish_head(subject, token, len(part), f"{msg_id_prefix}.{n}")
            futures.append(self._send(connection, token, head, part, True))
        return futures

    def _writable(self) -> _Connection:
        """The connection to publish on; `QueueUnavailable` when there is none or it is backed up."""
        connection = self._connection
        if connection is None:
            raise QueueUnavailable("not connected to NATS (reconnecting)")
        backlog = connection.backlog()
        if backlog > self._max_buffer:
            raise QueueUnavailable(
                f"{backlog} bytes wait to be sent to NATS at {connection.server}, more than the "
                f"{self._max_buffer} allowed (HOOKCORE_MAX_PUBLISH_BUFFER)"
            )
        return connection

    def _send(
        self,
        connection: _Connection,
        token: int,
        frame: bytes,
        body: bytes | memoryview | None,
        resendable: bool,
    ) -> asyncio.Future[int]:
        """Write the frame; the future the ack (or its refusal, or the timeout) settles.
        Each way of settling it also takes the publish out of ``_pending``."""
        loop = self._loop
        future: asyncio.Future[int] = loop.create_future()
        entry = _Pending(loop.time() + self._timeout, future, frame, body, resendable)
        self._pending[token] = entry
        if connection.write(frame, body):
            entry.connection = connection
            entry.sends = 1
        else:  # closing: connection_lost follows, and the frame goes on the next connection
            self._orphans = True
        return future

    def _settle(self, token: int, seq: int) -> None:
        """JetStream stored the publish ``token`` as ``seq`` of its stream."""
        entry = self._pending.pop(token, None)
        if entry is not None and not entry.future.done():
            entry.future.set_result(seq)

    def _not_stored(self, event: NotStored) -> None:
        """JetStream did not store this copy of a publish."""
        entry = self._pending.pop(event.token, None)
        if entry is None or entry.future.done():
            return
        if event.kind == "conflict":
            entry.future.set_exception(WriteConflict(event.reason))
            return
        # An earlier copy, sent on a connection since dropped, may still have been stored.
        error = StorageFull if event.kind == "full" else QueueUnavailable
        entry.future.set_exception(error(event.reason, maybe_stored=entry.sends > 1))

    def _lost(self, connection: _Connection, reason: str) -> None:
        self._open.discard(connection)
        self._retiring.discard(connection)
        if connection is self._connection:
            self._connection = None
            if not self._stopping:
                log.warning(
                    "publisher lost its NATS connection to %s (%s); reconnecting", connection.server, reason
                )
                self._spawn(self._reconnect())
        for token, entry in list(self._pending.items()):
            if entry.connection is not connection:
                continue
            entry.connection = None
            if not entry.resendable or self._stopping:
                del self._pending[token]
                entry.fail(
                    QueueUnavailable(
                        f"lost the connection to NATS ({reason}) after sending", maybe_stored=True
                    )
                )
            else:
                self._orphans = True
        self._resend()

    def _resend(self) -> None:
        """Send the publishes that wait for a connection on the current one."""
        connection = self._connection
        if connection is None or not self._orphans:
            return
        for entry in self._pending.values():
            if entry.connection is not None or entry.future.done():
                continue
            if connection.backlog() > self._max_buffer:
                return  # the sweep tries again
            if not connection.write(entry.frame, entry.body):
                return
            entry.connection = connection
            entry.sends += 1
        self._orphans = False

    def _adopt(self, connection: _Connection) -> None:
        """Publish on `connection` from now on."""
        self._connection = connection
        connection.on_info = lambda info: self._on_info(connection, info)
        self._resend()

    async def _reconnect(self) -> None:
        if self._reconnecting:
            return
        self._reconnecting = True
        try:
            while not self._stopping and self._connection is None:
                try:
                    connection = await self._connect_any(self._handshake_timeout)
                except Exception as e:  # whatever went wrong, try again: triggers get 503 meanwhile
                    log.debug("%s", e)
                    await asyncio.sleep(RECONNECT_WAIT * random.uniform(0.5, 1.5))
                    continue
                if self._connection is not None or self._stopping:  # a lame duck's successor came first
                    connection.abort()
                    return
                self._adopt(connection)
                log.warning("publisher reconnected to NATS at %s", connection.server)
        finally:
            self._reconnecting = False

    def _on_info(self, connection: _Connection, info: dict[str, Any]) -> None:
        self._learn(info)
        if info.get("ldm") and connection is self._connection and not connection.leaving:
            connection.leaving = True
            log.warning(
                "NATS at %s is in lame duck mode (shutting down); moving to another server", connection.server
            )
            self._spawn(self._leave(connection))

    async def _leave(self, old: _Connection) -> None:
        """Move publishing from a server in lame duck mode to another one; `old` stays
        open for the acks of what was sent on it (or until their time is up)."""
        while not self._stopping and old is self._connection:
            try:
                new = await self._connect_any(self._handshake_timeout, avoid=old.server)
            except QueueUnavailable as e:
                log.warning("no other NATS server to move to (%s); staying on %s meanwhile", e, old.server)
                await asyncio.sleep(4 * RECONNECT_WAIT * random.uniform(0.5, 1.5))
                continue
            if self._stopping or self._connection not in (old, None):
                new.abort()
                return
            self._adopt(new)
            log.warning("publisher moved from %s (lame duck) to %s", old.server, new.server)
        # The sweep closes it once the acks of what was sent on it have come.
        old.retire_by = self._loop.time() + self._timeout
        self._retiring.add(old)

    async def _connect_any(self, timeout: float, avoid: Server | None = None) -> _Connection:
        """The first server of the list (from the one after the last used) that accepts us."""
        errors = []
        count = len(self._servers)
        for i in range(count):
            server = self._servers[(self._next_server + i) % count]
            if server == avoid:
                continue
            try:
                connection = await self._open_connection(server, timeout)
            except (OSError, TimeoutError, QueueUnavailable, ValueError) as e:
                errors.append(f"{server}: {e or type(e).__name__}")
                continue
            self._next_server = (self._next_server + i + 1) % count
            return connection
        raise QueueUnavailable(f"cannot connect to NATS ({'; '.join(errors) or 'no other server'})")

    async def _open_connection(self, server: Server, timeout: float) -> _Connection:
        """Connect to `server`, say who we are, check it accepts us, and subscribe to the acks."""
        loop = self._loop
        wire = _core.NatsWire(self._inbox)
        auth = self._auth
        tls_first = auth.tls_first
        transport, connection = await asyncio.wait_for(
            loop.create_connection(
                lambda: _Connection(self, wire, server),
                server.host,
                server.port,
                ssl=auth.ssl_context() if tls_first else None,
                server_hostname=server.host if tls_first else None,
            ),
            timeout,
        )
        try:
            info = await asyncio.wait_for(asyncio.shield(connection.info), timeout)
            tls = tls_first or server.tls or auth.wants_tls or bool(info.get("tls_required"))
            if tls and not tls_first:
                if not (info.get("tls_required") or info.get("tls_available")):
                    raise QueueUnavailable(f"NATS at {server} does not offer TLS, which is asked for")
                upgraded = await asyncio.wait_for(
                    loop.start_tls(transport, connection, auth.ssl_context(), server_hostname=server.host),
                    timeout,
                )
                if upgraded is None:
                    raise QueueUnavailable("the TLS handshake with NATS failed")
                connection.transport = upgraded
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
                **(server.auth or auth.connect_fields(info.get("nonce"))),
            }
            connection.pong = loop.create_future()
            connection.send(b"CONNECT " + json.dumps(options).encode() + b"\r\nPING\r\n")
            await asyncio.wait_for(asyncio.shield(connection.pong), timeout)
            # The PONG and the close can come in one read: connection_lost has then run
            # already, and nothing would tell a publisher that adopted it.
            if connection.closed.done():
                raise QueueUnavailable("NATS closed the connection during the handshake")
            connection.send(f"SUB {self._inbox}* 1\r\n".encode())
        except BaseException:
            connection.abort()
            raise
        self._learn(info)
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
        """One timer for all publishes: fail those whose ack is overdue, close
        connections left behind once their acks came, send publishes waiting
        for a connection, probe a connection whose acks are late, and ping the
        server now and then."""
        loop = self._loop
        next_ping = loop.time() + PING_INTERVAL
        while True:
            await asyncio.sleep(min(0.1, self._timeout / 4))
            now = loop.time()
            self._expire(now)
            for old in list(self._retiring):
                if now >= old.retire_by or not any(e.connection is old for e in self._pending.values()):
                    self._retiring.discard(old)
                    old.abort()  # what is still pending on it is sent on the current connection
            connection = self._connection
            if connection is None:
                continue
            self._resend()
            if self._acks_late(connection, now):
                if connection.ping_sent is None:
                    if now - connection.last_ping >= self._probe_after:
                        connection.ping(now)  # a live server answers at once, however busy JetStream is
                elif now - connection.ping_sent > self._probe_after:
                    log.warning(
                        "NATS at %s answered neither acks nor a ping for %.1fs; switching servers",
                        connection.server,
                        now - connection.ping_sent,
                    )
                    connection.abort()  # connection_lost sends what was pending on the next server
                    continue
            if now >= next_ping:
                next_ping = now + PING_INTERVAL
                if connection.pings_out >= MAX_PINGS_OUT:
                    connection.abort()  # half-open: connection_lost brings a new one
                else:
                    connection.ping(now)

    def _expire(self, now: float) -> None:
        expired = []
        for token, entry in self._pending.items():
            if entry.deadline > now:
                break
            expired.append(token)
        for token in expired:
            entry = self._pending.pop(token)
            if entry.sends:
                entry.fail(
                    QueueUnavailable(f"no acknowledgement within {self._timeout:g}s", maybe_stored=True)
                )
            else:
                entry.fail(QueueUnavailable(f"no connection to NATS within {self._timeout:g}s"))

    def _acks_late(self, connection: _Connection, now: float) -> bool:
        """Whether the oldest publish on `connection` has waited longer than the probe delay."""
        started_before = now - self._probe_after + self._timeout
        for entry in self._pending.values():
            if entry.deadline > started_before:
                return False
            if entry.connection is connection and not entry.future.done():
                return True
        return False

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Connection(asyncio.Protocol):
    """One NATS connection of a `Publisher`: the socket's callbacks."""

    def __init__(self, publisher: Publisher, wire: _core.NatsWire, server: Server) -> None:
        self.server = server
        self.wire = wire
        self.transport: asyncio.Transport | None = None
        self.info: asyncio.Future[dict[str, Any]] = publisher._loop.create_future()
        self.pong: asyncio.Future[None] | None = None
        self.closed: asyncio.Future[None] = publisher._loop.create_future()
        self.on_info: Callable[[dict[str, Any]], None] | None = None
        self.pings_out = 0
        self.ping_sent: float | None = None  # when the oldest unanswered ping went out
        self.last_ping = float("-inf")
        self.leaving = False  # the server announced lame duck mode
        self.retire_by = float("inf")
        self._publisher = publisher

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._publisher._open.add(self)

    def write(self, frame: bytes, body: bytes | memoryview | None) -> bool:
        """Hand `frame` (and the ``body`` it is the head of, and CRLF) to the socket;
        False when it is closing (connection_lost follows)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        transport.write(frame)
        if body is not None:
            transport.write(body)
            transport.write(b"\r\n")
        return True

    def backlog(self) -> int:
        """Bytes written but not yet taken by the socket."""
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    def send(self, command: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(command)

    def ping(self, now: float) -> None:
        if self.ping_sent is None:
            self.ping_sent = now
        self.last_ping = now
        self.pings_out += 1
        self.send(b"PING\r\n")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Close at once, dropping unsent bytes: a silent peer would never take them."""
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        try:
            received = self.wire.feed(data)
        except NatsProtocolError as e:
            log.warning("closing the publisher's NATS connection: %s", e)
            self.close()
            return
        settle = self._publisher._settle
        for token, seq in received.acks:
            settle(token, seq)
        for event in received.events:
            self._event(event)

    def _event(self, event: NotStored | Ping | Pong | ServerInfo | ServerErr) -> None:
        match event:
            case NotStored():
                self._publisher._not_stored(event)
            case Ping():
                self.send(b"PONG\r\n")
            case Pong():
                self.pings_out = 0
                self.ping_sent = None
                if self.pong is not None and not self.pong.done():
                    self.pong.set_result(None)
            case ServerInfo():
                info = json.loads(event.json)
                if not self.info.done():
                    self.info.set_result(info)
                elif self.on_info is not None:
                    self.on_info(info)
            case ServerErr():
                log.warning("NATS said to the publisher: %s", event.message)
                if self.pong is not None and not self.pong.done():
                    self.pong.set_exception(QueueUnavailable(f"NATS refused the connection: {event.message}"))

    def connection_lost(self, exc: Exception | None) -> None:
        reason = str(exc) if exc else "closed"
        for waiter in (self.info, self.pong):
            if waiter is not None and not waiter.done():
                waiter.set_exception(QueueUnavailable(f"NATS closed the connection ({reason})"))
                waiter.exception()  # a handshake that timed out no longer awaits it: no log line
        self.closed.set_result(None)
        self._publisher._lost(self, reason)
