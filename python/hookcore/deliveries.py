"""Duplicate deliveries (SPEC section 8): a delivery id seen before runs nothing twice.

Senders retry: a delivery whose answer was lost comes again with the same id
(Standard Webhooks' ``webhook-id``, GitHub's ``X-GitHub-Delivery``, Stripe's
event ``id``, …). The Rust core reads the id and hands over a key — a digest of
instance, flow and id — with the flow's window; here the key is claimed in the
``hookcore_deliveries`` KV bucket before the request is stored:

- a create-only write (JetStream's expected-last-sequence 0) with a per-key
  TTL of the window: of any number of copies, on any ingress process of any
  machine, exactly one write succeeds, and the key is gone once the window is
  over, so memory and disk stay bounded whatever the traffic;
- the winner stores its request; a copy that lost answers with the winner's
  execution id once that execution is in the executions stream (it waits for
  the winner's acknowledgement: a 2xx only for what JetStream stored);
- a winner that failed to store (503) removes its key, so the sender's retry
  is a first delivery again; a winner that died before storing leaves a key
  naming an execution that never appears: a copy that waited
  ``settle_timeout`` for it takes the key over.

The stream's own ``Nats-Msg-Id`` window is not used for this: nats-server keeps
every id of that window in memory, which a window of hours at thousands of
requests per second cannot afford (see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

log = logging.getLogger("hookcore.deliveries")

POLL_INTERVAL = 0.02
"""Seconds between looks for the first copy's execution while it is being stored."""


class Deliveries:
    """Claims delivery keys; one per ingress process, all sharing the bucket."""

    def __init__(self, kv: KeyValue, stored: Callable[[str], Awaitable[bool]], settle_timeout: float) -> None:
        self._kv = kv
        self._stored = stored
        self._settle_timeout = settle_timeout

    async def claim(self, key: str, execution_id: str, window: int) -> str | None:
        """Claim ``key`` for ``execution_id``: None when this is the first delivery (store it,
        then `release` the key should storing fail), else the first delivery's execution id,
        which is stored."""
        while True:
            try:
                await self._kv.create(key, execution_id.encode(), validate_keys=False, msg_ttl=window)
                return None
            except KeyWrongLastSequenceError:
                pass
            try:
                entry = await self._kv.get(key, validate_keys=False)
            except (KeyNotFoundError, KeyDeletedError):
                continue  # expired or released in between: try to be first again
            first = (entry.value or b"").decode()
            if first == execution_id:
                return None
            if await self._settled(first):
                return first
            # The first copy never got stored (its ingress died): take its key over.
            log.warning("delivery %s: execution %s was never stored; taking the key over", key, first)
            with contextlib.suppress(KeyWrongLastSequenceError):  # someone else took it over first
                await self._kv.delete(key, last=entry.revision, validate_keys=False)

    async def release(self, key: str, execution_id: str) -> None:
        """Forget ``key`` after storing ``execution_id`` failed, if it still names that execution."""
        try:
            entry = await self._kv.get(key, validate_keys=False)
            if entry.value == execution_id.encode():
                await self._kv.delete(key, last=entry.revision, validate_keys=False)
        except Exception as e:  # best effort: a stale key is taken over after settle_timeout
            log.warning("could not release delivery key %s: %s", key, e)

    async def _settled(self, execution_id: str) -> bool:
        """Wait until ``execution_id`` is stored; False when it was not within ``settle_timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settle_timeout
        while True:
            if await self._stored(execution_id):
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(POLL_INTERVAL)
