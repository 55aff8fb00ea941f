"""`hookcore up`: one command, clean Ctrl-C, and accepted work survives a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from hookcore.embedded import free_port
from support import APPS_DIR


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


class Up:
    def __init__(self, data_dir: Path, port: int, app: str | None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKCORE_")}
        env["PYTHONPATH"] = str(APPS_DIR)
        command = [sys.executable, "-m", "hookcore", "up", "--port", str(port), "--data-dir", str(data_dir)]
        if app:
            command += ["--app", app]
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.communicate()
            try:
                if httpx.get(f"{self.base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        self.token = (data_dir / "admin-token").read_text().strip()
        self.admin = httpx.Client(base_url=self.base, headers={"authorization": f"Bearer {self.token}"})

    def interrupt(self) -> tuple[int, str, str]:
        family = _descendants(self.process.pid)
        assert len(family) >= 3, "expected nats-server, the ingress and a worker"
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=60)
        self.admin.close()
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in family) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in family if _alive(p)], "processes left behind after Ctrl-C"
        return self.process.returncode, out, err


def test_up_runs_the_bundled_example_and_stops_cleanly(tmp_path: Path) -> None:
    up = Up(tmp_path / "data", free_port(), app=None)
    try:
        deadline = time.monotonic() + 30
        while not (items := up.admin.get("/api/instances", params={"customer": "demo"}).json()["items"]):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        url = items[0]["webhookUrls"]["Echo"]
        response = httpx.post(url + "/my/custom/path?param-one=One", json={"quantity": 123})
        assert response.status_code == 200
    finally:
        code, out, err = up.interrupt()
    assert code == 0, err
    assert "Traceback" not in err and "Traceback" not in out
    assert "curl" in out and up.token in out
    assert "/trigger/" in out


def test_accepted_work_finishes_after_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    up = Up(data_dir, port, app="basic_app:app")
    instance = up.admin.post("/api/instances", json={"integration": "testapp", "customer": "c1"}).json()
    url = instance["webhookUrls"]["Slow"] + "?sleep=0.5"
    deadline = time.monotonic() + 10
    while httpx.head(url).status_code == 404:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ids = [httpx.post(url).json()["executionId"] for _ in range(60)]
    code, _, err = up.interrupt()
    assert code == 0, err

    up = Up(data_dir, port, app="basic_app:app")
    try:
        deadline = time.monotonic() + 90
        pending = set(ids)
        while pending:
            assert time.monotonic() < deadline, f"{len(pending)} executions never finished"
            for execution_id in list(pending):
                if up.admin.get(f"/api/executions/{execution_id}").json()["status"] == "succeeded":
                    pending.discard(execution_id)
            time.sleep(0.2)
    finally:
        code, _, err = up.interrupt()
    assert code == 0, err
