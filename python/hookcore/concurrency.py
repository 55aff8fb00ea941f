"""``max_concurrency=``: how many of one customer's executions run at once under a cap, across workers.

A cap's slots are one KV entry in the state bucket (`hookcore.catalog.slots_key`): the leases of
the customer's executions running under it, execution id -> when the lease ends (Unix seconds).
A worker takes a slot with a compare-and-set write (when another worker wrote first, it reads the
new value and tries again), renews its leases with each heartbeat of the execution, and gives the
slot back once the delivery has ended. A worker that dies gives nothing back: its leases end
``lease`` seconds (``ack_wait``) after their last renewal, when JetStream delivers the execution
again, and the execution, delivered again, finds its own lease still held. Leases are read
against each worker's clock: workers' clocks must agree to within seconds (NTP does).

An execution whose cap is full waits in its worker (`Waiting`), unstarted and unacknowledged
(JetStream keeps it; it is reported in progress while it waits), and starts as soon as a slot is
free: at once when this worker gave the slot back, within `RETRY_MAX` seconds when another
worker did. A worker holds at most ``limit`` such executions; the worker hands the others back to
JetStream for later (`Worker` does: a nak with a delay), so one customer's flood under a cap
never fills a worker's memory nor holds up the other customers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import msgspec
from nats.aio.msg import Msg
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from hookcore.catalog import slots_key
from hookcore.errors import WriteConflict
from hookcore.integration import Flow, Integration

log = logging.getLogger("hookcore.concurrency")

Leases = dict[str, float]
_encode = msgspec.json.encode
_decode = msgspec.json.Decoder(Leases).decode

MAX_WRITES = 100
"""Compare-and-set writes one change of a cap's slots may try before it gives up (`WriteConflict`)."""
RETRY_MIN = 0.05
RETRY_MAX = 1.0
"""Seconds between two tries of a waiting execution's cap (doubling from `RETRY_MIN`): the
longest a slot given back by another worker stays free while executions wait here."""


@dataclass(frozen=True, slots=True)
class Cap:
    """One ``max_concurrency``: where its slots are kept, and how many there are."""

    key: str
    limit: int


def caps_of(app: Integration, flow: Flow, customer: str) -> tuple[Cap, ...]:
    """The caps an execution of ``flow`` for ``customer`` runs under: the integration's, the flow's."""
    caps = []
    if app.max_concurrency is not None:
        caps.append(Cap(slots_key(customer, app.name), app.max_concurrency))
    if flow.max_concurrency is not None:
        caps.append(Cap(slots_key(customer, app.name, flow.name), flow.max_concurrency))
    return tuple(caps)


class Slots:
    """The slots of every cap, shared by all workers through JetStream KV."""

    def __init__(self, kv: KeyValue, lease: float, clock: Callable[[], float] = time.time) -> None:
        self._kv = kv
        self._lease = lease
        self._clock = clock

    async def take(self, caps: tuple[Cap, ...], execution_id: str) -> Cap | None:
        """A slot under every one of ``caps`` for ``execution_id``, or none: None when taken (or
        already held: a delivery again), else the cap that is full."""
        taken: list[Cap] = []
        for cap in caps:
            add = partial(self._add, limit=cap.limit, execution_id=execution_id)
            if not await self._change(cap.key, add):
                await self.give_back(tuple(taken), execution_id)
                return cap
            taken.append(cap)
        return None

    async def renew(self, caps: tuple[Cap, ...], execution_id: str) -> None:
        """Extend ``execution_id``'s leases by another ``lease`` seconds (a running execution)."""
        for cap in caps:
            await self._change(cap.key, lambda leases: self._extend(leases, execution_id))

    async def give_back(self, caps: tuple[Cap, ...], execution_id: str) -> None:
        """End ``execution_id``'s leases under ``caps``."""
        for cap in caps:
            await self._change(cap.key, lambda leases: (True, _without(leases, execution_id)))

    def _live(self, leases: Leases) -> Leases:
        now = self._clock()
        return {held: until for held, until in leases.items() if until > now}

    def _add(self, leases: Leases, *, limit: int, execution_id: str) -> tuple[bool, Leases | None]:
        live = self._live(leases)
        if execution_id not in live and len(live) >= limit:
            return False, None
        # Its own lease, held still (a delivery again), starts over too: it may be about to end.
        live[execution_id] = self._clock() + self._lease
        return True, live

    def _extend(self, leases: Leases, execution_id: str) -> tuple[bool, Leases]:
        live = self._live(leases)
        live[execution_id] = self._clock() + self._lease  # also a lease that ended (heartbeats lost)
        return True, live

    async def _change(self, key: str, edit: Callable[[Leases], tuple[bool, Leases | None]]) -> bool:
        """Apply ``edit`` (leases -> whether it holds, the leases to write or None) to ``key``'s
        slots with compare-and-set; what ``edit`` said on the value it was applied to."""
        for _ in range(MAX_WRITES):
            leases, revision = await self._read(key)
            holds, new = edit(leases)
            if new is None or (new == leases and revision):
                return holds
            try:
                if new:
                    await self._kv.update(key, _encode(new), last=revision)
                elif revision:
                    await self._kv.delete(key, last=revision)
            except KeyWrongLastSequenceError:
                continue  # another worker wrote first: edit its value
            except Exception as e:  # nats-py reports some lost races as API errors
                if "wrong last sequence" in str(e).lower():
                    continue
                raise
            return holds
        raise WriteConflict(f"the slots of {key} changed {MAX_WRITES} times during one change")

    async def _read(self, key: str) -> tuple[Leases, int]:
        """The leases under ``key`` and their revision (0: never written)."""
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError as e:  # never written, or deleted (then its entry is the delete's)
            deleted = getattr(e, "entry", None)
            return {}, deleted.revision or 0 if deleted is not None else 0
        if entry.value is None or entry.operation in ("DEL", "PURGE"):
            return {}, entry.revision or 0
        return _decode(entry.value), entry.revision or 0


def _without(leases: Leases, execution_id: str) -> Leases:
    return {held: until for held, until in leases.items() if held != execution_id}


@dataclass(eq=False, slots=True)
class _Waiter:
    msg: Msg
    execution_id: str
    caps: tuple[Cap, ...]
    since: float
    """When it was last reported in progress (monotonic)."""


@dataclass(eq=False, slots=True)
class _Cap:
    """What waits for one cap in this worker, first come first served."""

    waiters: deque[_Waiter]
    retry_at: float = 0.0
    interval: float = RETRY_MIN
    freed: bool = False
    """A slot was given back here while a try was on its way: try again at once."""


class Waiting:
    """The executions this worker holds until a slot under their caps is free; ``resume`` gets
    each message once its slots are taken (the worker then starts it first).

    JetStream hears that each is in progress as it begins waiting, every third of ``ack_wait``
    while it waits, and as it is resumed, so it is not delivered again meanwhile."""

    def __init__(self, slots: Slots, resume: Callable[[Msg], None], *, limit: int, ack_wait: float) -> None:
        self._slots = slots
        self._resume = resume
        self._limit = limit
        self._ack_wait = ack_wait
        self._caps: dict[str, _Cap] = {}
        self._count = 0
        self._closed = False
        self._trying: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return self._count

    async def hold(self, msg: Msg, execution_id: str, caps: tuple[Cap, ...], full: Cap) -> bool:
        """Keep ``msg`` until ``full`` (one of ``caps``) has a free slot; False when this worker
        already holds ``limit`` executions or is closing (the caller hands it back)."""
        if self._closed or self._count >= self._limit:
            return False
        waiting = self._caps.setdefault(full.key, _Cap(deque()))
        waiting.waiters.append(_Waiter(msg, execution_id, caps, time.monotonic()))
        self._count += 1
        await _in_progress(msg)
        return True

    def freed(self, caps: tuple[Cap, ...]) -> None:
        """A slot under each of ``caps`` was given back here: start what waits for them."""
        for cap in caps:
            waiting = self._caps.get(cap.key)
            if waiting is not None and not self._closed:
                waiting.interval = RETRY_MIN
                waiting.freed = True
                self._try_soon(cap.key)

    async def run(self) -> None:
        """Try the caps with executions waiting, each at its own pace, and report the executions
        waiting for a third of ``ack_wait`` in progress (so JetStream does not deliver them again)."""
        while not self._closed:
            await asyncio.sleep(RETRY_MIN)
            now = time.monotonic()
            for key, waiting in list(self._caps.items()):
                if now >= waiting.retry_at:
                    self._try_soon(key)
                for waiter in list(waiting.waiters):
                    if now - waiter.since > self._ack_wait / 3:
                        waiter.since = now
                        await _in_progress(waiter.msg)

    async def close(self) -> None:
        """Hand every waiting execution back to JetStream (delivered again at once, elsewhere)
        and hold no more."""
        self._closed = True
        for task in self._tasks:
            task.cancel()
        waiters = [waiter for waiting in self._caps.values() for waiter in waiting.waiters]
        self._caps.clear()
        self._count = 0
        handed = 0
        for waiter in waiters:
            with contextlib.suppress(Exception):  # not handed back: delivered after ack_wait
                await waiter.msg.nak()
                handed += 1
        if handed:
            log.info("handed back %d executions waiting for a max_concurrency slot", handed)

    def _try_soon(self, key: str) -> None:
        if key in self._trying or self._closed:
            return
        self._trying.add(key)
        task = asyncio.create_task(self._try(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _try(self, key: str) -> None:
        """Start the executions waiting for ``key`` while its slots allow, oldest first."""
        try:
            waiting = self._caps.get(key)
            while waiting is not None and waiting.waiters:
                waiter = waiting.waiters[0]
                waiting.freed = False
                try:
                    full = await self._slots.take(waiter.caps, waiter.execution_id)
                except Exception as e:  # NATS away, say: tried again later
                    log.warning("could not take a slot under %s: %s", key, e)
                    full = Cap(key, 0)
                if (
                    self._caps.get(key) is not waiting
                    or not waiting.waiters
                    or waiting.waiters[0] is not waiter
                ):
                    if full is None:  # closed meanwhile: what it took goes back
                        await self._slots.give_back(waiter.caps, waiter.execution_id)
                    return
                if full is not None and full.key == key:
                    if waiting.freed:
                        continue  # a slot came back while this try was on its way
                    waiting.retry_at = time.monotonic() + waiting.interval
                    waiting.interval = min(waiting.interval * 2, RETRY_MAX)
                    return
                waiting.waiters.popleft()
                if full is None:
                    self._count -= 1
                    await _in_progress(waiter.msg)
                    self._resume(waiter.msg)
                else:  # its other cap is full now: it waits for that one
                    self._caps.setdefault(full.key, _Cap(deque())).waiters.append(waiter)
            if waiting is not None and not waiting.waiters and self._caps.get(key) is waiting:
                del self._caps[key]
        finally:
            self._trying.discard(key)


async def _in_progress(msg: Msg) -> None:
    """Tell JetStream ``msg`` is being worked on (its ack_wait starts over)."""
    with contextlib.suppress(Exception):  # lost: delivered again, and run once (records)
        await msg.in_progress()
