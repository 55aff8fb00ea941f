"""Large bodies and results in the object store (`hookcore.objects`), against a real nats-server:
written with every chunk in flight, readable by nats-py (and what nats-py wrote readable by
hookcore), stored whole or not at all."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from hookcore.config import Settings
from hookcore.errors import NotFound, ObjectDamaged, StorageFull
from hookcore.jetstream import JetStream, connect
from hookcore.objects import OBJECTS_BUCKET, OBJECTS_STREAM, get_object, put_object
from hookcore.publisher import Publisher
from support import running_nats

MIB = 1024 * 1024


@asynccontextmanager
async def _connected(url: str, **settings: object) -> AsyncIterator[tuple[JetStream, Publisher]]:
    config = Settings.load(nats_url=url, **settings)
    jet = await connect(config, name="test")
    publisher = Publisher(url, config.publish_timeout, "test-publisher")
    await publisher.start()
    try:
        yield jet, publisher
    finally:
        await publisher.stop()
        await jet.close()


async def _chunk_messages(jet: JetStream) -> int:
    info = await jet.js.stream_info(OBJECTS_STREAM, subjects_filter=f"$O.{OBJECTS_BUCKET}.C.>")
    return sum((info.state.subjects or {}).values())


@pytest.mark.parametrize(
    "size", [1, 960 * 1024, 960 * 1024 + 1, 5 * MIB + 3], ids=["1B", "1chunk", "2chunks", "5MiB"]
)
def test_what_hookcore_writes_nats_py_reads_and_back(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)

    async def run() -> None:
        async with _connected(server.url) as (jet, publisher):
            await put_object(jet, publisher, "ours", data)
            assert (await jet.objects.get("ours")).data == data
            assert await get_object(jet, "ours") == data
            await jet.objects.put("theirs", data)
            assert await get_object(jet, "theirs") == data
            info = await jet.objects.get_info("ours")
            assert info.size == size
            assert info.chunks == -(-size // jet.max_inline)

    with running_nats(tmp_path) as server:
        asyncio.run(run())


def test_a_value_the_bucket_has_no_room_for_is_not_stored_at_all(tmp_path: Path) -> None:
    async def run() -> None:
        async with _connected(server.url, max_object_bytes=MIB + MIB // 2) as (jet, publisher):
            with pytest.raises(StorageFull):
                await put_object(jet, publisher, "big", os.urandom(3 * MIB))
            with pytest.raises(NotFound):
                await get_object(jet, "big")
            # the chunks stored before the refusal were purged: the room is there again
            assert await _chunk_messages(jet) == 0
            small = os.urandom(MIB)
            await put_object(jet, publisher, "fits", small)
            assert await get_object(jet, "fits") == small

    with running_nats(tmp_path) as server:
        asyncio.run(run())


def test_an_object_missing_a_chunk_is_damaged_not_silently_short(tmp_path: Path) -> None:
    async def run() -> None:
        async with _connected(server.url) as (jet, publisher):
            await put_object(jet, publisher, "cut", os.urandom(2 * MIB))
            info = await jet.objects.get_info("cut")
            stream = OBJECTS_STREAM
            first = await jet.js.get_msg(
                stream, subject=f"$O.{OBJECTS_BUCKET}.C.{info.nuid}", next=True, seq=1
            )
            await jet.js.delete_msg(stream, first.seq)
            with pytest.raises(ObjectDamaged, match="do not match"):
                await get_object(jet, "cut", timeout=10)

    with running_nats(tmp_path) as server:
        asyncio.run(run())
