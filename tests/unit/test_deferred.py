"""`hookcore.worker.Deferred`: the heartbeat's task, made only when its first beat is due."""

from __future__ import annotations

import asyncio

from hookcore.worker import Deferred


def test_a_deferred_task_cancelled_in_time_never_starts() -> None:
    async def run() -> list[str]:
        started: list[str] = []

        async def beat() -> None:
            started.append("beat")

        Deferred(0.05, beat).cancel()
        await asyncio.sleep(0.1)
        return started

    assert asyncio.run(run()) == []


def test_a_deferred_task_starts_when_due_and_is_cancelled_with_it() -> None:
    async def run() -> tuple[list[str], bool]:
        started: list[str] = []
        forever = asyncio.Event()

        async def beats() -> None:
            started.append("beat")
            await forever.wait()

        deferred = Deferred(0.01, beats)
        await asyncio.sleep(0.05)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert tasks  # the beats' task, started when due
        deferred.cancel()
        await asyncio.sleep(0)
        return started, all(t.cancelled() or t.done() for t in tasks)

    started, ended = asyncio.run(run())
    assert started == ["beat"] and ended
