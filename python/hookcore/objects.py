"""Bodies and results too large for one message, in the object store bucket ``hookcore_objects``
(this module owns its layout: no other names the bucket, its stream or its subjects).

The layout is NATS's object store (chunks on ``$O.<bucket>.C.<nuid>``, then a
meta message on ``$O.<bucket>.M.<base64 name>`` that rolls up the last one),
so ``nats object get`` and nats-py read what hookcore writes. Writing goes
through hookcore's publisher instead of nats-py's ``ObjectStore.put``, which
publishes one chunk and waits for its ack before the next: here every chunk
is in flight at once, each written to the socket from the value's own buffer
(no copy into a frame), and the meta follows only when JetStream has
acknowledged every chunk, so a reader never finds a meta whose chunks are
missing. Each chunk carries a message id, so the publisher resends it after a
failover and JetStream stores it once. Reading fetches every chunk with one
request of a pull consumer and joins them once (nats-py's ``get`` receives them
on an ordered push consumer, which stalls on flow control, and appends each to
a growing ``bytes``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from hookcore.errors import NotFound, ObjectDamaged
from hookcore.publisher import Publisher

if TYPE_CHECKING:
    from hookcore.jetstream import JetStream

OBJECTS_BUCKET = "hookcore_objects"
"""Bodies and results too big for one message: ``body.{execution_id}``, ``result.{execution_id}``."""
OBJECTS_STREAM = f"OBJ_{OBJECTS_BUCKET}"
"""The bucket's stream (NATS's object store layout: chunks, then a meta message per object)."""

_ROLLUP = b"NATS/1.0\r\nNats-Rollup: sub\r\n\r\n"
_DIGEST = "SHA-256="


def _chunks_subject(nuid: str) -> str:
    return f"$O.{OBJECTS_BUCKET}.C.{nuid}"


def _meta_subject(name: str) -> str:
    return f"$O.{OBJECTS_BUCKET}.M.{base64.urlsafe_b64encode(name.encode()).decode()}"


def body_object(execution_id: str) -> str:
    """The object holding the body of a request too large to be stored inline."""
    return f"body.{execution_id}"


def result_object(execution_id: str) -> str:
    """The object holding a result too large to be stored inline."""
    return f"result.{execution_id}"


async def put_object(jet: JetStream, publisher: Publisher, name: str, data: bytes) -> None:
    """Store ``data`` as the new object ``name`` (never written before: an execution's own name).

    Raises `QueueUnavailable` (`StorageFull` when the bucket has no room) when
    JetStream did not store it; chunks stored before the failure are purged.
    """
    chunk = jet.max_inline
    nuid = uuid.uuid4().hex
    subject = _chunks_subject(nuid)
    view = memoryview(data)
    digest = asyncio.create_task(asyncio.to_thread(_sha256, view))  # hashlib releases the GIL
    try:
        sends = publisher.send_chunks(subject, view, chunk, nuid)
    except BaseException:
        digest.cancel()
        raise
    try:
        await asyncio.gather(*sends)
        meta = {
            "name": name,
            "bucket": OBJECTS_BUCKET,
            "nuid": nuid,
            "size": len(data),
            "mtime": datetime.now(UTC).isoformat(),
            "chunks": len(sends),
            "digest": _DIGEST + base64.urlsafe_b64encode(await digest).decode(),
            "options": {"max_chunk_size": chunk},
        }
        await publisher.publish(_meta_subject(name), json.dumps(meta).encode(), headers=_ROLLUP)
    except BaseException:
        digest.cancel()
        # Every chunk's fate known first: one still in flight could be stored after the purge.
        await asyncio.gather(*sends, return_exceptions=True)
        await _purge(jet, subject)
        raise


async def get_object(jet: JetStream, name: str, timeout: float = 60.0) -> bytes:
    """The bytes of object ``name``: its chunks joined once, checked against the meta's digest.

    `NotFound` when there is no such object (it expired with its execution),
    `ObjectDamaged` when its chunks are missing or do not match its digest."""
    try:
        info = await jet.objects.get_info(name)
    except NotFoundError:
        raise NotFound(f"object {name} does not exist (it expires with its execution)") from None
    if not info.size:
        return b""
    # A pull consumer of the object's chunks, all fetched in one request (nats-py's ordered
    # push consumer stalls on flow control: 550 ms for 10 MB here, against 40 ms).
    stream, consumer = OBJECTS_STREAM, f"get-{uuid.uuid4().hex}"
    await jet.js.add_consumer(
        stream,
        ConsumerConfig(
            name=consumer,
            filter_subject=_chunks_subject(info.nuid),
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.ALL,
            inactive_threshold=timeout,
            mem_storage=True,
        ),
    )
    chunks: list[bytes] = []
    digest = hashlib.sha256()
    try:
        subscription = await jet.js.pull_subscribe_bind(
            consumer, stream=stream, pending_bytes_limit=max(2 * info.size, 64 * 1024 * 1024)
        )
        try:
            async with asyncio.timeout(timeout):
                pending = info.chunks or 0
                while pending:  # the consumer's count of chunks not yet delivered
                    for msg in await subscription.fetch(pending, timeout=timeout):
                        chunks.append(msg.data)
                        digest.update(msg.data)
                        pending = msg.metadata.num_pending
        except (TimeoutError, NatsTimeout):
            raise ObjectDamaged(
                f"object {name}: {len(chunks)} of its {info.chunks} chunks arrived within {timeout:g}s"
            ) from None
        finally:
            await subscription.unsubscribe()
    finally:
        with contextlib.suppress(Exception):  # else it goes after inactive_threshold
            await jet.js.delete_consumer(stream, consumer)
    expected = base64.urlsafe_b64decode((info.digest or "").removeprefix(_DIGEST))
    if digest.digest() != expected or len(chunks) != info.chunks:
        raise ObjectDamaged(f"object {name}: its {len(chunks)} chunks do not match its meta's digest")
    return b"".join(chunks)


async def copy_object(jet: JetStream, publisher: Publisher, source: str, target: str) -> None:
    """Store object ``source``'s bytes again as ``target`` (a replayed execution's body)."""
    await put_object(jet, publisher, target, await get_object(jet, source))


def _sha256(data: memoryview) -> bytes:
    return hashlib.sha256(data).digest()


async def _purge(jet: JetStream, subject: str) -> None:
    # When NATS is away, the chunks stay until they expire with the bucket's max age.
    with contextlib.suppress(Exception):
        await jet.js.purge_stream(OBJECTS_STREAM, subject=subject)
