"""At-least-once delivery with idempotent results (SPEC 6): an execution delivered again ends with
one final record and one result, the result of the one run that finished.

Two ways an execution is delivered again, with real processes:

- its worker dies mid-run (SIGKILL): JetStream redelivers it after ack_wait, it runs again, and
  the run that finishes is the one recorded;
- its run finished (final record written) but the ack was lost: JetStream delivers it again, and
  the worker acknowledges it without running it (hookcore/worker.py: "A redelivered execution
  whose record is already final is acknowledged without running again").

The flow ("Held", tests/apps/faults_app.py) returns what only its run can (its run number, its
worker's pid, a fresh uuid) and marks each run in ``$HOOKCORE_TEST_MARKER_DIR/{execution id}``,
so a second run cannot go unnoticed. Waits end on conditions JetStream reports (the delivery's
message acknowledged), never after a sleep.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg

from hookcore.index import INDEX_ENTRIES, INDEX_STREAM, STATUS
from hookcore.queue import (
    EXECUTIONS_STREAM,
    EXECUTIONS_SUBJECT_PREFIX,
    SHARD_CONSUMER_PREFIX,
    SYNC_CONSUMER,
    SYNC_LANE,
)
from hookcore.records import RECORDS_BUCKET, record_subject, result_subject
from support import Hookcore, running_hookcore, running_nats

FINAL = ("succeeded", "failed", "dead")
DEADLINE = 60.0


class Writes:
    """Every write of execution records, results and index entries, as JetStream receives them."""

    def __init__(self, nc: Client, subs: list[Subscription]) -> None:
        self._nc = nc
        self._subs = subs
        self.seen: list[tuple[str, bytes]] = []

    @classmethod
    async def watch(cls, nc: Client) -> Writes:
        subjects = (record_subject(">"), result_subject(">"), INDEX_ENTRIES)
        writes = cls(nc, [await nc.subscribe(subject) for subject in subjects])
        await nc.flush()
        return writes

    async def of(self, execution_id: str) -> tuple[list[dict[str, Any]], list[bytes], list[str]]:
        """What was written for ``execution_id`` until now: its record writes (decoded), its
        result writes and its index entries. Everything the server had sent before this call is
        in: the flush's answer comes after it, and nats-py queues a message as it reads it."""
        await self._nc.flush()
        for sub in self._subs:
            while sub.pending_msgs:
                msg = await sub.next_msg()
                self.seen.append((msg.subject, msg.data))
        records = [json.loads(data) for subject, data in self.seen if subject == record_subject(execution_id)]
        results = [data for subject, data in self.seen if subject == result_subject(execution_id)]
        entries = [
            subject
            for subject, _ in self.seen
            if subject.startswith(INDEX_ENTRIES[:-1]) and subject.endswith(f".{execution_id}")
        ]
        return records, results, entries


def runs(markers: Path, execution_id: str) -> list[int]:
    """The pids of the workers that started the execution's runs, in order."""
    path = markers / execution_id
    lines = path.read_text().splitlines() if path.exists() else []
    return [int(line.split()[1]) for line in lines if line.startswith("run ")]


async def stored_message(js: JetStreamContext, execution_id: str) -> RawStreamMsg:
    """The last message of the executions stream carrying ``execution_id``'s request."""
    return await js.get_last_msg(EXECUTIONS_STREAM, f"{EXECUTIONS_SUBJECT_PREFIX}.*.*.{execution_id}")


def work_queue(subject: str) -> str:
    """The durable consumer (work queue) a stored request's subject is read through
    (``{prefix}.{lane}.{shard}.{id}``, hookcore/queue.py)."""
    lane, shard = subject.removeprefix(EXECUTIONS_SUBJECT_PREFIX + ".").split(".")[:2]
    return SYNC_CONSUMER if lane == SYNC_LANE else f"{SHARD_CONSUMER_PREFIX}{shard}"


async def until_acked(js: JetStreamContext, queue: str, seq: int) -> None:
    """Wait until the message at stream sequence ``seq`` is acknowledged on ``queue`` (its ack
    floor reaches it): the delivery that acked it has done everything it does (a worker acks
    last), and nothing will deliver it again."""
    deadline = time.monotonic() + DEADLINE
    while (info := await js.consumer_info(EXECUTIONS_STREAM, queue)).ack_floor.stream_seq < seq:
        assert time.monotonic() < deadline, f"message {seq} not acked on {queue} within {DEADLINE:g}s: {info}"
        await asyncio.sleep(0.05)


async def index_entries(js: JetStreamContext, execution_id: str) -> list[str]:
    """The executions index's entries of ``execution_id`` (the subjects the index stream holds)."""
    info = await js.stream_info(
        INDEX_STREAM, subjects_filter=f"{INDEX_ENTRIES[:-1]}*.*.*.*.*.*.{execution_id}"
    )
    return list(info.state.subjects or {})


def listed(hc: Hookcore, customer: str, execution_id: str) -> list[str]:
    """The statuses under which `GET /api/executions` lists ``execution_id`` (read from the index)."""
    response = hc.admin.get("/api/executions", params={"customer": customer, "flow": "Held", "limit": 100})
    assert response.status_code == 200, response.text
    return [item["status"] for item in response.json()["items"] if item["id"] == execution_id]


def stored_result(record: dict[str, Any]) -> Any:
    """The result a written record holds (small results are kept in the record itself)."""
    return json.loads(base64.b64decode(record["result"]))


def test_a_killed_workers_execution_runs_again_and_is_recorded_once(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {"HOOKCORE_TEST_MARKER_DIR": str(markers)}
    with running_nats(tmp_path) as server, running_hookcore(server, tmp_path, env=env) as hc:
        # The flow holds until its gate opens (after the kill): the kill always lands mid-run.
        url = hc.deploy("redelivered", integration="faults")["webhookUrls"]["Held"]

        async def scenario() -> tuple[str, list[int], list[int], Any]:
            nc = await nats.connect(server.url)
            try:
                js = nc.jetstream()
                writes = await Writes.watch(nc)
                execution_id = (await asyncio.to_thread(hc.client.post, url)).json()["executionId"]
                # The fault while work is in flight: the flow has started (its marker) and its
                # `running` record reached JetStream (written beside the flow, after
                # running_record_after) when the worker dies, so the redelivery is attempt 2.
                deadline = time.monotonic() + DEADLINE
                while not runs(markers, execution_id) or not any(
                    w["status"] == "running" for w in (await writes.of(execution_id))[0]
                ):
                    assert time.monotonic() < deadline, "the flow never started"
                    await asyncio.sleep(0.01)
                victim = hc.workers[0]
                victim.kill()
                assert victim.popen.returncode == -9
                (markers / f"{execution_id}.open").touch()
                survivor = await asyncio.to_thread(hc.start_worker)
                await asyncio.to_thread(hc.wait_final, execution_id, DEADLINE)
                # Wait until the delivery that ended it is acked: the killed worker writes
                # nothing more, the survivor acks after its last write, nothing delivers it again.
                stored = await stored_message(js, execution_id)
                await until_acked(js, work_queue(stored.subject), stored.seq)
                records, results, entries = await writes.of(execution_id)
                final = [w for w in records if w["status"] in FINAL]
                assert len(final) == 1, [w["status"] for w in records]
                assert results == []  # a small result is written in the record, nothing else
                assert {e.split(".")[STATUS] for e in entries} <= {"running", "succeeded"}, entries
                assert [e.split(".")[STATUS] for e in await index_entries(js, execution_id)] == ["succeeded"]
                return (
                    execution_id,
                    [victim.popen.pid, survivor.popen.pid],
                    runs(markers, execution_id),
                    final[0],
                )
            finally:
                await nc.close()

        execution_id, pids, ran, final = asyncio.run(scenario())
        assert ran == pids  # ran, was killed, ran again in the other worker
        record = hc.execution(execution_id)
        assert record["status"] == "succeeded", record
        assert record["attempts"] == final["attempts"] == 2
        assert {name: final[name] for name in record} == record  # the API shows the one final write
        # The result is the run's that finished (the second, in the surviving worker), as written
        # with the final record.
        result = hc.result(execution_id)
        assert result.status_code == 200, result.text
        assert result.json() == stored_result(final)
        assert {k: v for k, v in result.json().items() if k != "nonce"} == {"run": 2, "pid": pids[1]}
        assert listed(hc, "redelivered", execution_id) == ["succeeded"]


def test_a_finished_execution_delivered_again_is_acked_without_running(tmp_path: Path) -> None:
    """A run finished and wrote its final record, but its ack was lost: JetStream delivers the
    execution again. Made with real processes: a copy of the very message stored for the request
    (its data and headers; another Nats-Msg-Id, so the stream's duplicate window keeps it) is
    taken from the work queue and never acked, as by a worker whose ack was lost; JetStream then
    delivers it again, after ack_wait, to a new worker, which finds the final record."""
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {"HOOKCORE_TEST_MARKER_DIR": str(markers)}
    with running_nats(tmp_path) as server, running_hookcore(server, tmp_path, env=env) as hc:
        url = hc.deploy("delivered-again", integration="faults")["webhookUrls"]["Held"] + "?open"
        execution_id = hc.client.post(url).json()["executionId"]
        before = hc.wait_final(execution_id, DEADLINE)
        assert before["status"] == "succeeded", before
        result_before = hc.result(execution_id)
        assert result_before.status_code == 200, result_before.text
        first_worker = hc.workers[0]

        async def scenario() -> tuple[int, int]:
            nc = await nats.connect(server.url)
            try:
                js = nc.jetstream()
                records = await js.key_value(RECORDS_BUCKET)
                stored = await stored_message(js, execution_id)
                queue = work_queue(stored.subject)
                await until_acked(js, queue, stored.seq)  # the run's own delivery is over
                # No worker now: the copy's first delivery goes to this test.
                assert await asyncio.to_thread(first_worker.stop) == 0, first_worker.log()
                revision = (await records.get(execution_id)).revision
                writes = await Writes.watch(nc)
                headers = {**(stored.headers or {}), "Nats-Msg-Id": f"{execution_id}.delivered-again"}
                copy = await js.publish(
                    stored.subject, stored.data, headers=headers, stream=EXECUTIONS_STREAM
                )
                assert copy.seq > stored.seq and not copy.duplicate
                # Taken and never acked: the delivery whose ack was lost.
                taken = await js.pull_subscribe_bind(durable=queue, stream=EXECUTIONS_STREAM)
                [lost] = await taken.fetch(1, timeout=DEADLINE)
                assert lost.metadata.sequence.stream == copy.seq and lost.data == stored.data
                await taken.unsubscribe()
                # A new worker gets it from JetStream again (after ack_wait) and acks it: this
                # wait ends only once it has handled that delivery.
                again = await asyncio.to_thread(hc.start_worker)
                await until_acked(js, queue, copy.seq)
                records_written, results, entries = await writes.of(execution_id)
                assert records_written == [], records_written
                assert results == [] and entries == [], (results, entries)
                assert [e.split(".")[STATUS] for e in await index_entries(js, execution_id)] == ["succeeded"]
                return again.popen.pid, (await records.get(execution_id)).revision - revision
            finally:
                await nc.close()

        second_pid, new_revisions = asyncio.run(scenario())
        assert second_pid != first_worker.popen.pid
        assert new_revisions == 0  # the same single record, never rewritten
        assert runs(markers, execution_id) == [first_worker.popen.pid]  # the flow did not run again
        assert hc.execution(execution_id) == before  # attempts, startedAt, finishedAt, ... unchanged
        result = hc.result(execution_id)
        assert (result.status_code, result.headers["content-type"], result.content) == (
            200,
            result_before.headers["content-type"],
            result_before.content,
        )
        assert result.json()["pid"] == first_worker.popen.pid
        assert listed(hc, "delivered-again", execution_id) == ["succeeded"]
