"""`hookcore.later.Later`: a task made only when its moment comes (the heartbeats, the running
record), and the running record's write through it (`store.LaterPut`)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hookcore.later import Later
from hookcore.store import LaterPut


def test_a_later_task_cancelled_in_time_never_starts() -> None:
    async def run() -> list[str]:
        started: list[str] = []

        async def beat() -> None:
            started.append("beat")

        Later(0.05, beat).cancel()
        await asyncio.sleep(0.1)
        return started

    assert asyncio.run(run()) == []


def test_a_later_task_starts_when_due_and_is_cancelled_with_it() -> None:
    async def run() -> tuple[list[str], bool]:
        started: list[str] = []
        forever = asyncio.Event()

        async def beats() -> None:
            started.append("beat")
            await forever.wait()

        later = Later(0.01, beats)
        await asyncio.sleep(0.05)
        task = later.task
        assert task is not None  # the beats' task, started when due
        later.cancel()
        await asyncio.sleep(0)
        return started, task.cancelled()

    started, ended = asyncio.run(run())
    assert started == ["beat"] and ended


def test_a_later_task_is_there_only_once_due_and_gives_its_value() -> None:
    async def run() -> tuple[bool, int]:
        async def seven() -> int:
            return 7

        later = Later(0.01, seven)
        before = later.task is None
        await asyncio.sleep(0.05)
        assert later.task is not None
        return before, await later.task

    assert asyncio.run(run()) == (True, 7)


class _Writer:
    """Stands in for `store.RecordWriter`'s compare-and-set write (`_put`)."""

    def __init__(self, result: int | Exception) -> None:
        self.result = result
        self.writes: list[int] = []

    async def _put(self, record: object, last: int, original: object) -> int:
        self.writes.append(last)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def _later_put(writer: _Writer, delay: float) -> LaterPut:
    """The running record of an execution whose last revision is 4, written ``delay`` s from now."""
    record: Any = object()  # the writer stand-in never reads it
    return LaterPut(writer, record, record, 4, delay)  # type: ignore[arg-type]


def test_a_running_record_not_yet_due_is_never_written() -> None:
    async def run() -> tuple[int | None, list[int]]:
        writer = _Writer(5)
        put = _later_put(writer, 0.05)
        revision = await put.revision()  # the run ended first
        await asyncio.sleep(0.1)
        return revision, writer.writes

    assert asyncio.run(run()) == (4, [])


def test_a_running_record_due_is_written_and_its_revision_awaited() -> None:
    async def run() -> tuple[int | None, list[int]]:
        writer = _Writer(5)
        put = _later_put(writer, 0.01)
        await asyncio.sleep(0.05)
        return await put.revision(), writer.writes

    assert asyncio.run(run()) == (5, [4])


def test_a_failed_running_record_write_is_raised_to_who_asks() -> None:
    async def run() -> None:
        put = _later_put(_Writer(OSError("nats down")), 0.01)
        await asyncio.sleep(0.05)
        await put.revision()

    with pytest.raises(OSError, match="nats down"):
        asyncio.run(run())
