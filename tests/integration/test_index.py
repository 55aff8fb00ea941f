"""The executions index (`hookcore.index`): listings page across days and filters, nothing is
missed or repeated while records are written, counts per status are exact.

Records are written as a worker writes them (`RecordWriter.put`, with ids of past days), and
listed through `GET /api/executions` of a real `hookcore serve`; counts, which only the console
shows, are read with `Executions.counts` against the same JetStream.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec

from hookcore.config import Settings
from hookcore.executions import Executions, id_at
from hookcore.jetstream import JetStream, connect
from hookcore.publisher import Publisher
from hookcore.records import record_subject
from hookcore.store import ExecutionRecord, Records, RecordWriter, encode
from support import ADMIN_TOKEN, Hookcore

NOW = datetime.now(UTC).replace(second=30, microsecond=0)


def _id_at(moment: datetime) -> str:
    """A UUIDv7 execution id of ``moment`` (random below the millisecond, as `_core.new_id`)."""
    millis = int(moment.timestamp() * 1000)
    bits = millis << 80 | 0x7 << 76 | random.getrandbits(12) << 64 | 0x2 << 62 | random.getrandbits(62)
    return str(uuid.UUID(int=bits))


def _record(moment: datetime, customer: str, flow: str, status: str = "running") -> ExecutionRecord:
    return ExecutionRecord(
        id=_id_at(moment),
        status=status,  # type: ignore[arg-type]
        integration="testapp",
        flow=flow,
        instance="i-index",
        customer=customer,
        received_at=moment,
    )


@asynccontextmanager
async def _writer(hookcore: Hookcore) -> AsyncIterator[tuple[JetStream, RecordWriter, Executions]]:
    settings = Settings.load(nats_url=hookcore.nats.url)
    jet = await connect(settings, name="test-index")
    publisher = Publisher(settings.nats_url, settings.publish_timeout, "test-index-publisher")
    await publisher.start()
    try:
        yield (
            jet,
            RecordWriter(jet, publisher, jet.max_inline),
            Executions(jet, publisher, settings.retention_seconds),
        )
    finally:
        await publisher.stop()
        await jet.close()


async def _put_all(writer: RecordWriter, records: list[ExecutionRecord]) -> list[int]:
    """Write each record as a worker's first write (running), then as it ends."""
    revisions: list[int] = []
    for start in range(0, len(records), 200):
        chunk = records[start : start + 200]
        revisions += [r or 0 for r in await asyncio.gather(*(writer.put(r, 0) for r in chunk))]
    return revisions


async def _refile(writer: RecordWriter, record: ExecutionRecord, revision: int, status: str) -> int:
    record.status = status  # type: ignore[assignment]
    written = await writer.put(record, revision)
    assert written is not None
    return written


async def _pages(client: httpx.AsyncClient, limit: int, **filters: str) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10_000):
        params: dict[str, Any] = {"limit": limit, **filters}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/api/executions", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        seen += [item["id"] for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            return seen
    raise AssertionError("paging never ended")


def _admin(hookcore: Hookcore) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=hookcore.base, timeout=60, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
    )


def test_pages_across_days_and_filters_list_every_match_once_newest_first(hookcore: Hookcore) -> None:
    customers, flows = ["ix-a", "ix-b", "ix tenant/é"], ["Quick", "Slow"]
    moments = [NOW - timedelta(minutes=7 * i, seconds=i % 3 * 20) for i in range(1200)]  # ~6 days
    rng = random.Random(7)
    records = [_record(m, rng.choice(customers), rng.choice(flows)) for m in moments for _ in range(2)]
    records += [  # more in the minutes the since/until bounds cut below, on both sides of each
        _record(moments[i] + timedelta(seconds=s), "ix-b", "Slow") for i in (40, 300) for s in (-5, 5)
    ]

    async def scenario() -> None:
        async with _writer(hookcore) as (_, writer, executions), _admin(hookcore) as client:
            revisions = await _put_all(writer, records)
            finals = ("succeeded", "failed", "dead")
            await asyncio.gather(
                *(
                    _refile(writer, r, rev, finals[i % 3])
                    for i, (r, rev) in enumerate(zip(records, revisions, strict=True))
                    if i % 4  # a quarter stays running
                )
            )
            newest = sorted((r for r in records), key=lambda r: r.id, reverse=True)
            for filters in (
                {"customer": "ix-a"},
                {"customer": "ix tenant/é", "flow": "Slow"},
                {"customer": "ix-b", "status": "running"},
                {"customer": "ix-a", "status": "failed"},
            ):
                expected = [
                    r.id for r in newest if all(getattr(r, name) == value for name, value in filters.items())
                ]
                assert len(expected) > 50
                assert await _pages(client, 97, **filters) == expected, filters

            # counts per status: exact, with and without since/until bounds that cut a minute
            # each bound falls inside a minute that holds records on both of its sides
            since, until = moments[300] + timedelta(milliseconds=1), moments[40]
            for customer, flow, after, before in (
                ("ix-a", None, None, None),
                (None, "Quick", None, None),
                ("ix-b", "Slow", id_at(since), id_at(until)),
            ):
                expected_counts = Counter(
                    r.status
                    for r in records
                    if (customer is None or r.customer == customer)
                    and (flow is None or r.flow == flow)
                    and (after is None or r.id > after)
                    and (before is None or r.id < before)
                )
                counts = await executions.counts(customer=customer, flow=flow, before=before, after=after)
                assert counts == {s: expected_counts[s] for s in counts}

    asyncio.run(scenario())


def test_nothing_is_missed_or_repeated_while_records_are_written(hookcore: Hookcore) -> None:
    """While one task pages through a customer's executions (20 at a time), others refile
    half of them (running -> succeeded) and write new ones: every execution recorded before the
    paging started is listed exactly once, and nothing is listed twice."""
    customer = "ix-moving"
    records = [_record(NOW - timedelta(seconds=11 * i), customer, "Quick") for i in range(600)]

    async def scenario() -> None:
        async with _writer(hookcore) as (_, writer, executions), _admin(hookcore) as client:
            revisions = await _put_all(writer, records)
            done = asyncio.Event()

            async def churn() -> int:
                changed = 0
                for i in range(0, len(records), 2):
                    revisions[i] = await _refile(writer, records[i], revisions[i], "succeeded")
                    await writer.put(_record(datetime.now(UTC), customer, "Quick"), 0)
                    changed += 1
                    if done.is_set():
                        break
                return changed

            writing = asyncio.create_task(churn())
            listed = await _pages(client, 20, customer=customer)
            running_listed = await _pages(client, 20, customer=customer, status="running")
            done.set()
            changed = await writing
            assert changed > 10, "the writes did not overlap the paging"
            counts = Counter(listed)
            assert [i for i, n in counts.items() if n > 1] == []
            assert {r.id for r in records} <= set(counts)
            assert listed == sorted(listed, reverse=True)
            # a status filter lists only what is running when its page is read: the ones never refiled
            assert {r.id for r in records[1::2]} <= set(running_listed)
            assert len(set(running_listed)) == len(running_listed)

            # at rest, the counts are exact
            total = await executions.counts(customer=customer)
            page = await _pages(client, 500, customer=customer)
            assert sum(total.values()) == len(page) == len(records) + changed
            succeeded = await _pages(client, 500, customer=customer, status="succeeded")
            assert total["succeeded"] == len(succeeded) == changed

    asyncio.run(scenario())


def test_a_record_from_before_the_index_is_read_by_id_and_listed_once_refiled(hookcore: Hookcore) -> None:
    """A record the previous version wrote (no index entry) is read by id as before; lists
    leave it out until its next write files it (docs/operations.md, "Upgrades")."""
    record = _record(NOW - timedelta(hours=1), "ix-old", "Quick", "succeeded")

    async def scenario() -> None:
        async with _writer(hookcore) as (jet, writer, _), _admin(hookcore) as client:
            old = msgspec.json.encode(_as_before_the_index(record))
            await jet.js.publish(record_subject(record.id), old)
            shown = (await client.get(f"/api/executions/{record.id}")).json()
            assert shown["status"] == "succeeded" and shown["customer"] == "ix-old"
            assert await _pages(client, 10, customer="ix-old") == []
            stored, revision = await Records(jet).find_revision(record.id)  # as `add_replay` reads it
            assert stored is not None and stored.indexed_status is None
            stored.replayed_as.append(str(uuid.uuid4()))
            assert await writer.put(stored, revision) is not None
            assert await _pages(client, 10, customer="ix-old") == [record.id]

    asyncio.run(scenario())


def _as_before_the_index(record: ExecutionRecord) -> Any:
    """The record as the previous version stored it: without the index fields."""
    fields = msgspec.json.decode(encode(record))
    fields.pop("indexedStatus", None)
    return fields
