"""No request lost: every 200 reaches a final record, through worker crashes and NATS restarts."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from hookcore.errors import ErrorCode
from support import (
    LOAD_CONCURRENCY,
    Hookcore,
    coverage_paused,
    final_statuses,
    running_hookcore,
    running_nats,
    send_load,
)

REQUESTS = 2000
MEASURE_COVERAGE = False  # load: tracing each request under coverage triples these tests' time
JSON = {"content-type": "application/json"}


def test_2000_requests_at_concurrency_64_all_finish(hookcore: Hookcore, instance: dict) -> None:
    accepted, statuses = asyncio.run(send_load(instance["webhookUrls"]["Quick"], REQUESTS))
    assert statuses == Counter({200: REQUESTS})
    assert len(set(accepted)) == REQUESTS
    assert asyncio.run(final_statuses(hookcore, accepted, timeout=120)) == Counter({"succeeded": REQUESTS})


@pytest.mark.slow
def test_worker_killed_mid_run_loses_nothing(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    with (
        running_nats(tmp_path) as nats,
        running_hookcore(
            nats, tmp_path, workers=2, measure=False, env={"HOOKCORE_TEST_MARKER_DIR": str(markers)}
        ) as hc,
    ):
        url = hc.deploy("acme")["webhookUrls"]["Slow"] + "?sleep=0.2"
        victim = hc.workers[0]

        def kill_once(done: int) -> None:
            if done == REQUESTS // 3 and victim.popen.poll() is None:
                victim.kill()
                hc.start_worker()

        accepted, statuses = asyncio.run(send_load(url, REQUESTS, kill_once))
        assert victim.popen.returncode == -9
        assert statuses == Counter({200: REQUESTS})
        assert asyncio.run(final_statuses(hc, accepted, timeout=180)) == Counter({"succeeded": REQUESTS})
        runs = {p.name: p.read_text().count("run") for p in markers.iterdir()}
        assert set(runs) == set(accepted)
        assert any(n > 1 for n in runs.values()), "the kill interrupted no execution"


async def _load_through_a_restart(
    url: str, restart: Callable[[], None]
) -> tuple[list[str], list[int], int, int]:
    """Send at LOAD_CONCURRENCY; after REQUESTS // 3 answers run ``restart`` (in a thread, the
    senders go on), then keep sending until REQUESTS were sent and, after the restart returned,
    REQUESTS // 3 more were accepted (or a minute passed). Returns (accepted ids, statuses in
    answer order, answers before the restart, answers before it returned)."""
    accepted: list[str] = []
    answers: list[int] = []
    marks: dict[str, int] = {}
    body = b'{"pad":"' + b"x" * 1000 + b'"}'
    deadline = time.monotonic() + 120

    def finished() -> bool:
        if "up" not in marks:
            return False
        accepted_after = answers[marks["up"] :].count(200)
        enough = len(answers) >= REQUESTS and accepted_after >= REQUESTS // 3
        return enough or time.monotonic() > deadline

    a_third = asyncio.Event()

    async def restarter() -> None:
        await a_third.wait()
        marks["down"] = len(answers)
        await asyncio.to_thread(restart)
        marks["up"] = len(answers)

    limits = httpx.Limits(max_connections=LOAD_CONCURRENCY, max_keepalive_connections=LOAD_CONCURRENCY)
    with coverage_paused():
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:

            async def sender() -> None:
                while not finished():
                    try:
                        response = await client.post(url, content=body, headers=JSON)
                    except httpx.TransportError:
                        answers.append(0)
                        continue
                    answers.append(response.status_code)
                    if len(answers) >= REQUESTS // 3:
                        a_third.set()
                    if response.status_code == 200:
                        accepted.append(response.json()["executionId"])
                    else:
                        assert response.status_code == 503, response.text
                        assert response.headers["retry-after"] == "1"
                        assert response.headers["hookcore-error-code"] == ErrorCode.QUEUE_UNAVAILABLE
                    if response.status_code == 503:
                        await asyncio.sleep(0.01)  # as a client honouring Retry-After would, a little

            await asyncio.gather(restarter(), *(sender() for _ in range(LOAD_CONCURRENCY)))
    return accepted, answers, marks["down"], marks["up"]


@pytest.mark.slow
def test_nats_restart_gives_503_and_loses_nothing(tmp_path: Path) -> None:
    with running_nats(tmp_path) as nats, running_hookcore(nats, tmp_path, measure=False) as hc:
        url = hc.deploy("acme")["webhookUrls"]["Quick"]

        outage: list[httpx.Response] = []

        def restart() -> None:
            nats.stop()
            # A request sent while NATS is away (the senders' own may all be waiting for acks,
            # to be resent on the next connection, so none of theirs need see the outage).
            outage.append(hc.client.post(url, content=b"{}", headers=JSON))
            time.sleep(1.0)
            nats.start()

        accepted, answers, down, up = asyncio.run(_load_through_a_restart(url, restart))
        statuses = Counter(answers)
        assert set(statuses) <= {200, 503}, statuses
        assert statuses[200] == len(accepted) == len(set(accepted))
        # The fault happened with requests in flight, and one sent meanwhile was refused...
        assert [r.status_code for r in outage] == [503], [r.text for r in outage]
        assert outage[0].headers["hookcore-error-code"] == ErrorCode.QUEUE_UNAVAILABLE
        # ...and requests were accepted before the restart and after NATS came back.
        assert answers[:down].count(200) == down
        assert answers[up:].count(200) >= REQUESTS // 3, f"after the restart: {Counter(answers[up:])}"
        assert asyncio.run(final_statuses(hc, accepted, timeout=180)) == Counter({"succeeded": len(accepted)})


def test_queue_down_answers_503_then_recovers(tmp_path: Path) -> None:
    with running_nats(tmp_path) as nats, running_hookcore(nats, tmp_path) as hc:
        url = hc.deploy("acme")["webhookUrls"]["Quick"]
        nats.stop()
        response = hc.client.post(url, content=b"{}", headers={"content-type": "application/json"})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.headers["hookcore-error-code"] == ErrorCode.QUEUE_UNAVAILABLE
        assert "hookcore-execution-id" not in response.headers
        assert response.json() == {
            "error": "The queue is unavailable; nothing was stored. Retry the request later."
        }
        ready = hc.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.headers["hookcore-error-code"] == ErrorCode.QUEUE_UNAVAILABLE
        nats.start()
        deadline = time.monotonic() + 60
        while (response := hc.client.post(url, content=b"{}")).status_code == 503:
            assert time.monotonic() < deadline, "ingress did not recover after NATS came back"
            time.sleep(0.2)
        assert response.status_code == 200
        assert hc.client.get("/readyz").status_code == 200
        assert hc.wait_final(response.json()["executionId"])["status"] == "succeeded"
