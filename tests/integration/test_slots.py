"""`hookcore.concurrency.Slots` against a real nats-server: the slots of ``max_concurrency=`` caps,
kept in the state bucket, taken with compare-and-set by any number of workers at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from nats import connect
from nats.js.errors import KeyNotFoundError

from hookcore.catalog import STATE_BUCKET, slots_key
from hookcore.concurrency import Cap, Slots
from hookcore.embedded import EmbeddedNats

LEASE = 30.0
T = TypeVar("T")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def _slots(server: EmbeddedNats, clock: Clock, bucket: str) -> AsyncIterator[Slots]:
    nc = await connect(server.url)
    try:
        js = nc.jetstream()
        try:
            kv = await js.key_value(bucket)
        except Exception:
            kv = await js.create_key_value(bucket=bucket, history=1)
        yield Slots(kv, LEASE, clock)
    finally:
        await nc.close()


def _run(server: EmbeddedNats, test: Callable[[Slots, Clock], Awaitable[T]], bucket: str) -> T:
    async def run() -> T:
        clock = Clock()
        async with _slots(server, clock, bucket) as slots:
            return await test(slots, clock)

    return asyncio.run(run())


def test_a_cap_has_its_limit_of_slots(nats: EmbeddedNats) -> None:
    cap = Cap(slots_key("acme", "erp", "Order created"), 2)

    async def test(slots: Slots, clock: Clock) -> None:
        assert await slots.take((cap,), "e1") is None
        assert await slots.take((cap,), "e2") is None
        assert await slots.take((cap,), "e3") == cap
        assert await slots.take((cap,), "e1") is None  # delivered again: its own slot
        assert await slots.take((cap,), "e3") == cap
        await slots.give_back((cap,), "e1")
        assert await slots.take((cap,), "e3") is None
        # Another customer's slots are its own.
        assert await slots.take((Cap(slots_key("umbrella", "erp", "Order created"), 2),), "e4") is None

    _run(nats, test, "slots_limit")


def test_slots_are_taken_under_every_cap_or_none(nats: EmbeddedNats) -> None:
    integration, flow = Cap(slots_key("acme", "erp"), 5), Cap(slots_key("acme", "erp", "Sync"), 1)

    async def test(slots: Slots, clock: Clock) -> None:
        assert await slots.take((integration, flow), "e1") is None
        assert await slots.take((integration, flow), "e2") == flow
        # e2 holds nothing under the integration's cap: four more fit there.
        for n in range(3, 7):
            assert await slots.take((integration,), f"e{n}") is None
        assert await slots.take((integration,), "e7") == integration

    _run(nats, test, "slots_all_or_none")


def test_a_lease_ends_unless_renewed(nats: EmbeddedNats) -> None:
    cap = Cap(slots_key("acme", "erp"), 1)

    async def test(slots: Slots, clock: Clock) -> None:
        assert await slots.take((cap,), "dies") is None
        clock.now += LEASE - 1
        assert await slots.take((cap,), "next") == cap
        clock.now += 2  # the lease ended: its worker died, say
        assert await slots.take((cap,), "next") is None
        clock.now += LEASE - 1
        await slots.renew((cap,), "next")
        clock.now += LEASE - 1
        assert await slots.take((cap,), "other") == cap
        # Taken again by its own execution (delivered again) just before it ends: it starts over.
        assert await slots.take((cap,), "next") is None
        clock.now += LEASE - 1
        assert await slots.take((cap,), "other") == cap

    _run(nats, test, "slots_leases")


def test_the_last_slot_given_back_deletes_the_entry(nats: EmbeddedNats) -> None:
    cap = Cap(slots_key("acme", "erp"), 1)

    async def test(slots: Slots, clock: Clock) -> None:
        for _ in range(3):  # taken again after the delete
            assert await slots.take((cap,), "e1") is None
            await slots.give_back((cap,), "e1")
            await slots.give_back((cap,), "e1")  # twice: nothing to give back
        nc = await connect(nats.url)
        try:
            kv = await nc.jetstream().key_value("slots_delete")
            try:
                await kv.get(cap.key)
                raise AssertionError("the entry is still there")
            except KeyNotFoundError:
                pass
        finally:
            await nc.close()

    _run(nats, test, "slots_delete")


def test_workers_taking_at_once_never_exceed_the_limit(nats: EmbeddedNats) -> None:
    """Four workers (connections) ask for 40 slots of a cap of 3 at the same moment."""
    cap = Cap(slots_key("acme", "erp"), 3)

    async def run() -> list[Cap | None]:
        clock = Clock()
        async with (
            _slots(nats, clock, STATE_BUCKET + "_race") as a,
            _slots(nats, clock, STATE_BUCKET + "_race") as b,
            _slots(nats, clock, STATE_BUCKET + "_race") as c,
            _slots(nats, clock, STATE_BUCKET + "_race") as d,
        ):
            workers = [a, b, c, d]
            return await asyncio.gather(*(workers[n % 4].take((cap,), f"e{n}") for n in range(40)))

    answers = asyncio.run(run())
    assert answers.count(None) == 3
    assert answers.count(cap) == 37
