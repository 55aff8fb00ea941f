"""No request lost: every 200 reaches a final record, through worker crashes and NATS restarts."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from support import Hookcore, final_statuses, running_hookcore, running_nats, send_load

REQUESTS = 2000


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
        running_hookcore(nats, tmp_path, workers=2, env={"HOOKCORE_TEST_MARKER_DIR": str(markers)}) as hc,
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


@pytest.mark.slow
def test_nats_restart_gives_503_and_loses_nothing(tmp_path: Path) -> None:
    with running_nats(tmp_path) as nats, running_hookcore(nats, tmp_path) as hc:
        url = hc.deploy("acme")["webhookUrls"]["Quick"]

        def restart_once(done: int) -> None:
            if done == REQUESTS // 3:
                nats.stop()
                time.sleep(1.0)
                nats.start()

        accepted, statuses = asyncio.run(send_load(url, REQUESTS, restart_once))
        assert statuses[200] == len(accepted) > REQUESTS // 3
        assert statuses[503] > 0, f"no request saw the outage: {statuses}"
        assert set(statuses) <= {200, 503}
        assert asyncio.run(final_statuses(hc, accepted, timeout=180)) == Counter({"succeeded": len(accepted)})


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
        assert hc.client.get("/readyz").status_code == 200
        assert hc.wait_final(response.json()["executionId"])["status"] == "succeeded"
