"""Listing and replaying executions."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated

import msgspec
from nats.js.errors import NoKeysError

from hookcore import _core
from hookcore.envelope import encode_envelope
from hookcore.errors import BadRequest
from hookcore.publisher import Publisher
from hookcore.queue import EXECUTIONS_SUBJECT_PREFIX, JetStream
from hookcore.store import ExecutionRecord, ExecutionView, Records, body_object

MAX_LIMIT = 500
ExecutionId = Annotated[
    str, msgspec.Meta(pattern="^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]
"""An execution id as hookcore writes it: a UUID in canonical form (`_core.new_id`)."""
STATUSES = ("queued", "running", "succeeded", "failed", "dead")


class ExecutionPage(msgspec.Struct):
    """``GET /api/executions``: newest first; ``next`` is the cursor of the following page."""

    items: list[ExecutionView]
    next: str | None


class Replayed(msgspec.Struct, rename="camel"):
    """``POST /api/executions/{id}/replay``: the new execution."""

    execution_id: str


class Executions:
    def __init__(self, jet: JetStream, publisher: Publisher) -> None:
        self._jet = jet
        self._records = Records(jet)
        self._publisher = publisher

    async def list(
        self,
        *,
        flow: str | None = None,
        customer: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ExecutionPage:
        """Newest first; ``cursor`` is the ``next`` of the previous page.

        Lists executions a worker has started (records); queued ones appear once picked up.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}, got {limit}.")
        if status is not None and status not in STATUSES:
            raise BadRequest(f"status must be one of {', '.join(STATUSES)}, got {status!r}.")
        if cursor is not None and not _is_execution_id(cursor):
            raise BadRequest(f"cursor must be the 'next' of a previous page, got {cursor!r}.")
        try:
            ids = sorted(await self._jet.records.keys(), reverse=True)
        except NoKeysError:
            ids = []
        if cursor:
            ids = [i for i in ids if i < cursor]
        items: list[ExecutionRecord] = []
        position = 0
        while position < len(ids) and len(items) < limit:
            batch = ids[position : position + limit]
            position += len(batch)
            found = await asyncio.gather(*(self._records.find(i) for i in batch))
            for record in found:
                if record is None or len(items) == limit:
                    continue
                if (
                    (flow is None or record.flow == flow)
                    and (customer is None or record.customer == customer)
                    and (status is None or record.status == status)
                ):
                    items.append(record)
        more = position < len(ids) or len(items) == limit
        return ExecutionPage(items=[r.view() for r in items], next=items[-1].id if items and more else None)

    async def replay(self, execution_id: str) -> str:
        """A new execution of the same flow from the stored request; returns its id."""
        envelope = await self._records.request(execution_id)
        new_id = _core.new_id()
        if envelope.body_in_object_store:
            stored = await self._jet.objects.get(body_object(execution_id))
            await self._jet.objects.put(body_object(new_id), stored.data or b"")
        replayed = msgspec.structs.replace(
            envelope, id=new_id, received_at=int(time.time() * 1_000_000), reply=None
        )
        await self._publisher.publish(
            f"{EXECUTIONS_SUBJECT_PREFIX}.{new_id}", encode_envelope(replayed), msg_id=new_id
        )
        return new_id


def _is_execution_id(value: str) -> bool:
    """Execution ids are UUIDs in their canonical text form (`_core.new_id`)."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
