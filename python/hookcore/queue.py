"""The executions stream's layout and the work queues the workers read it through.

Accepted requests are stored on ``hookcore.executions.{lane}.{shard}.{execution id}``
(`execution_subject`; rust/shards.rs builds the same on the hot path); each shard and the sync
lane is a durable pull consumer every worker shares (`work_queues`, `ensure_work_queues`), read
in turns by `hookcore.scheduling`. `hookcore.jetstream` creates the stream with these names.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    ConsumerInfo,
    DeliverPolicy,
)
from nats.js.errors import APIError, NotFoundError

from hookcore import _core
from hookcore.config import Settings

if TYPE_CHECKING:
    from hookcore.jetstream import JetStream

log = logging.getLogger("hookcore.queue")

EXECUTIONS_STREAM = "HOOKCORE_EXECUTIONS"
# KEEP IN SYNC with the subject_prefix handed to `_core.Ingress` (ingress.py) and with
# rust/shards.rs, which builds the same subjects on the hot path.
EXECUTIONS_SUBJECT_PREFIX = "hookcore.executions"
"""Executions are stored on ``{prefix}.{lane}.{shard}.{execution id}``: lane ``s`` when a caller
waits for the execution, ``a`` otherwise; the shard is the customer's (`execution_subject`)."""
EXECUTION_SHARDS: int = _core.EXECUTION_SHARDS
"""Shards of the asynchronous lane, one durable consumer each (`work_queues`)."""
SYNC_LANE, ASYNC_LANE = "s", "a"
WORKER_CONSUMER = "hookcore-workers"
"""The one consumer of releases before the shards: a worker drains what it still holds (requests
stored on ``{prefix}.{execution id}``), then deletes it (`ensure_work_queues`)."""
SYNC_CONSUMER = "hookcore-sync"
SHARD_CONSUMER_PREFIX = "hookcore-shard-"
CONSUMER_NOT_FOUND = 10014


def execution_subject(customer: str, execution_id: str, *, synchronous: bool = False) -> str:
    """The subject ``execution_id`` of ``customer`` is stored on (what rust/shards.rs builds)."""
    lane = SYNC_LANE if synchronous else ASYNC_LANE
    return f"{EXECUTIONS_SUBJECT_PREFIX}.{lane}.{_core.execution_shard(customer)}.{execution_id}"


ALL_EXECUTIONS = f"{EXECUTIONS_SUBJECT_PREFIX}.>"
"""Every stored request's subject (the stream's, and what followers subscribe to)."""


def stored_requests() -> str:
    """The subjects filter of every stored request (what followers subscribe to)."""
    return ALL_EXECUTIONS


def is_execution_subject(subject: str) -> bool:
    """Whether ``subject`` is a stored request's."""
    return subject.startswith(EXECUTIONS_SUBJECT_PREFIX + ".")


async def stored_request(jet: JetStream, execution_id: str) -> bytes | None:
    """The stored envelope of ``execution_id`` (None: not stored, or expired), found by id alone:
    a direct get on a filter matching its lane and shard, which JetStream answers from its
    subject index (and, when that finds nothing, one on the previous release's subject)."""
    for subject in (
        f"{EXECUTIONS_SUBJECT_PREFIX}.*.*.{execution_id}",
        f"{EXECUTIONS_SUBJECT_PREFIX}.{execution_id}",  # stored by the previous release
    ):
        try:
            msg = await jet.js.get_last_msg(EXECUTIONS_STREAM, subject, direct=True)
        except NotFoundError:
            continue
        return msg.data or b""
    return None


def execution_id_of(subject: str) -> str:
    """The execution id a stored request's subject ends with (this release's subjects and the
    previous release's ``{prefix}.{execution id}`` alike)."""
    return subject.rpartition(".")[2]


class Priority(IntEnum):
    """Which work queue a worker serves first: lower first."""

    SYNC = 0
    """A caller waits for these (lane ``s``)."""
    PREVIOUS_RELEASE = 1
    """What the previous release's single consumer still holds: older than anything else."""
    SHARED = 2
    """The shards of the asynchronous lane: taken in turns (`hookcore.scheduling`)."""


@dataclass(frozen=True, slots=True)
class WorkQueue:
    """One durable pull consumer of the executions stream, shared by every worker."""

    name: str
    filter: str
    priority: Priority
    shard: int | None = None

    @property
    def pull_subject(self) -> str:
        """Where a pull request for this queue's next messages goes (JetStream's API)."""
        return f"$JS.API.CONSUMER.MSG.NEXT.{EXECUTIONS_STREAM}.{self.name}"


def work_queues() -> list[WorkQueue]:
    """The sync lane's queue and one queue per shard of the asynchronous lane."""
    queues = [WorkQueue(SYNC_CONSUMER, f"{EXECUTIONS_SUBJECT_PREFIX}.{SYNC_LANE}.>", Priority.SYNC)]
    queues += (
        WorkQueue(
            f"{SHARD_CONSUMER_PREFIX}{shard}",
            f"{EXECUTIONS_SUBJECT_PREFIX}.{ASYNC_LANE}.{shard}.*",
            Priority.SHARED,
            shard,
        )
        for shard in range(EXECUTION_SHARDS)
    )
    return queues


PREVIOUS_RELEASE_QUEUE = WorkQueue(
    WORKER_CONSUMER, f"{EXECUTIONS_SUBJECT_PREFIX}.*", Priority.PREVIOUS_RELEASE
)
"""The previous release's consumer, narrowed to its subjects (three tokens; this release's have five)."""


@dataclass(frozen=True, slots=True)
class QueueBacklog:
    """What one work queue holds, as JetStream counts it."""

    waiting: int
    """Stored and not yet delivered."""
    in_progress: int
    """Delivered and not yet acknowledged."""


async def work_backlog(js: JetStreamContext) -> dict[str, QueueBacklog]:
    """Every work queue's backlog, by consumer name: one consumer listing (a page per 256)."""
    return {
        info.name: QueueBacklog(info.num_pending or 0, info.num_ack_pending or 0)
        for info in await _all_consumers(js)
    }


async def ensure_work_queues(jet: JetStream, settings: Settings) -> list[WorkQueue]:
    """Create (or update to the current ``ack_wait``) every work queue's consumer; the queues a
    worker reads. Idempotent, and cheap when they exist: one listing, then only what differs.

    The previous release's consumer, when there is one, is narrowed to its own subjects and read
    until empty, then deleted: an upgrade with work queued runs it once.
    """
    existing = {info.name: info for info in await _all_consumers(jet.js)}
    queues = work_queues()
    wanted = [q for q in queues if _differs(existing.get(q.name), q, settings)]
    for start in range(0, len(wanted), 32):  # a few dozen creations in flight at a time
        await asyncio.gather(*(_add_consumer(jet.js, q, settings) for q in wanted[start : start + 32]))
    previous = existing.get(WORKER_CONSUMER)
    if previous is None:
        return queues
    if (previous.num_pending or 0) + (previous.num_ack_pending or 0) == 0:
        try:
            # Not nats-py's delete_consumer: a user that may not delete (deploy/nats-users.conf
            # before this release) gets no answer, and each start would wait out its 10 s.
            reply = await jet.nc.request(
                f"$JS.API.CONSUMER.DELETE.{EXECUTIONS_STREAM}.{WORKER_CONSUMER}", b"", timeout=2
            )
            error = json.loads(reply.data).get("error")
            if error and error.get("err_code") != CONSUMER_NOT_FOUND:  # else another worker was first
                raise APIError(**error)
        except Exception as e:
            log.info(
                "the previous release's consumer %s holds no work and can be deleted (by an admin: "
                "`nats consumer rm %s %s`); this worker may not (%s)",
                WORKER_CONSUMER,
                EXECUTIONS_STREAM,
                WORKER_CONSUMER,
                str(e) or type(e).__name__,
            )
        else:
            log.info("deleted the previous release's consumer %s: it held no work", WORKER_CONSUMER)
        return queues
    if _differs(previous, PREVIOUS_RELEASE_QUEUE, settings):
        await _add_consumer(jet.js, PREVIOUS_RELEASE_QUEUE, settings)
    return [PREVIOUS_RELEASE_QUEUE, *queues]


async def _all_consumers(js: JetStreamContext) -> list[ConsumerInfo]:
    infos: list[ConsumerInfo] = []
    while page := await js.consumers_info(EXECUTIONS_STREAM, offset=len(infos)):
        infos += page
    return infos


def _differs(info: ConsumerInfo | None, queue: WorkQueue, settings: Settings) -> bool:
    return (
        info is None
        or info.config.filter_subject != queue.filter
        or info.config.ack_wait != settings.ack_wait
    )


async def _add_consumer(js: JetStreamContext, queue: WorkQueue, settings: Settings) -> None:
    await js.add_consumer(
        EXECUTIONS_STREAM,
        ConsumerConfig(
            durable_name=queue.name,
            filter_subject=queue.filter,
            ack_policy=AckPolicy.EXPLICIT,
            # Only this release's ingress stores on a queue's subjects (the previous release's
            # consumer excepted, which keeps its place): ALL is what is queued, never a replay.
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=settings.ack_wait,
            max_ack_pending=-1,
        ),
    )
