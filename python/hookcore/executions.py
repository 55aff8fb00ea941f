"""Listing and replaying executions."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

import msgspec

from hookcore import _core
from hookcore.envelope import encode_envelope
from hookcore.errors import BadRequest, NotStarted
from hookcore.index import STATUSES, Bounds, ExecutionIndex, IndexFilter
from hookcore.jetstream import JetStream
from hookcore.objects import body_object, copy_object
from hookcore.publisher import Publisher
from hookcore.queue import execution_subject
from hookcore.store import ExecutionRecord, ExecutionView, Records, RecordWriter

MAX_LIMIT = 500
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ExecutionId = Annotated[
    str, msgspec.Meta(pattern="^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]
"""An execution id as hookcore writes it: a UUID in canonical form (`_core.new_id`)."""


class ExecutionPage(msgspec.Struct):
    """``GET /api/executions``: newest first; ``next`` is the cursor of the following page."""

    items: list[ExecutionView]
    next: str | None


class Replayed(msgspec.Struct, rename="camel"):
    """``POST /api/executions/{id}/replay``: the new execution."""

    execution_id: str


class Executions:
    def __init__(self, jet: JetStream, publisher: Publisher, retention_seconds: float) -> None:
        self._jet = jet
        self._records = Records(jet)
        self._index = ExecutionIndex(jet, retention_seconds)
        self._publisher = publisher
        # Linking a replay adds one id to a record its worker wrote within max_record_bytes:
        # the records bucket's own limit bounds it.
        self._writer = RecordWriter(jet, publisher, jet.max_inline)

    async def list(
        self,
        *,
        flow: str | None = None,
        customer: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        after: str | None = None,
    ) -> ExecutionPage:
        """Newest first; ``cursor`` is the ``next`` of the previous page; ``after``: only ids
        above it (`id_at` turns a time into such a bound).

        Lists executions a worker has started (records); queued ones appear once picked up.
        The index (`hookcore.index`) names the ids; each one listed is read from its record, whose
        status decides (an entry may be a moment behind its record's last write).
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}, got {limit}.")
        if status is not None and status not in STATUSES:
            raise BadRequest(f"status must be one of {', '.join(STATUSES)}, got {status!r}.")
        if cursor is not None and not _is_execution_id(cursor):
            raise BadRequest(f"cursor must be the 'next' of a previous page, got {cursor!r}.")
        wanted = IndexFilter(customer=customer, flow=flow, status=status)
        items: list[ExecutionRecord] = []
        async for ids in self._index.newest(wanted, Bounds(cursor, after)):
            for start in range(0, len(ids), limit):
                found = await asyncio.gather(*(self._records.find(i) for i in ids[start : start + limit]))
                items += [r for r in found if r is not None and _matches(r, wanted)][: limit - len(items)]
                if len(items) == limit:
                    return ExecutionPage(items=[r.view() for r in items], next=items[-1].id)
        return ExecutionPage(items=[r.view() for r in items], next=None)

    async def counts(
        self,
        *,
        flow: str | None = None,
        customer: str | None = None,
        before: str | None = None,
        after: str | None = None,
    ) -> dict[str, int]:
        """How many executions (with records) of each status match the filters: the index's
        per-subject counts (see "Listing executions" in docs/architecture.md)."""
        return await self._index.counts(IndexFilter(customer=customer, flow=flow), Bounds(before, after))

    async def replay(self, execution_id: str) -> str:
        """A new execution of the same flow from the stored request; returns its id.

        The new execution's record says ``replay_of`` the original, whose record lists
        it in ``replayed_as``. An execution no worker has started has no record to
        link from: `NotStarted`.
        """
        envelope = await self._records.request(execution_id)
        if await self._records.find(execution_id) is None:
            raise NotStarted(
                f"Execution {execution_id} has not started yet (it waits for a worker); "
                "replay it once it has run."
            )
        new_id = _core.new_id()
        if envelope.body_in_object_store:
            await copy_object(self._jet, self._publisher, body_object(execution_id), body_object(new_id))
        replayed = msgspec.structs.replace(
            envelope,
            id=new_id,
            received_at=int(time.time() * 1_000_000),
            reply=None,
            replay_of=execution_id,
        )
        await self._publisher.publish(
            execution_subject(envelope.customer, new_id), encode_envelope(replayed), msg_id=new_id
        )
        await self._writer.add_replay(execution_id, new_id)
        return new_id


def id_at(moment: datetime) -> str:
    """The smallest execution id (UUIDv7) of ``moment``'s millisecond: ids of executions received
    before it sort below it, later ones above."""
    millis = min(max((moment - EPOCH) // timedelta(milliseconds=1), 0), 2**48 - 1)
    return str(uuid.UUID(int=millis << 80 | 0x7 << 76 | 0x2 << 62))


def _matches(record: ExecutionRecord, wanted: IndexFilter) -> bool:
    return (
        (wanted.flow is None or record.flow == wanted.flow)
        and (wanted.customer is None or record.customer == wanted.customer)
        and (wanted.status is None or record.status == wanted.status)
    )


def _is_execution_id(value: str) -> bool:
    """Execution ids are UUIDs in their canonical text form (`_core.new_id`)."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
