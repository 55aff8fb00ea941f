"""No request lost when one node of a 3-node JetStream cluster dies mid-run (SPEC section 7)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import nats
import pytest
from nats.js.api import StreamConfig

from support import Hookcore, NatsCluster, final_statuses, send_load


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
