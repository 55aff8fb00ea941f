"""Ingress machines registered in JetStream KV, so rate limits can be split among them.

Every ingress process of a machine shares one set of token buckets (shared
memory, in Rust). Across machines, each machine enforces ``limit / N`` where N
is the number of machines that sent a heartbeat within ``NODE_TTL`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import time
from collections.abc import Callable

import msgspec
from nats.js.errors import NoKeysError
from nats.js.kv import KeyValue

log = logging.getLogger("hookcore.nodes")

HEARTBEAT = 2.0
NODE_TTL = 3 * HEARTBEAT
NODE_PREFIX = "nodes."


class NodeBeat(msgspec.Struct):
    host: str
    at: float


def machine_id() -> str:
    """This machine's node id (every ingress process on it shares the rate-limit buckets)."""
    host = socket.gethostname()
    return hashlib.sha256(host.encode()).hexdigest()[:16]


class NodeRegistry:
    """Heartbeats this machine and reports how many machines are live."""

    def __init__(self, kv: KeyValue, on_count: Callable[[int], None], node_id: str | None = None) -> None:
        self._kv = kv
        self._on_count = on_count
        self.node_id = node_id or machine_id()
        self._count = 0
        self._task: asyncio.Task[None] | None = None

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
            await asyncio.sleep(HEARTBEAT)
            try:
                await self._beat()
            except Exception as e:  # NATS outage: keep the last count until it is back
                log.debug("node heartbeat failed: %s", e)

    async def _beat(self) -> None:
        now = time.time()
        beat = NodeBeat(host=socket.gethostname(), at=now)
        await self._kv.put(NODE_PREFIX + self.node_id, msgspec.json.encode(beat))
        try:
            keys = [k for k in await self._kv.keys() if k.startswith(NODE_PREFIX)]
        except NoKeysError:
            keys = []
        live = 0
        for key in keys:
            with contextlib.suppress(Exception):
                entry = await self._kv.get(key)
                if entry.value and now - msgspec.json.decode(entry.value, type=NodeBeat).at < NODE_TTL:
                    live += 1
        live = max(live, 1)
        if live != self._count:
            log.info("%d ingress machine(s) live: each enforces 1/%d of every rate limit", live, live)
            self._count = live
            self._on_count(live)
