"""Ingress machines registered in JetStream KV, so rate limits can be split among them.

Every ingress process of a machine shares one set of token buckets (shared
memory, in Rust). Across machines, each machine enforces ``limit / N`` where N
is the number of machines whose last heartbeat is less than ``NODE_TTL``
seconds older than the newest heartbeat in the bucket.

Ages are judged on NATS's clock only: JetStream stamps every stored message
with its own time, and each machine compares those stamps with each other
(the newest stamp is, within a round trip, the time of its own heartbeat just
stored). No machine's own clock enters the decision, so machines whose clocks
disagree (by any amount) still count the same machines.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import time
from collections.abc import Callable
from datetime import datetime

import msgspec
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.kv import KV_DEL, KV_OP, KV_PURGE, KeyValue

from hookcore.catalog import node_key, node_keys
from hookcore.jetstream import kv_keys

log = logging.getLogger("hookcore.nodes")

HEARTBEAT = 2.0
NODE_TTL = 3 * HEARTBEAT


class NodeBeat(msgspec.Struct):
    host: str
    at: float
    """The sender's own clock when it beat: for people reading the bucket, never for liveness."""


def machine_id() -> str:
    """This machine's node id (every ingress process on it shares the rate-limit buckets)."""
    host = socket.gethostname()
    return hashlib.sha256(host.encode()).hexdigest()[:16]


def live_count(stamps: dict[str, datetime], ttl: float) -> int:
    """How many nodes stored a heartbeat less than ``ttl`` seconds before the newest one
    (server-side stamps); at least 1 (this machine)."""
    if not stamps:
        return 1
    newest = max(stamps.values())
    return max(1, sum(1 for at in stamps.values() if (newest - at).total_seconds() < ttl))


class NodeRegistry:
    """Heartbeats this machine and reports how many machines are live.

    ``clock`` only stamps the informational ``at`` of a heartbeat; ``heartbeat`` and
    ``ttl`` (seconds) are settable for tests.
    """

    def __init__(
        self,
        kv: KeyValue,
        on_count: Callable[[int], None],
        node_id: str | None = None,
        *,
        js: JetStreamContext | None = None,
        clock: Callable[[], float] = time.time,
        heartbeat: float = HEARTBEAT,
        ttl: float = NODE_TTL,
    ) -> None:
        self._kv = kv
        # The KV bucket's stream, read directly for the server's timestamps.
        self._js = js or kv._js
        self._stream = kv._stream
        self._subject_prefix = kv._pre
        self._on_count = on_count
        self.node_id = node_id or machine_id()
        self._clock = clock
        self._heartbeat = heartbeat
        self._ttl = ttl
        self._count = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def count(self) -> int:
        """Machines live at the last heartbeat (0 before the first)."""
        return self._count

    async def start(self) -> None:
        await self._beat()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            try:
                # A beat never waits for ever (a KV key listing that stalls): the next one retries.
                await asyncio.wait_for(self._beat(), max(self._ttl, 2 * self._heartbeat))
            except Exception as e:  # NATS outage or a stalled beat: keep the last count until it is back
                log.debug("node heartbeat failed: %r", e)

    async def _beat(self) -> None:
        beat = NodeBeat(host=socket.gethostname(), at=self._clock())
        await self._kv.put(node_key(self.node_id), msgspec.json.encode(beat))
        # Not KeyValue.keys: it can leave out a key another machine rewrites meanwhile, and this
        # machine would count too few, and let through more than its share.
        keys = node_keys(await kv_keys(self._kv))
        stamps = dict(zip(keys, await asyncio.gather(*(self._stored_at(k) for k in keys)), strict=True))
        live = live_count({k: at for k, at in stamps.items() if at is not None}, self._ttl)
        if live != self._count:
            log.info("%d ingress machine(s) live: each enforces 1/%d of every rate limit", live, live)
            self._count = live
            self._on_count(live)

    async def _stored_at(self, key: str) -> datetime | None:
        """When JetStream stored ``key``'s last heartbeat (its own clock); None if deleted or gone."""
        try:
            msg = await self._js.get_msg(self._stream, subject=self._subject_prefix + key, direct=True)
        except NotFoundError:
            return None
        except Exception as e:  # one unreadable key does not stop the count
            log.debug("reading node %s failed: %s", key, e)
            return None
        if msg.headers and msg.headers.get(KV_OP) in (KV_DEL, KV_PURGE):
            return None
        return msg.time
