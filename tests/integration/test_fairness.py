"""Fairness between tenants (SPEC 12, issue 14): a customer flooding its flows does not delay the
others', weights share the workers' time, and the sharded work queues keep at-least-once delivery
with one final record per execution, also across a worker's death and an upgrade.

Executions are stored per customer shard (`hookcore.queue.execution_subject`) and workers take turns
between shards (`hookcore.scheduling`), so fairness is between shards: each test's customers are in
different shards (`_distinct_shards`). Floods are queued with no worker running, through the real
HTTP ingress, by ``wrk`` (a Lua script; `make test` installs it). The flow ``fair-shared``/``Work``
(tests/apps/fairness_app.py) appends ``customer id time pid`` to a file as it starts: the order
the workers started the executions in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import msgspec
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats.js.errors import NotFoundError

from hookcore import _core
from hookcore.embedded import EmbeddedNats
from hookcore.envelope import decode_envelope, encode_envelope
from hookcore.nats_auth import NatsAuth
from hookcore.nats_roles import RoleKeys
from hookcore.queue import (
    ALL_EXECUTIONS,
    EXECUTION_SHARDS,
    EXECUTIONS_STREAM,
    EXECUTIONS_SUBJECT_PREFIX,
    SHARD_CONSUMER_PREFIX,
    WORKER_CONSUMER,
    QueueBacklog,
    execution_id_of,
    execution_subject,
    work_backlog,
)
from hookcore.records import record_subject
from support import Hookcore, Process, free_port, running_hookcore, running_nats

MEASURE_COVERAGE = False  # floods: what they run, the functional tests cover

INTEGRATION = "fair-shared"
FINAL = ("succeeded", "failed", "dead")
T = TypeVar("T")


ADMIN_AUTH: dict[str, NatsAuth] = {}
"""How the test itself connects to a nats-server with NATS roles, by its URL (others: no auth)."""


async def _connect(url: str) -> NatsClient:
    return await nats.connect(url, **ADMIN_AUTH.get(url, NatsAuth()).nats_py_options())


def _distinct_shards(*customers: str) -> dict[str, str]:
    """Each customer's shard consumer, asserting no two share one: the workers take turns between
    shards, not customers, so two customers in one shard would share its turns."""
    shards = {customer: _core.execution_shard(customer) for customer in customers}
    assert len(set(shards.values())) == len(customers), f"customers share a shard: {shards}"
    return {customer: f"{SHARD_CONSUMER_PREFIX}{shard}" for customer, shard in shards.items()}


def _deploy(hc: Hookcore, *customers: str) -> str:
    """One instance of the shared-endpoint integration per customer; their shared URL."""
    urls = {hc.deploy(customer, integration=INTEGRATION)["invokeUrl"] for customer in customers}
    assert len(urls) == 1, urls
    return urls.pop()


LUA = """
wrk.method = "POST"
wrk.body = '{"n": 1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Event"] = "Work"
local customers = {CUSTOMERS}
local wanted = {WANTED}
local sent, answered = 0, 0
local ids = io.open("{IDS}", "a")
local refused = io.open("{REFUSED}", "a")
ids:setvbuf("line")
refused:setvbuf("line")

local checked = false

request = function()
  if not checked then  -- wrk (4.x) makes one request to check the script, and does not send it
    checked = true
    return wrk.format()
  end
  sent = sent + 1
  if sent > wanted then  -- the connections still open ask what stores nothing
    return wrk.format("GET", "/healthz", {})
  end
  wrk.headers["X-Customer"] = customers[(sent % #customers) + 1]
  return wrk.format()
end

response = function(status, headers, body)
  if status == 200 and body:find('"ok"', 1, true) then
    return  -- /healthz
  end
  answered = answered + 1
  if status == 200 then
    ids:write(body:match('"executionId":"([^"]+)"'), "\\n")
  else
    refused:write(status, " ", body, "\\n")
  end
  if answered >= wanted then
    -- every POST answered (thread:stop() would leave wrk sleeping out its -d); ids are written
    -- line by line
    os.exit(0)
  end
end
"""


def _flood(url: str, customers: list[str], total: int, work_dir: Path, connections: int = 32) -> list[str]:
    """POST ``total`` requests to the flow ``Work``, the customers in turn; the ids of those the
    ingress accepted: all, each answered 200."""
    assert shutil.which("wrk"), "the fairness tests flood with wrk: apt-get install wrk (`make test` does)"
    work_dir.mkdir(parents=True, exist_ok=True)
    ids, refused = work_dir / "ids", work_dir / "refused"
    script = work_dir / "flood.lua"
    script.write_text(
        LUA.replace("{CUSTOMERS}", "{" + ", ".join(json.dumps(c) for c in customers) + "}")
        .replace("{WANTED}", str(total))
        .replace("{IDS}", str(ids))
        .replace("{REFUSED}", str(refused))
    )
    subprocess.run(
        ["wrk", "-t1", f"-c{connections}", "-d120s", "--timeout", "30s", "-s", str(script), url],
        check=True,
        capture_output=True,
        timeout=150,
    )
    assert not refused.exists() or not refused.read_text(), refused.read_text()[:2000]
    accepted = ids.read_text().split()
    assert len(accepted) == total, f"{len(accepted)} of {total} answered"
    return accepted


@dataclass(frozen=True)
class Start:
    """One line of the flow's ``starts`` file: an execution's run starting."""

    customer: str
    execution_id: str
    at: float
    pid: int


def _starts(hc: Hookcore) -> list[Start]:
    path = hc.markers / "starts"
    if not path.exists():
        return []
    text = path.read_text()
    lines = text[: text.rfind("\n") + 1].splitlines()  # whole lines: a run may be writing one
    return [Start(c, i, float(t), int(p)) for c, i, t, p in (line.split() for line in lines)]


def _backlog(hc: Hookcore) -> dict[str, QueueBacklog]:
    """Every work queue's backlog, as JetStream counts it now."""

    async def read() -> dict[str, QueueBacklog]:
        nc = await _connect(hc.nats.url)
        try:
            return await work_backlog(nc.jetstream())
        finally:
            await nc.close()

    return asyncio.run(read())


def _stored(hc: Hookcore, customer: str) -> int:
    """Executions of ``customer`` stored on the asynchronous lane (its shard's subjects)."""

    async def read() -> int:
        nc = await _connect(hc.nats.url)
        try:
            subject = execution_subject(customer, "*", synchronous=False)
            info = await nc.jetstream().stream_info(EXECUTIONS_STREAM, subjects_filter=subject)
            return len(info.state.subjects or {})
        finally:
            await nc.close()

    return asyncio.run(read())


def _stored_ids(hc: Hookcore) -> set[str]:
    """Every execution stored (accepted), on any lane and shard, by id."""

    async def read() -> set[str]:
        nc = await _connect(hc.nats.url)
        try:
            info = await nc.jetstream().stream_info(EXECUTIONS_STREAM, subjects_filter=ALL_EXECUTIONS)
            return {execution_id_of(subject) for subject in info.state.subjects or {}}
        finally:
            await nc.close()

    return asyncio.run(read())


def _wait(what: str, check: Callable[[], T | None], timeout: float = 60, every: float = 0.05) -> T:
    """``check()``'s first truthy value; fails naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g}s"
        time.sleep(every)
    return value


def _at(record: dict[str, Any], field: str) -> float:
    return datetime.fromisoformat(record[field]).timestamp()


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    return path


def test_a_flooding_tenant_does_not_delay_another(tmp_path: Path, markers: Path) -> None:
    flood_size = 50_000
    a, b = "acme", "umbrella"
    consumers = _distinct_shards(a, b)
    # A worker asks the shards in their order and JetStream answers the first pulls in that order:
    # B's shard comes after A's, so B cannot go first merely by being asked first.
    assert _core.execution_shard(b) > _core.execution_shard(a)
    worker_port = free_port()
    env = {"HOOKCORE_TEST_MARKER_DIR": str(markers), "HOOKCORE_WORKER_PORT": str(worker_port)}
    with (
        running_nats(tmp_path) as server,
        running_hookcore(server, tmp_path, workers=0, env=env, measure=MEASURE_COVERAGE) as hc,
    ):
        url = _deploy(hc, a, b)
        started = time.monotonic()
        flooded = _flood(url, [a], flood_size, tmp_path / "flood")
        print(f"queued {len(flooded)} executions of {a} in {time.monotonic() - started:.1f}s")
        response = hc.client.post(url, json={"n": 2}, headers={"x-customer": b, "x-event": "Work"})
        assert response.status_code == 200, response.text
        b_id = response.json()["executionId"]
        stored = _stored(hc, a)
        assert stored == len(flooded) == flood_size  # answered 200 once stored
        assert _stored(hc, b) == 1

        hc.start_worker()
        b_record = hc.wait_final(b_id, timeout=60)
        a_left = _backlog(hc)[consumers[a]]
        assert b_record["status"] == "succeeded", b_record
        # The worker names the customer its backlog is (an estimate, from what it started).
        metrics = httpx.get(f"http://127.0.0.1:{worker_port}/metrics").text
        named = dict(re.findall(r'^hookcore_customer_backlog\{customer="([^"]+)"\} (\S+)$', metrics, re.M))
        assert list(named) == [a] and float(named[a]) > flood_size / 2, named

        starts = _starts(hc)
        first = min(s.at for s in starts)
        b_done = _at(b_record, "finishedAt")
        a_before_b = sum(1 for s in starts if s.customer == a and s.at <= b_done)
        # B waited for no more than a round of turns, not behind A's flood (50,000 at this worker's
        # speed: tens of seconds).
        assert b_done - first < 1.0, (
            f"{b}'s execution finished {b_done - first:.3f}s after the worker's first start, "
            f"after {a_before_b} of {a}'s"
        )
        # A still had (nearly) all of its flood waiting when B was done: JetStream's count, read
        # after B was final (A's backlog only shrinks: nothing more of A's is sent), and the starts.
        assert a_left.waiting + a_left.in_progress > stored * 0.9, a_left
        assert a_before_b < stored * 0.1, a_before_b
        print(
            f"{b} final {b_done - first:.3f}s after the first start, {a_before_b} of {a}'s started "
            f"by then; {a} then had {a_left.waiting} waiting, {a_left.in_progress} in progress"
        )


def test_weights_share_the_workers_time(tmp_path: Path, markers: Path) -> None:
    each, among = 1_500, 900
    a, b = "acme", "umbrella"
    _distinct_shards(a, b)
    env = {"HOOKCORE_TEST_MARKER_DIR": str(markers), "HOOKCORE_CUSTOMER_WEIGHTS": json.dumps({a: 2})}
    with (
        running_nats(tmp_path) as server,
        running_hookcore(server, tmp_path, workers=0, env=env, measure=MEASURE_COVERAGE) as hc,
    ):
        url = _deploy(hc, a, b)
        _flood(url, [a, b], 2 * each, tmp_path / "flood")
        assert _stored(hc, a) == _stored(hc, b) == each
        hc.start_worker()
        starts = _wait(f"{among} starts", lambda: (s := _starts(hc)) and len(s) >= among and s)
        first = Counter(s.customer for s in starts[:among])
        # Both had work waiting throughout: neither's flood was started to its end.
        assert max(first.values()) < each, first
        share = first[a] / among
        order = "".join("A" if s.customer == a else "b" for s in starts[:among])
        assert 2 / 3 * 0.9 <= share <= 2 / 3 * 1.1, f"{a} (A, weight 2) started {first[a]} of {order}"
        print(f"of the first {among} starts: {dict(first)} ({share:.3f} for {a})")


def test_a_synchronous_request_is_answered_during_a_flood(tmp_path: Path, markers: Path) -> None:
    a, b = "acme", "umbrella"
    _distinct_shards(a, b)
    env = {"HOOKCORE_TEST_MARKER_DIR": str(markers)}
    with (
        running_nats(tmp_path) as server,
        running_hookcore(server, tmp_path, workers=0, env=env, measure=MEASURE_COVERAGE) as hc,
    ):
        url = _deploy(hc, a, b)
        flooded = _flood(url + "?sleep=0.01", [a], 5_000, tmp_path / "flood")
        hc.start_worker()
        _wait(f"{a}'s flood being worked off", lambda: len(_starts(hc)) >= 100)
        sent = time.monotonic()
        response = hc.client.post(url, json={"n": 3}, headers={"x-customer": b, "x-event": "Ask"})
        took = time.monotonic() - sent
        a_left = _backlog(hc)[f"{SHARD_CONSUMER_PREFIX}{_core.execution_shard(a)}"]
        # Answered once the execution ended: a 303 to its result.
        assert response.status_code == 303, response.text
        assert hc.client.get(response.headers["location"]).json() == {"customer": b}
        # The flow's sync_timeout is 20 s; the flood still waiting would take longer than that.
        assert took < 2.0, f"{b}'s synchronous request took {took:.2f}s"
        assert a_left.waiting > len(flooded) / 2, a_left
        print(f"{b}'s synchronous request answered in {took:.3f}s; {a} had {a_left.waiting} waiting")


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_worker_stopped_mid_flood_loses_nothing_and_ends_each_execution_once(
    tmp_path: Path, markers: Path, how: str
) -> None:
    """Two workers, four customers' floods; one worker dies (SIGKILL: what it ran and held is
    delivered again after ack_wait) or stops (SIGTERM: it finishes what it runs and hands back
    what it holds) mid-flood."""
    customers = ["initech", "umbrella", "oscorp", "vandelay"]
    consumers = _distinct_shards(*customers)
    env = {"HOOKCORE_TEST_MARKER_DIR": str(markers), "HOOKCORE_ACK_WAIT": "1"}  # redelivered fast
    with (
        running_nats(tmp_path) as server,
        running_hookcore(server, tmp_path, workers=0, env=env, measure=MEASURE_COVERAGE) as hc,
    ):
        url = _deploy(hc, *customers)
        flooded = _flood(url + "?sleep=0.05", customers, 2_400, tmp_path / "flood")
        accepted = _stored_ids(hc)
        assert accepted == set(flooded)

        async def run() -> tuple[dict[str, list[str]], set[str], int, int, Process, Process]:
            nc = await _connect(server.url)
            writes: dict[str, list[str]] = {}  # every write of each record, as JetStream receives them

            async def on_write(msg: nats.aio.msg.Msg) -> None:
                record = json.loads(msg.data)
                writes.setdefault(record["id"], []).append(record["status"])

            await nc.subscribe(record_subject(">"), cb=on_write)
            await nc.flush()
            victim, survivor = [await asyncio.to_thread(hc.start_worker) for _ in range(2)]

            def victim_busy() -> list[Start] | None:
                mine = [s for s in _starts(hc) if s.pid == victim.popen.pid]
                return mine if len(mine) >= 100 else None

            await asyncio.to_thread(_wait, "the victim working", victim_busy)
            backlog = await asyncio.to_thread(_backlog, hc)
            # In flight at the kill: started by the victim and not final (read just before it).
            in_flight = {
                s.execution_id
                for s in victim_busy() or []
                if not any(status in FINAL for status in writes.get(s.execution_id, []))
            }
            if how == "SIGKILL":
                victim.kill()
                assert victim.popen.returncode == -9
            else:
                assert await asyncio.to_thread(victim.stop, signal.SIGTERM) == 0, victim.log()
            waiting = sum(backlog[consumers[c]].waiting for c in customers)
            assert waiting > 0 and in_flight, (backlog, in_flight)

            def all_final() -> bool:
                return all(any(status in FINAL for status in writes.get(i, [])) for i in accepted)

            await asyncio.to_thread(_wait, "every accepted execution final", all_final, 120, 0.2)

            def drained() -> dict[str, QueueBacklog] | None:
                queues = _backlog(hc)
                busy = {name: q for name, q in queues.items() if q.waiting or q.in_progress}
                return None if busy else queues

            queues = await asyncio.to_thread(_wait, "every work queue drained", drained, 60, 0.2)
            await asyncio.sleep(0.5)  # any late duplicate write would arrive by now
            await nc.close()
            return writes, in_flight, waiting, len(queues), victim, survivor

        writes, in_flight, waiting, queues, victim, survivor = asyncio.run(run())
        finals = {i: [s for s in writes.get(i, []) if s in FINAL] for i in accepted}
        twice = {i: f for i, f in finals.items() if len(f) != 1}
        assert not twice, (
            f"{len(twice)} executions with other than one final record, e.g. {list(twice.items())[:3]}"
        )
        assert Counter(f[0] for f in finals.values()) == {"succeeded": len(accepted)}
        starts = _starts(hc)
        runs = Counter(s.execution_id for s in starts)
        assert set(runs) == accepted
        on_survivor = {s.execution_id for s in starts if s.pid == survivor.popen.pid}
        if how == "SIGKILL":
            # What the victim had in flight ran again, on the survivor; its record counts both runs.
            rerun = [i for i in in_flight if runs[i] > 1 and i in on_survivor]
            assert rerun, "nothing the victim held ran again"
            for execution_id in rerun[:5]:
                record = hc.execution(execution_id)
                assert record["status"] == "succeeded" and record["attempts"] >= 2, record
        else:
            # The victim finished what it ran (each once, on the victim) and handed back what it held,
            # which the survivor ran at once (not after ack_wait).
            assert not in_flight & on_survivor
            assert "handed back" in victim.log() and "executions this worker held" in victim.log()
            assert runs == dict.fromkeys(accepted, 1), {i: n for i, n in runs.items() if n > 1}
        print(
            f"{len(accepted)} executions; {how} to a worker with {len(in_flight)} started and {waiting} "
            f"waiting; {sum(runs.values()) - len(runs)} runs more than one each; {queues} work queues "
            "drained"
        )


def _previous_consumer(hc: Hookcore) -> ConsumerInfo | None:
    """The previous release's consumer, as JetStream has it now (None: there is none)."""

    async def read() -> ConsumerInfo | None:
        nc = await _connect(hc.nats.url)
        try:
            return await nc.jetstream().consumer_info(EXECUTIONS_STREAM, WORKER_CONSUMER)
        except NotFoundError:
            return None
        finally:
            await nc.close()

    return asyncio.run(read())


@contextmanager
def _nats_with_roles(tmp_path: Path) -> Iterator[tuple[EmbeddedNats, RoleKeys]]:
    """A nats-server admitting `hookcore up`'s roles only (`hookcore.nats_roles`); the test is admin."""
    keys = RoleKeys(tmp_path / "keys").ensure()
    server = EmbeddedNats(tmp_path / "nats", port=free_port(), extra_config=keys.authorization())
    server.start()
    ADMIN_AUTH[server.url] = keys.auth("admin")
    try:
        yield server, keys
    finally:
        ADMIN_AUTH.pop(server.url, None)
        server.stop()


@pytest.mark.parametrize("roles", [False, True], ids=["no-auth", "nats-roles"])
def test_work_queued_by_the_previous_release_runs_once_after_an_upgrade(
    tmp_path: Path, markers: Path, roles: bool
) -> None:
    customer, previous = "wonka", 20
    env = {"HOOKCORE_TEST_MARKER_DIR": str(markers)}
    with contextlib.ExitStack() as stack:
        if roles:  # each process as its role: what `hookcore up` runs
            server, keys = stack.enter_context(_nats_with_roles(tmp_path))
            env["HOOKCORE_NATS_NKEY_SEED"] = keys.auth("ingress").nkey_seed
        else:
            server = stack.enter_context(running_nats(tmp_path))
        hc = stack.enter_context(
            running_hookcore(server, tmp_path, workers=0, env=env, measure=MEASURE_COVERAGE)
        )
        if roles:
            hc.env["HOOKCORE_NATS_NKEY_SEED"] = keys.auth("worker").nkey_seed
        url = _deploy(hc, customer)

        async def queue_as_the_previous_release() -> tuple[str, list[str]]:
            """The previous release's consumer (as it made it: every stored request), then one
            request stored by this release and ``previous`` on the previous release's subjects."""
            nc = await _connect(server.url)
            js = nc.jetstream()
            await js.add_consumer(
                EXECUTIONS_STREAM,
                ConsumerConfig(
                    durable_name=WORKER_CONSUMER,
                    filter_subject=f"{EXECUTIONS_SUBJECT_PREFIX}.>",
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_wait=30,
                    max_ack_pending=-1,
                ),
            )
            response = await asyncio.to_thread(
                hc.client.post, url, json={"n": 4}, headers={"x-customer": customer, "x-event": "Work"}
            )
            assert response.status_code == 200, response.text
            current = response.json()["executionId"]
            stored = await js.get_last_msg(
                EXECUTIONS_STREAM, execution_subject(customer, current, synchronous=False)
            )
            envelope = decode_envelope(stored.data or b"")
            old: list[str] = []
            for _ in range(previous):
                execution_id = _core.new_id()
                data = encode_envelope(msgspec.structs.replace(envelope, id=execution_id))
                ack = await js.publish(
                    f"{EXECUTIONS_SUBJECT_PREFIX}.{execution_id}", data, headers={"Nats-Msg-Id": execution_id}
                )
                assert not ack.duplicate
                old.append(execution_id)
            info = await js.consumer_info(EXECUTIONS_STREAM, WORKER_CONSUMER)
            assert info.num_pending == previous + 1  # its filter takes this release's request too
            await nc.close()
            return current, old

        current, old = asyncio.run(queue_as_the_previous_release())
        hc.start_worker()
        for execution_id in [current, *old]:
            record = hc.wait_final(execution_id)
            assert record["status"] == "succeeded" and record["attempts"] == 1, record
            assert record["customer"] == customer

        # The worker narrowed the previous release's consumer to its own subjects (this release's
        # request is its shard's) and read it to the end; the acks land after the records.
        def drained() -> ConsumerInfo | None:
            info = _previous_consumer(hc)
            return info if info is not None and not info.num_pending and not info.num_ack_pending else None

        narrowed = _wait("the previous release's consumer drained", drained)
        assert narrowed.config.filter_subject == f"{EXECUTIONS_SUBJECT_PREFIX}.*"
        runs = Counter(s.execution_id for s in _starts(hc))
        assert runs == dict.fromkeys([current, *old], 1), runs

        # A worker that starts and finds it empty deletes it (its NATS role allows that consumer).
        hc.workers[0].stop()
        hc.start_worker()
        assert _previous_consumer(hc) is None
        assert "deleted the previous release's consumer hookcore-workers" in hc.workers[1].log()
        queues = _backlog(hc)
        assert WORKER_CONSUMER not in queues and len(queues) == 1 + EXECUTION_SHARDS, sorted(queues)[:3]
        assert not any(q.waiting or q.in_progress for q in queues.values()), queues
        assert Counter(s.execution_id for s in _starts(hc)) == runs  # nothing ran again


def _deliveries(hc: Hookcore, consumer: str) -> int:
    """How many times ``consumer`` has delivered a message, redeliveries included."""

    async def read() -> int:
        nc = await _connect(hc.nats.url)
        try:
            info = await nc.jetstream().consumer_info(EXECUTIONS_STREAM, consumer)
            return int(info.delivered.consumer_seq or 0) if info.delivered else 0
        finally:
            await nc.close()

    return asyncio.run(read())


def test_executions_waiting_in_a_worker_are_not_delivered_again(tmp_path: Path, markers: Path) -> None:
    # A worker takes more than it runs (a batch from each shard with work): what waits in it is
    # reported in progress to JetStream in time, so none is delivered again meanwhile (and maybe
    # run twice), however short ack_wait is (its least: 0.5 s).
    customers = ["acme", "umbrella"]
    consumers = _distinct_shards(*customers)
    env = {"HOOKCORE_TEST_MARKER_DIR": str(markers), "HOOKCORE_ACK_WAIT": "0.5"}
    with (
        running_nats(tmp_path) as server,
        running_hookcore(server, tmp_path, workers=0, env=env, measure=MEASURE_COVERAGE) as hc,
    ):
        url = _deploy(hc, *customers)
        flooded = _flood(url + "?sleep=0.2", customers, 60, tmp_path / "flood", connections=4)
        accepted = _stored_ids(hc)
        assert accepted == set(flooded)
        stored = {customer: _stored(hc, customer) for customer in customers}
        hc.start_worker(concurrency=2)
        for execution_id in accepted:
            assert hc.wait_final(execution_id)["status"] == "succeeded"
        # JetStream delivered each once (no redelivery, of one running or waiting), and each ran once.
        delivered = {customer: _deliveries(hc, consumers[customer]) for customer in customers}
        assert delivered == stored
        runs = Counter(s.execution_id for s in _starts(hc))
        assert set(runs) == accepted
        twice = {i: n for i, n in runs.items() if n > 1}
        assert not twice, f"{len(twice)} of {len(accepted)} executions ran more than once: {twice}"
