"""``HOOKCORE_LOG_FORMAT=json``: every line every process writes is one JSON object, and the
lines about an execution carry its fields (docs/operations.md, "Logs")."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from hookcore.embedded import EmbeddedNats
from support import APPS_DIR, COVERAGE_ENV, free_port, kill_group, rate_table_of_up, running_hookcore

JSON_LOGS = {"HOOKCORE_LOG_FORMAT": "json", "HOOKCORE_ACCESS_LOG": "true"}


def json_lines(output: str) -> list[dict[str, Any]]:
    """Every line of ``output`` as a JSON object with the fields each one has."""
    lines = []
    for text in output.splitlines():
        line = json.loads(text)  # fails the test on a line that is not JSON
        assert isinstance(line, dict), text
        assert {"time", "level", "logger", "message"} <= line.keys(), text
        lines.append(line)
    return lines


def test_serve_and_worker_write_json_lines_with_the_execution_fields(
    nats: EmbeddedNats, tmp_path: Path
) -> None:
    with running_hookcore(nats, tmp_path, env=JSON_LOGS, measure=False) as hc:
        instance = hc.deploy("log-customer")
        url = instance["webhookUrls"]["Plain"]
        endpoint = url.rsplit("/", 1)[1]
        answer = hc.client.post(url, json={"order": 1})
        assert answer.status_code == 200, answer.text
        execution_id = answer.json()["executionId"]
        assert hc.wait_final(execution_id)["status"] == "succeeded"
    assert hc.ingress is not None
    ingress = json_lines(hc.ingress.log())
    worker = json_lines(hc.workers[0].log())

    about = [line for line in worker if line.get("execution_id") == execution_id]
    assert about, worker
    flow_line = next(line for line in about if line["logger"] == "hookcore.flow")
    assert "plain flow ran in a thread" in flow_line["message"]
    assert flow_line["level"] == "INFO"
    assert (flow_line["customer"], flow_line["flow"], flow_line["endpoint"]) == (
        "log-customer",
        "Plain",
        endpoint,
    )
    assert any(line["message"].startswith("worker ready") for line in worker)

    # Granian's own lines and its access log come out in the same format.
    assert any(line["logger"] == "_granian" for line in ingress), ingress
    access = [line for line in ingress if line["logger"] == "granian.access" and line["method"] == "POST"]
    access = [line for line in access if line["path"].startswith("/trigger/")]
    assert len(access) == 1, ingress
    assert (access[0]["path"], access[0]["status"], access[0]["endpoint"]) == (
        f"/trigger/{endpoint}",
        200,
        endpoint,
    )
    assert any(line["logger"] == "hookcore.ingress" for line in ingress)


def test_log_level_leaves_out_less_severe_lines(nats: EmbeddedNats, tmp_path: Path) -> None:
    env = {"HOOKCORE_LOG_FORMAT": "json", "HOOKCORE_LOG_LEVEL": "warning"}
    with running_hookcore(nats, tmp_path, workers=0, env=env, measure=False) as hc:
        assert hc.client.get("/readyz").status_code == 200
    assert hc.ingress is not None
    lines = json_lines(hc.ingress.log())
    assert all(line["level"] in ("WARNING", "ERROR", "CRITICAL") for line in lines), lines


def test_up_writes_only_json_lines(tmp_path: Path) -> None:
    """`hookcore up` itself (its banner too), its ingress and its worker, all on one output."""
    port = free_port()
    data_dir = tmp_path / "data"
    # Not measured by coverage (`make test`): its warnings would be lines that are not JSON.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKCORE_") and k not in COVERAGE_ENV}
    env.update(JSON_LOGS, PYTHONPATH=str(APPS_DIR))
    out = tmp_path / "up.out"  # a file, not a pipe: a pipe nobody reads yet would fill and block up
    with out.open("w") as sink:
        up = subprocess.Popen(
            [sys.executable, "-m", "hookcore", "up", "--port", str(port), "--data-dir", str(data_dir)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        token_file = data_dir / "admin-token"
        deadline = time.monotonic() + 90
        items: list[dict[str, Any]] = []
        headers: dict[str, str] = {}
        while not items:
            assert up.poll() is None, out.read_text()
            assert time.monotonic() < deadline, "hookcore up did not deploy its demo instance in 90 s"
            with contextlib.suppress(httpx.TransportError, OSError):
                headers = {"authorization": f"Bearer {token_file.read_text().strip()}"}
                found = httpx.get(f"{base}/api/instances", params={"customer": "demo"}, headers=headers)
                items = found.json()["items"] if found.status_code == 200 else []
            time.sleep(0.2)
        order = httpx.post(items[0]["webhookUrls"]["Order created"], json={"id": "A-1", "items": []})
        assert order.status_code == 200, order.text
        execution_id = order.json()["executionId"]
        while (
            httpx.get(f"{base}/api/executions/{execution_id}", headers=headers).json()["status"]
            != "succeeded"
        ):
            assert time.monotonic() < deadline, "the demo order did not succeed"
            time.sleep(0.1)
        up.send_signal(signal.SIGINT)
        up.wait(timeout=60)
        output = out.read_text()
    finally:
        kill_group(up)
        up.wait()
        if table := rate_table_of_up(data_dir):
            table.unlink(missing_ok=True)
    assert up.returncode == 0, output
    lines = json_lines(output)
    banner = next(line for line in lines if line["logger"] == "hookcore.up")
    assert "hookcore is up at" in banner["message"]
    flow_line = next(line for line in lines if line.get("execution_id") == execution_id)
    assert (flow_line["customer"], flow_line["flow"]) == ("demo", "Order created")
    assert {"hookcore.up", "hookcore.ingress", "hookcore.worker", "_granian"} <= {
        line["logger"] for line in lines
    }
