"""No request lost: every 200 reaches a final record, through worker crashes and NATS restarts."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from support import ADMIN_TOKEN, Hookcore, running_hookcore, running_nats

REQUESTS = 2000
CONCURRENCY = 64


async def _load(
    url: str, total: int, during: Callable[[int], None] | None = None
) -> tuple[list[str], Counter[int]]:
    """Send ``total`` 1 KB JSON webhooks at CONCURRENCY; ``during(n)`` runs after the n-th answer."""
    accepted: list[str] = []
    statuses: Counter[int] = Counter()
    body = b'{"pad":"' + b"x" * 1000 + b'"}'
    queue = iter(range(total))
    done = 0
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def sender() -> None:
            nonlocal done
            for _ in queue:
                try:
                    response = await client.post(
                        url, content=body, headers={"content-type": "application/json"}
                    )
                except httpx.TransportError:
                    statuses[0] += 1
                else:
                    statuses[response.status_code] += 1
                    if response.status_code == 200:
                        accepted.append(response.json()["executionId"])
                    else:
                        assert response.status_code == 503, response.text
                        assert response.headers["retry-after"]
                done += 1
                if during is not None:
                    await asyncio.to_thread(during, done)

        await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
    return accepted, statuses


async def _final_statuses(hc: Hookcore, ids: list[str], timeout: float) -> Counter[str]:
    """Poll until every execution is final (or the timeout), return the status counts."""
    headers = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    pending = set(ids)
    final: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(
        base_url=hc.base, headers=headers, timeout=30, limits=httpx.Limits(max_connections=32)
    ) as client:
        sem = asyncio.Semaphore(32)

        async def check(execution_id: str) -> None:
            async with sem:
                response = await client.get(f"/api/executions/{execution_id}")
            assert response.status_code == 200, response.text
            status = response.json()["status"]
            if status in ("succeeded", "failed", "dead"):
                final[execution_id] = status
                pending.discard(execution_id)

        while pending and time.monotonic() < deadline:
            await asyncio.gather(*(check(i) for i in list(pending)))
            if pending:
                await asyncio.sleep(0.5)
    assert not pending, f"{len(pending)} accepted executions never finished, e.g. {sorted(pending)[:3]}"
    return Counter(final.values())


def test_2000_requests_at_concurrency_64_all_finish(hookcore: Hookcore, instance: dict) -> None:
    accepted, statuses = asyncio.run(_load(instance["webhookUrls"]["Quick"], REQUESTS))
    assert statuses == Counter({200: REQUESTS})
    assert len(set(accepted)) == REQUESTS
    assert asyncio.run(_final_statuses(hookcore, accepted, timeout=120)) == Counter({"succeeded": REQUESTS})


@pytest.mark.slow
def test_worker_killed_mid_run_loses_nothing(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    with (
        running_nats(tmp_path) as nats,
        running_hookcore(nats, tmp_path, workers=2, env={"HOOKCORE_TEST_MARKER_DIR": str(markers)}) as hc,
    ):
        url = hc.deploy("acme")["webhookUrls"]["Slow"] + "?sleep=0.2"
        victim = hc.workers[0]

        def kill_once(done: int) -> None:
            if done == REQUESTS // 3 and victim.popen.poll() is None:
                victim.kill()
                hc.start_worker()

        accepted, statuses = asyncio.run(_load(url, REQUESTS, kill_once))
        assert victim.popen.returncode == -9
        assert statuses == Counter({200: REQUESTS})
        assert asyncio.run(_final_statuses(hc, accepted, timeout=180)) == Counter({"succeeded": REQUESTS})
        runs = {p.name: p.read_text().count("run") for p in markers.iterdir()}
        assert set(runs) == set(accepted)
        assert any(n > 1 for n in runs.values()), "the kill interrupted no execution"


@pytest.mark.slow
def test_nats_restart_gives_503_and_loses_nothing(tmp_path: Path) -> None:
    with running_nats(tmp_path) as nats, running_hookcore(nats, tmp_path) as hc:
        url = hc.deploy("acme")["webhookUrls"]["Quick"]

        def restart_once(done: int) -> None:
            if done == REQUESTS // 3:
                nats.stop()
                time.sleep(1.0)
                nats.start()

        accepted, statuses = asyncio.run(_load(url, REQUESTS, restart_once))
        assert statuses[200] == len(accepted) > REQUESTS // 3
        assert statuses[503] > 0, f"no request saw the outage: {statuses}"
        assert set(statuses) <= {200, 503}
        assert asyncio.run(_final_statuses(hc, accepted, timeout=180)) == Counter(
            {"succeeded": len(accepted)}
        )


def test_queue_down_answers_503_then_recovers(tmp_path: Path) -> None:
    with running_nats(tmp_path) as nats, running_hookcore(nats, tmp_path) as hc:
        url = hc.deploy("acme")["webhookUrls"]["Quick"]
        nats.stop()
        response = hc.client.post(url, content=b"{}", headers={"content-type": "application/json"})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert "hookcore-execution-id" not in response.headers
        assert "nothing was stored" in response.json()["error"]
        assert hc.client.get("/readyz").status_code == 503
        nats.start()
        deadline = time.monotonic() + 20
        while (response := hc.client.post(url, content=b"{}")).status_code == 503:
            assert time.monotonic() < deadline, "ingress did not recover after NATS came back"
            time.sleep(0.2)
        assert response.status_code == 200
        assert hc.wait_final(response.json()["executionId"])["status"] == "succeeded"
