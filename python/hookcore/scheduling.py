"""Which execution a worker starts next: the sync lane first, then the customers' shards in turns.

Every customer's asynchronous executions are stored in one of the executions stream's shards,
each read through a durable pull consumer all workers share (`hookcore.queue.work_queues`). A
worker keeps one pull request open on each queue, so work reaches it without polling: an idle
queue's request asks for one message and waits; a queue with a backlog (JetStream tells how much
with each message it delivers) is asked for its weight's share of the worker's lookahead. What arrives
waits in the worker, in a short buffer per queue, until a run slot is free; then the worker
takes, in this order:

1. executions that waited for a ``max_concurrency`` slot and hold one now (`resume`);
2. the sync lane (a caller waits for each of those);
3. what the previous release's single consumer still holds (`queue.PREVIOUS_RELEASE_QUEUE`);
4. the shards, by start-time fair queueing: each shard has a virtual time, a start adds
   ``1 / weight`` to it, the shard with the least goes next, and a shard that had nothing waiting
   starts at the current virtual time (idling earns no turns). A customer flooding its shard so
   takes one start in every round, whatever it has queued; the other shards take theirs.

JetStream keeps at-least-once: a message waiting in a worker is unacknowledged like one running
(a worker that dies loses nothing; `ack_wait` later it is delivered again), and a message kept
waiting for a third of ``ack_wait`` is reported in progress so it is not redelivered meanwhile.
A worker that stops hands back what it holds (a nak: delivered again at once, elsewhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from hookcore import _core
from hookcore.jetstream import JetStream
from hookcore.queue import Priority, WorkQueue

log = logging.getLogger("hookcore.scheduling")

PULL_EXPIRES = 10.0
"""Seconds one pull request stays open on JetStream (a new one follows at once)."""
LOST_AFTER = 3.0
"""Seconds past its expiry after which a pull request JetStream never ended counts as lost (a
reconnect drops them) and is made again."""
SWEEP_EVERY = 1.0
"""Seconds between checks for lost pull requests and long-waiting messages (at most a third of
``ack_wait``: a message waiting in the worker is reported in progress within two thirds of it)."""
RETRY_AFTER = 0.5
"""Seconds before asking again a queue whose pull JetStream refused (a leader change, say)."""
STATUS_NO_MESSAGES = ("404", "408")
"""Pull request ends that only mean "nothing (more) to deliver"."""
STATUS_HEARTBEAT = "100"
MIN_BATCH = 8
"""Least a pull asks of a queue, however many queues have work: a pull costs JetStream about what
a message does, so one per message would halve what a worker runs (measured: benches/load
`fairness_cost`). An idle queue's pull delivers each message as it comes; turns are taken per
start in the worker, not per pull."""


@dataclass(eq=False, slots=True)
class _Held:
    """A message delivered to this worker and not started."""

    msg: Msg
    since: float
    """When it arrived, or was last reported in progress (monotonic)."""


@dataclass(eq=False, slots=True)
class _Queue:
    """A worker's side of one work queue."""

    spec: WorkQueue
    index: int
    weight: float
    held: deque[_Held] = field(default_factory=deque)
    asked: int = 0
    """Messages the open pull request may still deliver (0: none open)."""
    expires_at: float = 0.0
    backlog: int = 0
    """What JetStream said was still waiting behind the last message it delivered."""
    vtime: float = 0.0


class Scheduler:
    """A worker's pull requests on every work queue, and its choice of what to start next."""

    def __init__(
        self,
        jet: JetStream,
        queues: list[WorkQueue],
        *,
        lookahead: int,
        ack_wait: float,
        weights: Mapping[str, float],
    ) -> None:
        if lookahead < 1:
            raise ValueError(f"lookahead must be at least 1, got {lookahead}")
        self._jet = jet
        self._lookahead = lookahead
        self._ack_wait = ack_wait
        shard_weights: dict[int, float] = {}
        for customer, weight in weights.items():  # a shard weighs what its heaviest customer does
            shard = _core.execution_shard(customer)
            shard_weights[shard] = max(weight, shard_weights.get(shard, 0.0))
        self._queues = [
            _Queue(spec, i, shard_weights.get(spec.shard, 1.0) if spec.shard is not None else 1.0)
            for i, spec in enumerate(queues)
        ]
        self._by_name = {q.spec.name: q for q in self._queues}
        self._first = sorted(
            (q for q in self._queues if q.spec.priority < Priority.SHARED), key=lambda q: q.spec.priority
        )
        self._turns: list[tuple[float, int, _Queue]] = []
        """Shared queues with messages held: (virtual time, index, queue), least first."""
        self._now = 0.0
        """The virtual time: that of the last shard a start was taken from."""
        self._resumed: deque[_Held] = deque()
        """Executions back from waiting for a max_concurrency slot (`resume`), which they hold."""
        self._busy: set[_Queue] = set()
        """Queues with a backlog or messages held: the lookahead is shared between them."""
        self._ready = asyncio.Event()
        self._closed = False
        self._taking = True
        self._inbox = jet.nc.new_inbox()
        self._sub: Subscription | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._reconnects = 0
        self._retries: set[asyncio.Future[None]] = set()

    def backlogs(self) -> dict[str, int]:
        """What JetStream last said waits in each queue this worker has read, by consumer name."""
        return {q.spec.name: q.backlog + len(q.held) for q in self._queues if q.backlog or q.held}

    async def start(self) -> None:
        """Subscribe to the replies and open a pull request on every queue."""
        self._sub = await self._jet.nc.subscribe(f"{self._inbox}.*", cb=self._on_message)
        self._reconnects = self._jet.nc.stats["reconnects"]
        for q in self._queues:
            await self._pull(q)
        self._sweeper = asyncio.create_task(self._sweep())

    def stop_taking(self) -> None:
        """Make `next` return None from now on (what is held is handed back by `close`)."""
        self._taking = False
        self._ready.set()

    def resume(self, msg: Msg) -> None:
        """Start ``msg`` before any other: it waited for a max_concurrency slot, and holds one now."""
        self._resumed.append(_Held(msg, time.monotonic()))
        self._ready.set()

    async def next(self) -> Msg | None:
        """The next execution to start (waits for one); None after `stop_taking` or `close`."""
        while self._taking:
            if self._resumed:
                return self._resumed.popleft().msg
            q = self._pick()
            if q is not None:
                msg = q.held.popleft().msg
                if q.held and q.spec.priority is Priority.SHARED:
                    heapq.heappush(self._turns, (q.vtime, q.index, q))
                self._mark(q)
                await self._pull(q)
                return msg
            self._ready.clear()
            await self._ready.wait()
        return None

    async def close(self) -> None:
        """Take no more: end the pull requests and hand back every message not started."""
        if self._closed:
            return
        self._closed = True
        self.stop_taking()
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        handed = 0
        for q in self._queues:
            while q.held:
                msg = q.held.popleft().msg
                self._busy.discard(q)
                with contextlib.suppress(Exception):  # not handed back: redelivered after ack_wait
                    await msg.nak()
                    handed += 1
        while self._resumed:
            with contextlib.suppress(Exception):
                await self._resumed.popleft().msg.nak()
                handed += 1
        if handed:
            log.info("handed back %d executions this worker held but had not started", handed)

    def _pick(self) -> _Queue | None:
        for q in self._first:
            if q.held:
                return q
        if not self._turns:
            return None
        vtime, _, q = heapq.heappop(self._turns)
        self._now = vtime
        q.vtime = vtime + 1.0 / q.weight
        return q

    async def _on_message(self, msg: Msg) -> None:
        status = msg.headers.get("Status") if msg.headers else None
        if status is not None:
            if status == STATUS_HEARTBEAT:
                return
            q = self._queues[int(msg.subject.rpartition(".")[2])]
            q.asked = 0
            if status in STATUS_NO_MESSAGES:
                q.backlog = 0
                self._mark(q)
                await self._pull(q)
            else:  # 409: the consumer is gone, its leader changed, too many requests wait, ...
                log.warning(
                    "JetStream ended a pull on %s: %s %s; asking again",
                    q.spec.name,
                    status,
                    msg.headers.get("Description", "") if msg.headers else "",
                )
                asyncio.get_running_loop().call_later(RETRY_AFTER, self._pull_soon, q)
            return
        meta = msg.metadata
        q = self._by_name[meta.consumer]
        q.asked = max(0, q.asked - 1)
        q.backlog = meta.num_pending
        if not q.held and q.spec.priority is Priority.SHARED:
            q.vtime = max(q.vtime, self._now)
            heapq.heappush(self._turns, (q.vtime, q.index, q))
        q.held.append(_Held(msg, time.monotonic()))
        self._busy.add(q)
        self._ready.set()
        if q.asked == 0:
            await self._pull(q)

    def _mark(self, q: _Queue) -> None:
        if q.backlog or q.held:
            self._busy.add(q)
        else:
            self._busy.discard(q)

    def _pull_soon(self, q: _Queue) -> None:
        if not self._closed and q.asked == 0:
            task = asyncio.ensure_future(self._pull(q))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)

    async def _pull(self, q: _Queue) -> None:
        """Open a pull request on ``q`` unless one is open or it holds enough already."""
        if self._closed or q.asked:
            return
        if q.backlog:
            # Its weight's part of the lookahead: a queue of weight 2 starts twice as many, so it
            # holds twice as many, and its buffer lasts as long as the others' (an equal part ran
            # dry first, and lost its turns while the next batch was on its way).
            busy = sum(other.weight for other in self._busy) or q.weight
            share = max(MIN_BATCH, round(self._lookahead * q.weight / busy))
            if len(q.held) * 2 > share:
                return  # asked again when it has started half of them
            batch = max(1, min(q.backlog, share - len(q.held)))
        elif q.held:
            return  # nothing more waits: ask when these are started
        else:
            batch = MIN_BATCH  # idle: delivered one by one as they come, one pull per MIN_BATCH
        q.asked = batch
        q.expires_at = time.monotonic() + PULL_EXPIRES
        request = json.dumps({"batch": batch, "expires": int(PULL_EXPIRES * 1e9)}).encode()
        try:
            await self._jet.nc.publish(
                q.spec.pull_subject,
                request,
                reply=f"{self._inbox}.{q.index}",
            )
        except Exception as e:  # disconnected: the sweep asks again
            log.debug("pull on %s not sent: %s", q.spec.name, e)

    async def _sweep(self) -> None:
        """Ask again where a pull was lost; report long-waiting messages in progress."""
        while True:
            await asyncio.sleep(min(SWEEP_EVERY, self._ack_wait / 3))
            now = time.monotonic()
            reconnects = self._jet.nc.stats["reconnects"]
            reconnected, self._reconnects = reconnects != self._reconnects, reconnects
            for q in self._queues:
                if q.asked and (reconnected or now > q.expires_at + LOST_AFTER):
                    q.asked = 0
                if not q.asked:
                    await self._pull(q)
            for held in [h for q in self._queues for h in q.held] + list(self._resumed):
                if now - held.since > self._ack_wait / 3:
                    held.since = now
                    with contextlib.suppress(Exception):  # a lost report: redelivered, run once
                        await held.msg.in_progress()
