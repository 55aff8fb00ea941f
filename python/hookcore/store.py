"""Records kept in JetStream KV: endpoints, instances, customers, executions and results (their
buckets and keys are `hookcore.catalog`'s and `hookcore.records`'s)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Literal

import msgspec
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from hookcore.bounds import encode_within
from hookcore.catalog import config_entry
from hookcore.envelope import Envelope, decode_envelope, from_micros
from hookcore.errors import NotFound, WriteConflict
from hookcore.index import entry_subject, remove_entry
from hookcore.integration import InstanceConfig
from hookcore.jetstream import JetStream
from hookcore.later import Later
from hookcore.objects import get_object, put_object, result_object
from hookcore.publisher import Publisher
from hookcore.queue import stored_request
from hookcore.records import record_subject, result_subject
from hookcore.steps import LogLine, StepRecord

log = logging.getLogger("hookcore.store")


class EndpointRecord(msgspec.Struct, rename="camel", frozen=True):
    """Routing record of one webhook URL. KEEP IN SYNC with ``EndpointSpec`` in rust/route/spec.rs."""

    endpoint: str
    integration: str
    kind: str
    """``instance_and_flow``, ``instance`` or ``shared``."""
    instance: str | None = None
    flow: str | None = None


class InstanceRecord(msgspec.Struct, rename="camel"):
    """An integration deployed for a customer. KEEP IN SYNC with ``InstanceSpec`` in rust/route/spec.rs."""

    id: str
    integration: str
    customer: str
    name: str
    config: InstanceConfig
    endpoints: dict[str, str]
    """Flow name -> endpoint id of its URL (one shared id per instance or integration
    for ``instance`` and ``shared`` endpoint configurations)."""
    created_at: datetime
    api_key_ids: dict[str, list[str]] = msgspec.field(default_factory=dict)
    """Flow name -> ids from which its API keys are derived with the server secret."""
    api_key_hashes: dict[str, list[str]] = msgspec.field(default_factory=dict)
    """Flow name -> SHA-256 (hex) of each valid API key; keys are never stored."""


class CustomerRecord(msgspec.Struct, rename="camel"):
    external_id: str
    created_at: datetime


Status = Literal["queued", "running", "succeeded", "failed", "dead"]
FINAL_STATUSES = frozenset({"succeeded", "failed", "dead"})


class ExecutionView(msgspec.Struct, rename="camel"):
    """``GET /api/executions/{id}`` (SPEC section 5)."""

    id: str
    status: Status
    integration: str
    flow: str
    instance: str
    customer: str
    received_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = 0
    error: str | None = None
    """The message of the last failure (what a synchronous caller was answered)."""
    error_type: str | None = None
    """The type of the exception behind ``error`` (``KeyError``, ``myflows.Refused``); None when
    the failure was no exception of the flow's (its worker kept dying, say)."""
    traceback: str | None = None
    """The traceback of that exception, from the flow's code on."""
    steps: list[StepRecord] = msgspec.field(default_factory=list)
    logs: list[LogLine] = msgspec.field(default_factory=list)
    replay_of: str | None = None
    """The execution this one replays (None: a request received from a sender)."""
    replayed_as: list[str] = msgspec.field(default_factory=list)
    """Executions that replay this one, oldest first."""


class ExecutionRecord(ExecutionView):
    """The state of one execution as stored: the view plus hookcore's bookkeeping."""

    failures: int = 0
    result_content_type: str | None = None
    result_in_object_store: bool = False
    result: bytes | None = None
    """A result of at most `INLINE_RESULT_BYTES`, kept in the record itself (no write of its own)."""
    waits: int = 0
    """Deliveries handed back because a max_concurrency of its flow was reached (no runs:
    `hookcore.worker` does not count them against ``max_redeliveries``)."""
    indexed_status: str | None = None
    """The status this execution is filed under in the executions index (`hookcore.index`);
    None: not filed (a record written before the index existed)."""

    def view(self) -> ExecutionView:
        """What the control plane shows: the record without hookcore's bookkeeping."""
        return ExecutionView(**{name: getattr(self, name) for name in ExecutionView.__struct_fields__})


_json = msgspec.json.Encoder()


def encode(record: msgspec.Struct) -> bytes:
    return _json.encode(record)


class Records:
    """Reads execution records, results and stored requests, by execution id (`RecordWriter` writes)."""

    def __init__(self, jet: JetStream) -> None:
        self._jet = jet
        self._decode = msgspec.json.Decoder(ExecutionRecord).decode

    async def get(self, execution_id: str) -> ExecutionRecord:
        """The record, or a `queued` one built from the stored request; `NotFound` otherwise."""
        entry = await _kv_get(self._jet.records, execution_id)
        if entry is not None:
            return self._decode(entry)
        envelope = await self.request(execution_id)
        return queued_record(envelope)

    async def find(self, execution_id: str) -> ExecutionRecord | None:
        entry = await _kv_get(self._jet.records, execution_id)
        return None if entry is None else self._decode(entry)

    async def find_revision(self, execution_id: str) -> tuple[ExecutionRecord | None, int]:
        """The record and its revision (what a write naming it must follow), or ``(None, 0)``."""
        if not valid_token(execution_id):
            return None, 0
        try:
            entry = await self._jet.records.get(execution_id)
        except KeyNotFoundError as e:
            # After a delete, the marker is the last message: a write must name its revision.
            return None, getattr(getattr(e, "entry", None), "revision", None) or 0
        return (None if entry.value is None else self._decode(entry.value)), entry.revision or 0

    async def request(self, execution_id: str) -> Envelope:
        """The envelope of an accepted request, from the executions stream."""
        return decode_envelope(await self._stored_request(execution_id))

    async def stored(self, execution_id: str) -> bool:
        """Whether the executions stream holds ``execution_id``'s request."""
        try:
            await self._stored_request(execution_id)
        except NotFound:
            return False
        return True

    async def _stored_request(self, execution_id: str) -> bytes:
        if not valid_token(execution_id):
            raise NotFound(f"No execution with id {execution_id!r}.")
        data = await stored_request(self._jet, execution_id)
        if data is None:
            raise NotFound(f"No execution with id {execution_id!r}.")
        return data

    async def result(self, execution_id: str) -> tuple[bytes, str]:
        """The last step's result and its content type; `NotFound` until the execution succeeded."""
        record = await self.get(execution_id)
        if record.status != "succeeded" or record.result_content_type is None:
            raise NotFound(f"Execution {execution_id} has no result: its status is {record.status}.")
        if record.result is not None:
            data: bytes | None = record.result
        elif record.result_in_object_store:
            try:
                data = await get_object(self._jet, result_object(execution_id))
            except NotFound:
                data = None
        else:
            data = await _kv_get(self._jet.results, execution_id)
        if data is None:
            raise NotFound(f"The result of execution {execution_id} has expired.")
        return data, record.result_content_type


INLINE_RESULT_BYTES = 16 * 1024
"""Results up to this size (and an eighth of ``max_record_bytes``) go in the execution record:
most flows return a little JSON, and the record is written anyway."""

# Reads and writes `RecordWriter.settle` tries before giving up on a record that keeps changing.
SETTLE_TRIES = 5


def expect_last(revision: int) -> bytes:
    """NATS headers: store the publish only if its subject's last message is ``revision`` (0: none)."""
    return b"NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: %d\r\n\r\n" % revision


class RecordWriter:
    """The worker's writes: execution records, their index entries, and results.

    KV puts are JetStream publishes; they go through the `Publisher` (the
    protocol in Rust), the worker's busiest use of NATS after fetching.

    A record write names the revision it follows
    (``Nats-Expected-Last-Subject-Sequence``), so a worker that lost an
    execution to another one (it stalled past ack_wait, say) cannot write
    over what the other wrote since: a final record is never replaced. Each
    record is encoded within ``max_record_bytes`` (see `hookcore.bounds`).

    A write that changes the status also files the execution under it in the
    index (`hookcore.index`): the new entry is published beside the record, and
    once the record is written the old entry goes. A write that lost (another
    came first) takes its new entry back.
    """

    def __init__(self, jet: JetStream, publisher: Publisher, max_record_bytes: int) -> None:
        self._jet = jet
        self._publisher = publisher
        self._records = Records(jet)
        self.max_record_bytes = min(max_record_bytes, jet.max_inline)

    def put_later(self, record: ExecutionRecord, last: int, delay: float) -> LaterPut:
        """`put` of ``record`` as it is now, ``delay`` seconds from now unless `LaterPut.revision`
        is asked first."""
        return LaterPut(self, msgspec.structs.replace(record), record, last, delay)

    async def put(self, record: ExecutionRecord, last: int) -> int | None:
        """Write ``record`` if its latest revision is still ``last`` (0: none yet).

        Returns the new revision, or None when another write came first.
        """
        return await self._put(record, last, record)

    async def _put(self, record: ExecutionRecord, last: int, original: ExecutionRecord) -> int | None:
        """Write ``record`` (and its index entry when its status changed, beside it); once
        written, ``original`` (``record`` or what it copies) says where it is filed too."""
        old_status, status = record.indexed_status, record.status
        record.indexed_status = status
        writes = [
            self._publisher.publish(
                record_subject(record.id),
                encode_within(record, self.max_record_bytes),
                headers=expect_last(last),
            )
        ]
        if status != old_status:
            writes.append(self._publisher.publish(self._entry(record, status), b""))
        written, *filed = await asyncio.gather(*writes, return_exceptions=True)
        if isinstance(written, BaseException):
            record.indexed_status = old_status
            if filed and not isinstance(filed[0], BaseException):
                await self._take_back(record, status)
            if isinstance(written, WriteConflict):
                return None
            raise written
        original.indexed_status = status
        if filed and isinstance(filed[0], BaseException):
            log.warning("execution %s: its index entry was not written (%s)", record.id, filed[0])
        elif filed and old_status is not None:
            await remove_entry(self._jet, self._entry(record, old_status))
        return written

    async def _take_back(self, record: ExecutionRecord, status: str) -> None:
        """Purge the entry a lost write filed under ``status``, unless the record that won is
        filed there too (the entry is then its own)."""
        current = await self._records.find(record.id)
        if current is None or current.indexed_status != status:
            await remove_entry(self._jet, self._entry(record, status))

    @staticmethod
    def _entry(record: ExecutionRecord, status: str) -> str:
        return entry_subject(record.id, record.received_at, record.customer, record.flow, status)

    async def settle(self, record: ExecutionRecord, last: int | None) -> ExecutionRecord:
        """Write how a delivery ended (a final status, or queued for a retry) after revision ``last``.

        ``last`` None: not known (the running write failed or was not acked).
        Returns the record as it now stands: ``record`` once written; or, when
        another delivery wrote meanwhile, what that one wrote if it is final or
        if ``record`` is not (the other delivery carries on). A final record is
        never replaced. A record with this delivery's ``started_at`` is its own
        running write, followed like any other.
        """
        for attempt in range(SETTLE_TRIES):
            if last is not None and await self.put(record, last) is not None:
                return record
            current, last = await self._records.find_revision(record.id)
            if current is None:
                continue
            record.replayed_as = current.replayed_as  # a replay's link (`add_replay`) is kept
            record.indexed_status = current.indexed_status
            mine = record.started_at is not None and current.started_at == record.started_at
            if current.status in FINAL_STATUSES or (record.status not in FINAL_STATUSES and not mine):
                return current
            await asyncio.sleep(0.01 * attempt)  # a replica behind the leader catches up
        raise WriteConflict(f"the record of execution {record.id} kept changing over {SETTLE_TRIES} writes")

    async def add_replay(self, execution_id: str, replay_id: str) -> None:
        """Add ``replay_id`` to the ``replayed_as`` of ``execution_id``'s record.

        Written after the revision read, like every record write: a worker writing
        the record meanwhile makes this read and write again, and a worker whose
        write this one beat carries the link forward (`settle`).
        """
        for attempt in range(SETTLE_TRIES):
            current, last = await self._records.find_revision(execution_id)
            if current is None:
                raise NotFound(f"Execution {execution_id} has no record.")
            current.replayed_as.append(replay_id)
            if await self.put(current, last) is not None:
                return
            await asyncio.sleep(0.01 * attempt)
        raise WriteConflict(
            f"the record of execution {execution_id} kept changing over {SETTLE_TRIES} writes"
        )

    async def put_result(self, record: ExecutionRecord, data: bytes, content_type: str) -> None:
        """Note the result in ``record``: in it when small (written with it), else stored first,
        in the results bucket or, when too big for KV, in the object store."""
        record.result_content_type = content_type
        if len(data) <= min(INLINE_RESULT_BYTES, self.max_record_bytes // 8):
            record.result = data
            return
        record.result_in_object_store = len(data) > self._jet.max_inline
        if record.result_in_object_store:
            await put_object(self._jet, self._publisher, result_object(record.id), data)
        else:
            await self._publisher.publish(result_subject(record.id), data)


class LaterPut:
    """A record write waiting for its moment (`RecordWriter.put_later`); most executions end
    before it and never make the write."""

    def __init__(
        self,
        writer: RecordWriter,
        copy: ExecutionRecord,
        original: ExecutionRecord,
        last: int,
        delay: float,
    ) -> None:
        self._last = last
        self._write = Later(delay, lambda: writer._put(copy, last, original))

    async def revision(self) -> int | None:
        """The record's revision now: the one it followed when the write had not begun (it never
        will), else the write's (None: another write came first). Raises what the write raised."""
        task = self._write.task
        if task is None:
            self._write.cancel()
            return self._last
        return await task


def queued_record(envelope: Envelope) -> ExecutionRecord:
    return ExecutionRecord(
        id=envelope.id,
        status="queued",
        integration=envelope.integration,
        # Published envelopes always name their flow (the ingress sets the one
        # a preprocess picks); "" keeps the record of a malformed one readable.
        flow=envelope.flow or "",
        instance=envelope.instance,
        customer=envelope.customer,
        received_at=from_micros(envelope.received_at),
        replay_of=envelope.replay_of,
    )


class ConfigView:
    """An in-memory copy of the configuration bucket, kept current by a KV watch.

    ``on_endpoint(endpoint_id, raw_record_or_None)`` and ``on_instance(...)`` hear
    every change (None: removed); ``instances`` holds every deployed instance.
    """

    def __init__(
        self,
        on_endpoint: Callable[[str, bytes | None], None] | None = None,
        on_instance: Callable[[str, bytes | None], None] | None = None,
    ) -> None:
        self._on_endpoint = on_endpoint
        self._on_instance = on_instance
        self.instances: dict[str, InstanceRecord] = {}
        self._decode_instance = msgspec.json.Decoder(InstanceRecord).decode
        self._task: asyncio.Task[None] | None = None

    async def start(self, kv: KeyValue) -> None:
        """Load everything, then follow changes in the background."""
        watcher = await kv.watchall()
        loaded = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._follow(watcher, loaded))
        await loaded

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _follow(self, watcher: KeyValue.KeyWatcher, loaded: asyncio.Future[None]) -> None:
        async for entry in watcher:
            if entry is None:  # the initial values are all in
                if not loaded.done():
                    loaded.set_result(None)
                continue
            try:
                self._apply(entry.key, None if entry.operation in ("DEL", "PURGE") else entry.value)
            except Exception:
                log.exception("ignoring configuration entry %r that cannot be applied", entry.key)
            if not loaded.done() and entry.delta == 0:
                loaded.set_result(None)

    def _apply(self, key: str, value: bytes | None) -> None:
        kind, name = config_entry(key)
        if kind == "endpoint":
            if self._on_endpoint is not None:
                self._on_endpoint(name, value)
        elif kind == "instance":
            instance_id = name
            if self._on_instance is not None:
                self._on_instance(instance_id, value)
            if value is None:
                self.instances.pop(instance_id, None)
            else:
                self.instances[instance_id] = self._decode_instance(value)


async def _kv_get(kv: KeyValue, key: str) -> bytes | None:
    if not valid_token(key):
        return None
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None
    return entry.value


_TOKEN = re.compile(r"[-_=A-Za-z0-9]+(?:\.[-_=A-Za-z0-9]+)*")
MAX_TOKEN = 1024
"""Longest id looked up: a subject of ~4 KiB makes nats-server refuse the protocol line and
close the connection, which every request of the process shares."""


def valid_token(key: str) -> bool:
    """Whether an id from a URL can be part of a KV key and a subject: at most `MAX_TOKEN` ASCII
    letters, digits and ``-_=``, in dot-separated non-empty parts (``str.isalnum`` would also
    accept "²" and "é", which NATS refuses)."""
    return len(key) <= MAX_TOKEN and _TOKEN.fullmatch(key) is not None
