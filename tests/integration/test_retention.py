"""Retention: requests, records and results expire through JetStream's own TTLs."""

from __future__ import annotations

import time
from pathlib import Path

from hookcore.errors import ErrorCode
from support import running_hookcore, running_nats

RETENTION = 15.0  # seconds (the shortest allowed is one); the run and the result read fit well within


def test_executions_expire_after_the_retention_period(tmp_path: Path) -> None:
    with (
        running_nats(tmp_path) as server,
        # running_hookcore returns once the worker fetches: the request cannot sit in the
        # stream, waiting for a worker, until the stream's max age (the retention) drops it.
        running_hookcore(server, tmp_path, env={"HOOKCORE_RETENTION_DAYS": str(RETENTION / 86400)}) as hc,
    ):
        url = hc.deploy("short-lived")["webhookUrls"]["Quick"]
        response = hc.client.post(url)
        assert response.status_code == 200, response.text
        execution_id = response.json()["executionId"]
        assert hc.wait_final(execution_id, timeout=10 * RETENTION)["status"] == "succeeded"
        result = hc.result(execution_id)
        assert result.status_code == 200 and result.json()["ok"] is True
        # Record, result and the stored request (the executions API falls back to it) all go.
        deadline = time.monotonic() + 10 * RETENTION
        while (gone := hc.admin.get(f"/api/executions/{execution_id}")).status_code != 404:
            assert gone.status_code == 200, gone.text
            assert time.monotonic() < deadline, "the execution outlived its retention tenfold"
            time.sleep(0.2)
        assert gone.headers["hookcore-error-code"] == ErrorCode.NOT_FOUND
        assert gone.json() == {"error": f"No execution with id {execution_id!r}."}
        expired = hc.result(execution_id)
        assert expired.status_code == 404 and expired.headers["hookcore-error-code"] == ErrorCode.NOT_FOUND
        # configuration is not subject to retention: the instance and its URLs remain
        assert hc.admin.get("/api/instances", params={"customer": "short-lived"}).json()["items"]
        assert hc.client.post(url).status_code == 200
