"""No request lost when one node of a 3-node JetStream cluster dies or falls silent
mid-run (SPEC section 7)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from pathlib import Path

import httpx
import nats
import pytest
from nats.js.api import StreamConfig

from hookcore.queue import ALL_EXECUTIONS, EXECUTIONS_STREAM, execution_id_of
from support import LOAD_CONCURRENCY, Hookcore, NatsCluster, final_statuses, send_load

PUBLISH_TIMEOUT = 2.0  # what support's processes run with (HOOKCORE_PUBLISH_TIMEOUT)


async def _wait_for_jetstream(url: str, timeout: float = 60) -> None:
    """Until the cluster has a meta leader and can place an R3 stream."""
    deadline = time.monotonic() + timeout

    async def quiet(error: Exception) -> None:  # nodes still starting refuse connections
        pass

    nc = await nats.connect(url.split(","), max_reconnect_attempts=-1, error_cb=quiet)
    js = nc.jetstream(timeout=5)
    try:
        while True:
            try:
                await js.add_stream(StreamConfig(name="PROBE", subjects=["probe.>"], num_replicas=3))
                await js.delete_stream("PROBE")
                return
            except Exception:
                assert time.monotonic() < deadline, "the cluster never became ready for R3 streams"
                await asyncio.sleep(0.5)
    finally:
        await nc.close()


@pytest.mark.slow
def test_losing_one_node_of_three_loses_nothing(tmp_path: Path) -> None:
    cluster = NatsCluster(tmp_path)
    cluster.start()
    try:
        asyncio.run(_wait_for_jetstream(cluster.url))
        hc = Hookcore(cluster, tmp_path, env={"HOOKCORE_REPLICAS": "3"})  # type: ignore[arg-type]
        try:
            hc.start_ingress()
            hc.start_worker()
            url = hc.deploy("cluster")["webhookUrls"]["Quick"]

            def kill_one_node(done: int) -> None:
                if done == 300:
                    cluster.kill(1)

            accepted, statuses = asyncio.run(send_load(url, 1000, kill_one_node))
            assert set(statuses) <= {200, 503}, statuses
            # The two remaining nodes elect new leaders; the ingress answers 503 meanwhile.
            deadline = time.monotonic() + 60
            while (response := hc.client.post(url)).status_code == 503:
                assert time.monotonic() < deadline, "no recovery within 60 s of losing one node"
                time.sleep(0.2)
            assert response.status_code == 200
            accepted.append(response.json()["executionId"])
            after, statuses = asyncio.run(send_load(url, 500))
            assert statuses == Counter({200: 500}), statuses
            accepted += after
            final = asyncio.run(final_statuses(hc, accepted, timeout=180))
            assert final == Counter({"succeeded": len(accepted)})
        finally:
            hc.stop()
    finally:
        cluster.stop()


def _client_node(cluster: NatsCluster, name: str, timeout: float = 30) -> int:
    """The node a client called `name` is connected to (from each node's /connz)."""
    deadline = time.monotonic() + timeout
    while True:
        for node, port in enumerate(cluster.monitor_ports):
            connections = httpx.get(f"http://127.0.0.1:{port}/connz", timeout=30).json()["connections"]
            if any(c.get("name") == name for c in connections or ()):
                return node
        assert time.monotonic() < deadline, f"no node has a client called {name}"
        time.sleep(0.2)


async def _lead_elsewhere(url: str, node: int, timeout: float = 60) -> None:
    """Make sure the executions stream's leader is not `node` and all its replicas are current.

    A silent stream leader costs a Raft election (seconds, whatever the client does);
    what is tested here is the publisher leaving a silent node it is connected to.
    """
    nc = await nats.connect(url.split(","))
    js = nc.jetstream(timeout=5)
    deadline = time.monotonic() + timeout
    try:
        while True:
            info = await js.stream_info(EXECUTIONS_STREAM)
            cluster = info.cluster
            assert cluster is not None
            current = all(r.current for r in cluster.replicas or ())
            if cluster.leader not in (None, f"n{node}") and current:
                return
            assert time.monotonic() < deadline, f"the stream's leader stayed on n{node}"
            if cluster.leader == f"n{node}":
                await nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{EXECUTIONS_STREAM}", b"", timeout=5)
            await asyncio.sleep(0.5)
    finally:
        await nc.close()


async def _stored_counts(url: str, timeout: float = 60) -> dict[str, int]:
    """Messages per subject in the executions stream, once every replica has caught up
    (a node that wakes up must not add a late copy after we counted)."""
    nc = await nats.connect(url.split(","))
    js = nc.jetstream(timeout=10)
    deadline = time.monotonic() + timeout
    try:
        while True:
            info = await js.stream_info(EXECUTIONS_STREAM)
            replicas = info.cluster.replicas if info.cluster is not None else None
            if replicas and all(r.current and not r.lag for r in replicas):
                break
            assert time.monotonic() < deadline, f"replicas never caught up: {replicas}"
            await asyncio.sleep(0.5)
        info = await js.stream_info(EXECUTIONS_STREAM, subjects_filter=ALL_EXECUTIONS)
        return dict(info.state.subjects or {})
    finally:
        await nc.close()


Answer = tuple[float, int, str, str]
"""(when, status, execution id or error text, hookcore-error-code)"""


async def _load_through_a_pause(url: str, pid: int, after: int, then: float) -> tuple[float, list[Answer]]:
    """Send 1 KB webhooks; SIGSTOP `pid` once `after` were answered, and go on for `then` s.
    Returns when the node was stopped and every answer."""
    answers: list[Answer] = []
    paused_at: float | None = None
    enough = asyncio.Event()
    body = b'{"pad":"' + b"x" * 1000 + b'"}'
    limits = httpx.Limits(max_connections=LOAD_CONCURRENCY, max_keepalive_connections=LOAD_CONCURRENCY)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def sender() -> None:
            while paused_at is None or time.monotonic() < paused_at + then:
                response = await client.post(url, content=body, headers={"content-type": "application/json"})
                data = response.json()
                answers.append(
                    (
                        time.monotonic(),
                        response.status_code,
                        data.get("executionId") or data.get("error", ""),
                        response.headers.get("hookcore-error-code", ""),
                    )
                )
                if len(answers) >= after:
                    enough.set()

        async def pauser() -> None:
            nonlocal paused_at
            await enough.wait()
            await asyncio.to_thread(_pause, pid)
            paused_at = time.monotonic()

        await asyncio.gather(pauser(), *(sender() for _ in range(LOAD_CONCURRENCY)))
    assert paused_at is not None
    return paused_at, answers


def _pause(pid: int) -> None:
    """SIGSTOP and wait until the process is stopped (the signal is delivered asynchronously)."""
    os.kill(pid, signal.SIGSTOP)
    stat = Path(f"/proc/{pid}/stat")
    deadline = time.monotonic() + 30
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "T":
        assert time.monotonic() < deadline, f"process {pid} did not stop"
        time.sleep(0.01)


@pytest.mark.slow
def test_a_silent_node_costs_at_most_the_publish_timeout(tmp_path: Path) -> None:
    """SIGSTOP the node the ingress publishes through: 503s for at most the publish timeout
    plus a second, and every request answered 200 is in the stream, once."""
    cluster = NatsCluster(tmp_path)
    cluster.start()
    silent: int | None = None
    try:
        asyncio.run(_wait_for_jetstream(cluster.url))
        hc = Hookcore(cluster, tmp_path, env={"HOOKCORE_REPLICAS": "3"})  # type: ignore[arg-type]
        try:
            hc.start_ingress()
            url = hc.deploy("silent")["webhookUrls"]["Quick"]
            node = _client_node(cluster, "hookcore-ingress-publisher")
            asyncio.run(_lead_elsewhere(cluster.url, node))
            process = cluster.processes[node]
            assert process is not None
            silent = node
            paused_at, answers = asyncio.run(
                _load_through_a_pause(url, process.pid, after=300, then=PUBLISH_TIMEOUT + 5)
            )
            os.kill(process.pid, signal.SIGCONT)
            silent = None
        finally:
            hc.stop()
        statuses = Counter(a[1] for a in answers)
        assert set(statuses) <= {200, 503}, statuses
        refused = [a for a in answers if a[1] == 503]
        last_refusal = max((a[0] - paused_at for a in refused), default=0.0)
        print(
            f"\nsilent node n{node}: {statuses[200]} accepted, {len(refused)} refused; "
            f"503s until {last_refusal:.2f}s after SIGSTOP"
        )
        assert last_refusal <= PUBLISH_TIMEOUT + 1, f"503s for {last_refusal:.2f}s after the node fell silent"
        assert any(a[1] == 200 and a[0] > paused_at + PUBLISH_TIMEOUT + 1 for a in answers), "no recovery"
        for _, _, text, code in refused:
            assert code == "queue_unavailable", code
            assert "may not have been stored" in text or "nothing was stored" in text, text
        accepted = [a[2] for a in answers if a[1] == 200]
        counts = asyncio.run(_stored_counts(cluster.url))
        stored = {execution_id_of(subject): n for subject, n in counts.items()}
        missing = [i for i in accepted if i not in stored]
        assert not missing, f"{len(missing)} accepted requests are not in the stream, e.g. {missing[:3]}"
        assert set(counts.values()) == {1}, "a request was stored twice"
    finally:
        if silent is not None and cluster.processes[silent] is not None:
            os.kill(cluster.processes[silent].pid, signal.SIGCONT)  # type: ignore[union-attr]
        cluster.stop()
