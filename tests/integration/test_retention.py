"""Retention: requests, records and results expire through JetStream's own TTLs."""

from __future__ import annotations

import time
from pathlib import Path

from support import running_hookcore, running_nats


def test_executions_expire_after_the_retention_period(tmp_path: Path) -> None:
    retention_days = 3 / 86400  # three seconds (the shortest allowed is one)
    with (
        running_nats(tmp_path) as server,
        running_hookcore(server, tmp_path, env={"HOOKCORE_RETENTION_DAYS": str(retention_days)}) as hc,
    ):
        url = hc.deploy("short-lived")["webhookUrls"]["Quick"]
        execution_id = hc.client.post(url).json()["executionId"]
        assert hc.wait_final(execution_id)["status"] == "succeeded"
        assert hc.result(execution_id).status_code == 200
        deadline = time.monotonic() + 20
        while hc.admin.get(f"/api/executions/{execution_id}").status_code != 404:
            assert time.monotonic() < deadline, "the execution outlived its retention"
            time.sleep(0.5)
        assert hc.result(execution_id).status_code == 404
        # configuration is not subject to retention
        assert hc.admin.get("/api/instances", params={"customer": "short-lived"}).json()["items"]
