"""Following executions live, for ``GET /api/executions/tail`` (`hookcore executions tail`).

Two plain NATS subscriptions, no consumer and no scan: one to the executions
stream's subjects (an accepted request: ``queued``) and one to the records
bucket's subjects (every record write: ``running``, then the final status).
JetStream stores those messages; a subscription hears each as it is published,
so a follower costs the server nothing while nothing happens and leaves
nothing behind when it goes. A follower slower than the feed misses events
(at most `MAX_PENDING` wait for it) rather than holding the server's memory.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from hookcore.envelope import decode_envelope
from hookcore.queue import is_execution_subject, stored_requests
from hookcore.records import record_subject
from hookcore.store import ExecutionRecord, ExecutionView, queued_record

log = logging.getLogger("hookcore.follow")

MAX_PENDING = 1000

_decode_record = msgspec.json.Decoder(ExecutionRecord).decode


class ExecutionFilter(msgspec.Struct, frozen=True):
    """Which executions a follower wants (None: any)."""

    customer: str | None = None
    flow: str | None = None
    status: str | None = None

    def matches(self, view: ExecutionView) -> bool:
        return (
            (self.customer is None or view.customer == self.customer)
            and (self.flow is None or view.flow == self.flow)
            and (self.status is None or view.status == self.status)
        )


class ExecutionFeed:
    """Views of the executions accepted and changed since it started, in arrival order."""

    def __init__(self, wanted: ExecutionFilter) -> None:
        self._wanted = wanted
        self._pending: asyncio.Queue[Msg] = asyncio.Queue(MAX_PENDING)
        self.missed = 0

    async def on_message(self, msg: Msg) -> None:
        try:
            self._pending.put_nowait(msg)
        except asyncio.QueueFull:
            self.missed += 1

    async def next(self) -> ExecutionView:
        """The next execution the filter wants (waits for one)."""
        while True:
            view = _view(await self._pending.get())
            if view is not None and self._wanted.matches(view):
                return view


def _view(msg: Msg) -> ExecutionView | None:
    """What one message says about an execution (None: a deletion, or not hookcore's)."""
    if not msg.data:
        return None
    try:
        if is_execution_subject(msg.subject):
            return queued_record(decode_envelope(msg.data)).view()
        return _decode_record(msg.data).view()
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        log.debug("not an execution on %s: %s", msg.subject, e)
        return None


@asynccontextmanager
async def following(nc: NatsClient, wanted: ExecutionFilter) -> AsyncIterator[ExecutionFeed]:
    """An `ExecutionFeed` subscribed for the duration of the block."""
    feed = ExecutionFeed(wanted)
    subscriptions = [
        await nc.subscribe(subject, cb=feed.on_message, pending_msgs_limit=MAX_PENDING)
        for subject in (stored_requests(), record_subject("*"))
    ]
    await nc.flush()  # the server has the subscriptions: nothing published from now on is missed
    try:
        yield feed
    finally:
        for subscription in subscriptions:
            await subscription.unsubscribe()


def on_stop_signals(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> None:
    """Also call ``stop`` (on ``loop``) when this process gets SIGINT or SIGTERM.

    Granian lets a worker process exit only once its open responses have ended,
    and a follower's stream never ends by itself. The handlers are chained at the
    Python level: whatever the event loop does on these signals (Granian's own
    shutdown, through the loop's wakeup fd) is unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set handlers; streams then end with the process

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(stop)
            if callable(previous):
                previous(signum, frame)

        signal.signal(sig, handler)
