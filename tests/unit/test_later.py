"""`hookcore.later.Later`: a task made only when its moment comes (the heartbeats, the running record)."""

from __future__ import annotations

import asyncio

from hookcore.later import Later


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
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert tasks  # the beats' task, started when due
        later.cancel()
        await asyncio.sleep(0)
        return started, all(t.cancelled() or t.done() for t in tasks)

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
