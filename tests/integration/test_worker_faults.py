"""The worker under faults: a silent NATS server, a stalled worker, flows that
say too much, and a message that kills every worker running it.

Real processes throughout (nats-server, `hookcore serve`, `hookcore worker`);
the faults are signals: SIGSTOP/SIGCONT of nats-server or of a worker, and a
flow that SIGKILLs its own worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nats

from hookcore.queue import execution_subject
from support import Hookcore, running_hookcore, running_nats

FINAL = ("succeeded", "failed", "dead")


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60, every: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy; fail saying ``what`` did not happen."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g}s"
        time.sleep(every)
    return value


@contextmanager
def faults(tmp_path: Path, workers: int = 1, **env: str) -> Iterator[tuple[Hookcore, dict[str, Any], Path]]:
    """nats-server, the ingress, ``workers`` workers and an instance of the faults integration."""
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {"HOOKCORE_TEST_MARKER_DIR": str(markers), **env}
    with running_nats(tmp_path) as nats, running_hookcore(nats, tmp_path, workers=workers, env=env) as hc:
        try:
            yield hc, hc.deploy("faulty", integration="faults"), markers
        except BaseException:
            print(hc.logs())
            raise


@contextmanager
def stopped(pid: int) -> Iterator[None]:
    """SIGSTOP ``pid`` (a silent process: connections stay open, nothing answers), SIGCONT after."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def runs(markers: Path, execution_id: str, mark: str = "run") -> list[str]:
    """The pids of the workers that started the execution (or marked ``mark``), in order."""
    path = markers / execution_id
    lines = path.read_text().splitlines() if path.exists() else []
    return [line.split()[1] for line in lines if line.startswith(f"{mark} ")]


def start(hc: Hookcore, url: str) -> str:
    response = hc.client.post(url)
    assert response.status_code == 200, response.text
    return str(response.json()["executionId"])


def test_heartbeats_survive_a_silent_nats_server(tmp_path: Path) -> None:
    """A heartbeat that fails (nats-server SIGSTOPped) is retried: the flow, twice
    as long as ack_wait, runs once and is not redelivered meanwhile."""
    ack_wait = 9.0  # beats every 3 s, each waiting 1.5 s for its answer
    with faults(tmp_path, HOOKCORE_ACK_WAIT=str(ack_wait)) as (hc, instance, markers):
        worker = hc.workers[0]
        execution_id = start(hc, instance["webhookUrls"]["Long"] + f"?sleep={2 * ack_wait}")
        wait_for(lambda: runs(markers, execution_id), "the flow's start")
        assert hc.nats.process is not None
        with stopped(hc.nats.process.pid):
            # Resumed as soon as a beat has failed: well before ack_wait has passed
            # since the last one that got through (the server hears those sent
            # while it was stopped when it resumes).
            wait_for(lambda: "heartbeat failed" in worker.log(), "a failed heartbeat", timeout=ack_wait)
        record = hc.wait_final(execution_id, timeout=6 * ack_wait)
        assert record["status"] == "succeeded", record
        assert record["attempts"] == 1
        assert len(runs(markers, execution_id)) == 1, "redelivered while it ran"
        wait_for(lambda: "heartbeats reach JetStream again" in worker.log(), "a heartbeat after the fault")


def test_a_stalled_worker_never_overwrites_the_final_record(tmp_path: Path) -> None:
    """Worker A stalls (SIGSTOP) mid-run past ack_wait; worker B gets the execution
    and it succeeds. A then resumes, its run fails, and it would record 'queued'
    for a retry: the record stays 'succeeded'."""
    with faults(tmp_path, workers=2) as (hc, instance, markers):
        execution_id = start(hc, instance["webhookUrls"]["StallOnce"] + "?sleep=8")
        # Stopped once the first run has counted itself the first ("stalling"), not as soon as it
        # marks "run": stopped in between, it counts B's run too when it resumes, and succeeds.
        first = wait_for(lambda: runs(markers, execution_id, "stalling"), "the first run's stall")[0]
        assert runs(markers, execution_id)[0] == first
        [stalled] = [w for w in hc.workers if str(w.popen.pid) == first]
        with stopped(stalled.popen.pid):
            record = hc.wait_final(execution_id, timeout=60)
            assert record["status"] == "succeeded", record
            assert runs(markers, execution_id)[1] != first
        # A wakes up, its run fails late, and it ends its (stale) delivery.
        wait_for(lambda: "failing" in (markers / execution_id).read_text(), "the stalled run's end")

        def a_is_done() -> bool:
            assert hc.execution(execution_id)["status"] == "succeeded", "the final record was replaced"
            return "another delivery recorded 'succeeded' meanwhile" in stalled.log()

        wait_for(a_is_done, "the stalled worker's end of its delivery", timeout=30)
        record = hc.execution(execution_id)
        assert (record["status"], record["error"]) == ("succeeded", None)
        assert hc.result(execution_id).status_code == 200


def test_records_stay_bounded_whatever_the_flow_logs_returns_or_raises(tmp_path: Path) -> None:
    """100,000 log lines, a 2 MB step result, a 10 MB error message, text that is
    not UTF-8: each execution ends with a readable record within max_record_bytes."""
    limit = 64 * 1024
    with faults(tmp_path, HOOKCORE_MAX_RECORD_BYTES=str(limit), HOOKCORE_MAX_LOG_LINES="100") as (
        hc,
        instance,
        _,
    ):
        url = instance["webhookUrls"]["Chatty"]
        talker = start(hc, url + "?lines=100000&step=2000000")
        raiser = start(hc, url + "?lines=10&error=10000000")
        bad_step = start(hc, url + "?badstep")
        for execution_id, status in ((talker, "succeeded"), (raiser, "dead"), (bad_step, "dead")):
            assert hc.wait_final(execution_id, timeout=120)["status"] == status
            assert len(hc.admin.get(f"/api/executions/{execution_id}").content) <= limit
        talked = hc.execution(talker)
        messages = [line["message"] for line in talked["logs"]]
        assert len(messages) == 101
        assert messages[0] == "line 0 of a flow that does not stop talking"
        assert messages[50] == "… [99901 log lines dropped]"
        assert messages[-1] == "not UTF-8: \ufffd"
        big, small = talked["steps"]
        assert big["name"] == "big" and big["result"].endswith(" bytes]")
        assert "… [truncated " in big["result"]
        assert small["result"] == {"ok": True}
        assert hc.result(talker).text == "said it all"
        raised = hc.execution(raiser)
        assert raised["error"].startswith("EEEE")
        assert "… [truncated " in raised["error"]
        assert len(raised["error"]) <= limit // 4 + 40
        # A step value that cannot be stored is the flow's error (an attempt), not a record that cannot be.
        assert hc.execution(bad_step)["error"].startswith("step 'bad' returned a dict that cannot be stored")


def test_a_stored_request_that_cannot_be_read_ends_dead(tmp_path: Path) -> None:
    """A message on the executions stream that is not an envelope is not redelivered forever."""
    execution_id = "01a00000-0000-7000-8000-000000000000"

    async def publish_garbage(url: str) -> None:
        nc = await nats.connect(url)
        try:
            subject = execution_subject("someone", execution_id)
            await nc.jetstream().publish(subject, b"\xffnot an envelope")
        finally:
            await nc.close()

    with faults(tmp_path) as (hc, _, _):
        asyncio.run(publish_garbage(hc.nats.url))

        def recorded() -> dict[str, Any] | None:
            # Until the worker has written the record, the API reads the stored
            # request itself, and cannot either (a 400).
            response = hc.admin.get(f"/api/executions/{execution_id}")
            return dict(response.json()) if response.status_code == 200 else None

        record = wait_for(recorded, "the dead record")
        assert record["status"] == "dead"
        assert record["error"].startswith("the stored request cannot be read")


def test_a_message_that_crashes_every_worker_ends_dead(tmp_path: Path) -> None:
    """A flow that kills its worker each time it runs: after its attempts (1) plus
    max_redeliveries (1) it ends dead, without a third run, saying why."""
    with faults(tmp_path, workers=0, HOOKCORE_MAX_REDELIVERIES="1") as (hc, instance, markers):
        execution_id = start(hc, instance["webhookUrls"]["Crash"])

        def dead_or_restart() -> dict[str, Any] | None:
            if all(w.popen.poll() is not None for w in hc.workers):
                hc.start_worker()  # what a supervisor (systemd, Kubernetes) does
            record = hc.execution(execution_id)
            return record if record["status"] in FINAL else None

        record = wait_for(dead_or_restart, "the end of the execution", timeout=180, every=0.2)
        assert record["status"] == "dead", record
        assert record["error"].startswith("gave up after 2 deliveries"), record["error"]
        assert "crashed" in record["error"]
        assert len(runs(markers, execution_id)) == 2
        assert sum(w.popen.poll() == -signal.SIGKILL for w in hc.workers) == 2
