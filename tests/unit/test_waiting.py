"""`hookcore.concurrency.Waiting`: executions a worker holds until their cap has a free slot, with
slots counted in memory (`tests/integration/test_slots.py` runs the real ones on JetStream)."""

from __future__ import annotations

import asyncio
from typing import Any

from hookcore.concurrency import Cap, Waiting

FLOW = Cap("slots.flow", 1)
INTEGRATION = Cap("slots.integration", 2)


class FakeSlots:
    """Slots in a dict, each take answered after a pause (a KV round trip)."""

    def __init__(self) -> None:
        self.held: dict[str, set[str]] = {}
        self.limits: dict[str, int] = {}

    async def take(self, caps: tuple[Cap, ...], execution_id: str) -> Cap | None:
        await asyncio.sleep(0.001)
        for cap in caps:
            holders = self.held.setdefault(cap.key, set())
            if execution_id not in holders and len(holders) >= cap.limit:
                await self.give_back(caps, execution_id)
                return cap
            holders.add(execution_id)
        return None

    async def give_back(self, caps: tuple[Cap, ...], execution_id: str) -> None:
        for cap in caps:
            self.held.get(cap.key, set()).discard(execution_id)


class FakeMsg:
    def __init__(self, name: str) -> None:
        self.name = name
        self.progress = 0
        self.naks = 0

    async def in_progress(self) -> None:
        self.progress += 1

    async def nak(self) -> None:
        await asyncio.sleep(0.002)  # a publish: runs ending meanwhile give their slots back
        self.naks += 1


def _waiting(slots: FakeSlots, limit: int = 8) -> tuple[Waiting, list[str]]:
    resumed: list[str] = []
    waiting = Waiting(slots, lambda msg: resumed.append(msg.name), limit=limit, ack_wait=30)  # type: ignore[arg-type]
    return waiting, resumed


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0.005)


def test_a_slot_given_back_starts_the_oldest_waiting_at_once() -> None:
    async def run() -> None:
        slots = FakeSlots()
        waiting, resumed = _waiting(slots)
        assert await slots.take((FLOW,), "running") is None
        msgs: dict[str, Any] = {name: FakeMsg(name) for name in ("first", "second")}
        for name, msg in msgs.items():
            assert await waiting.hold(msg, name, (FLOW,), FLOW)
        assert len(waiting) == 2 and all(m.progress == 1 for m in msgs.values())  # told as it waits
        await slots.give_back((FLOW,), "running")
        waiting.freed((FLOW,))
        await _settle()  # no waiting.run(): the give-back alone starts it
        assert resumed == ["first"] and len(waiting) == 1
        assert msgs["first"].progress == 2  # told again as it is resumed
        assert slots.held[FLOW.key] == {"first"}

    asyncio.run(run())


def test_a_waiter_whose_other_cap_fills_waits_for_that_one() -> None:
    async def run() -> None:
        slots = FakeSlots()
        waiting, resumed = _waiting(slots)
        both = (INTEGRATION, FLOW)
        assert await slots.take((FLOW,), "a") is None  # the flow's one slot
        assert await waiting.hold(FakeMsg("b"), "b", both, FLOW)  # type: ignore[arg-type]
        assert await slots.take((INTEGRATION,), "x") is None
        assert await slots.take((INTEGRATION,), "y") is None  # the integration is full too
        await slots.give_back((FLOW,), "a")
        waiting.freed((FLOW,))
        await _settle()
        assert resumed == [] and len(waiting) == 1  # now waiting for the integration's cap
        assert slots.held[FLOW.key] == set()  # all or none: it holds nothing meanwhile
        await slots.give_back((INTEGRATION,), "x")
        waiting.freed((INTEGRATION,))
        await _settle()
        assert resumed == ["b"] and len(waiting) == 0

    asyncio.run(run())


def test_a_worker_holds_at_most_its_limit_and_none_once_closing() -> None:
    async def run() -> None:
        slots = FakeSlots()
        waiting, _ = _waiting(slots, limit=2)
        msgs = [FakeMsg(str(n)) for n in range(3)]
        held = [await waiting.hold(m, m.name, (FLOW,), FLOW) for m in msgs]  # type: ignore[arg-type]
        assert held == [True, True, False]
        await waiting.close()
        assert [m.naks for m in msgs] == [1, 1, 0] and len(waiting) == 0
        assert not await waiting.hold(msgs[2], "2", (FLOW,), FLOW)  # type: ignore[arg-type]

    asyncio.run(run())


def test_closing_while_slots_are_given_back_hands_every_waiter_back_once() -> None:
    """A worker stopping: its runs end and give slots back while it hands the waiters back."""

    async def run() -> None:
        slots = FakeSlots()
        waiting, resumed = _waiting(slots, limit=100)
        assert await slots.take((FLOW,), "running") is None
        msgs = [FakeMsg(str(n)) for n in range(50)]
        for m in msgs:
            assert await waiting.hold(m, m.name, (FLOW,), FLOW)  # type: ignore[arg-type]

        async def give_backs() -> None:
            for _ in range(20):
                await slots.give_back((FLOW,), "running")
                waiting.freed((FLOW,))
                await asyncio.sleep(0)

        await asyncio.gather(waiting.close(), give_backs())
        await _settle()
        assert all(m.naks + (m.name in resumed) == 1 for m in msgs)
        assert len(waiting) == 0

    asyncio.run(run())
