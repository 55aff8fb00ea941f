"""Counting ingress machines for the rate-limit split, against a real nats-server.

Liveness is judged on JetStream's timestamps: machines whose own clocks
disagree still count each other, and a silent machine still drops out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hookcore.config import Settings
from hookcore.jetstream import JetStream, connect
from hookcore.nodes import NodeRegistry, live_count
from support import running_nats

BEAT = 0.2
TTL = 5.0
"""25 beats: a test process stalled for seconds on a busy machine still counts both."""


async def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {timeout}s"
        await asyncio.sleep(0.05)


def test_live_count_compares_stamps_with_the_newest() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    assert live_count({}, TTL) == 1
    assert live_count({"a": t, "b": t - timedelta(seconds=TTL / 2)}, TTL) == 2
    assert live_count({"a": t, "b": t - timedelta(seconds=TTL * 1.5)}, TTL) == 1


def test_machines_with_skewed_clocks_count_each_other(tmp_path: Path) -> None:
    async def scenario(url: str) -> None:
        settings = Settings.load(nats_url=url)
        jets: list[JetStream] = [await connect(settings, name=f"node-{i}") for i in range(2)]
        # One machine's clock stopped at the epoch, the other's an hour ahead of real time:
        # with liveness judged on local clocks the second would never count the first.
        clocks: list[Callable[[], float]] = [lambda: 0.0, lambda: time.time() + 3600]
        seen: list[list[int]] = [[], []]
        nodes = [
            NodeRegistry(jet.nodes, seen[i].append, f"machine-{i}", clock=clocks[i], heartbeat=BEAT, ttl=TTL)
            for i, jet in enumerate(jets)
        ]
        try:
            for node in nodes:
                await node.start()
            await _until(lambda: [n.count for n in nodes] == [2, 2], 20, "both counting 2 machines")
            # ... and they keep counting 2 over 15 heartbeats (a skew-induced drop would show).
            beats = [len(seen[0]), len(seen[1])]
            await asyncio.sleep(15 * BEAT)
            assert [n.count for n in nodes] == [2, 2]
            assert [len(seen[0]), len(seen[1])] == beats, seen
            # A machine that stops beating drops out on NATS's clock, whatever the local clocks say.
            await nodes[1].stop()
            await _until(lambda: nodes[0].count == 1, 20, "the silent machine dropping out")
        finally:
            for node in nodes:
                await node.stop()
            for jet in jets:
                await jet.close()

    with running_nats(tmp_path) as server:
        asyncio.run(scenario(server.url))
