"""Real processes for end-to-end tests: nats-server, `hookcore serve`, `hookcore worker`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from hookcore.embedded import EmbeddedNats, free_port

ROOT = Path(__file__).resolve().parent.parent
APPS_DIR = Path(__file__).resolve().parent / "apps"
ADMIN_TOKEN = "test-admin-token"
TEST_APPS = [
    "basic_app:app",
    "tenants_app:shared",
    "tenants_app:per_instance",
    "tenants_app:preprocessed",
    "responses_app:app",
]
APP_FLAGS = [flag for app in TEST_APPS for flag in ("--app", app)]


def _env(nats_url: str, public_url: str, extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKCORE_")}
    env.update(
        HOOKCORE_NATS_URL=nats_url,
        HOOKCORE_PUBLIC_URL=public_url,
        HOOKCORE_ADMIN_TOKEN=ADMIN_TOKEN,
        HOOKCORE_ACK_WAIT="2",
        HOOKCORE_PUBLISH_TIMEOUT="2",
        PYTHONPATH=os.pathsep.join([str(APPS_DIR), env.get("PYTHONPATH", "")]),
    )
    env.update(extra or {})
    return env


class Process:
    """A child process whose output goes to a log file the test can show on failure."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL the process and everything it started (Granian's worker processes)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()


class Hookcore:
    """One ingress (`hookcore serve`) and any number of workers against one nats-server."""

    def __init__(
        self, nats: EmbeddedNats, log_dir: Path, env: dict[str, str] | None = None, serve_workers: int = 1
    ) -> None:
        self.nats = nats
        self.log_dir = log_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = _env(nats.url, self.base, env)
        self.serve_workers = serve_workers
        self.markers = Path(self.env.get("HOOKCORE_TEST_MARKER_DIR", log_dir))
        self.ingress: Process | None = None
        self.workers: list[Process] = []
        self.client = httpx.Client(base_url=self.base, timeout=30)
        self.admin = httpx.Client(
            base_url=self.base, timeout=30, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
        )

    def start_ingress(self) -> None:
        self.ingress = Process(
            f"ingress-{self.port}",
            [
                sys.executable,
                "-m",
                "hookcore",
                "serve",
                *APP_FLAGS,
                "--port",
                str(self.port),
                "--workers",
                str(self.serve_workers),
            ],
            self.env,
            self.log_dir,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.ingress.popen.poll() is not None:
                raise RuntimeError(f"ingress exited:\n{self.ingress.log()}")
            try:
                if self.client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"ingress not ready:\n{self.ingress.log()}")

    def start_worker(self, concurrency: int = 16) -> Process:
        worker = Process(
            f"worker-{self.port}-{len(self.workers)}",
            [sys.executable, "-m", "hookcore", "worker", *APP_FLAGS, "--concurrency", str(concurrency)],
            self.env,
            self.log_dir,
        )
        self.workers.append(worker)
        return worker

    def deploy(
        self, customer: str = "acme", config: dict[str, str] | None = None, integration: str = "testapp"
    ) -> dict[str, Any]:
        response = self.admin.post(
            "/api/instances", json={"integration": integration, "customer": customer, "config": config or {}}
        )
        assert response.status_code == 201, response.text
        instance = response.json()
        self.wait_for_routes(instance["webhookUrls"].values())
        return instance

    def wait_for_routes(self, urls: Any, timeout: float = 5, client: httpx.Client | None = None) -> None:
        """Deploys reach the routing table through a KV watch: wait until they are in."""
        for url in urls:
            deadline = time.monotonic() + timeout
            while (client or self.client).head(url).status_code == 404:
                assert time.monotonic() < deadline, f"{url} still unknown after {timeout}s"
                time.sleep(0.02)

    def execution(self, execution_id: str) -> dict[str, Any]:
        response = self.admin.get(f"/api/executions/{execution_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_final(self, execution_id: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            record = self.execution(execution_id)
            if record["status"] in ("succeeded", "failed", "dead"):
                return record
            assert time.monotonic() < deadline, f"execution still {record['status']} after {timeout}s"
            time.sleep(0.05)

    def result(self, execution_id: str) -> httpx.Response:
        return self.admin.get(f"/api/executions/{execution_id}/result")

    def stop(self) -> None:
        if self.ingress is not None:
            self.ingress.stop()
        for worker in self.workers:
            worker.stop()
        self.client.close()
        self.admin.close()

    def logs(self) -> str:
        parts = [p.log() for p in [self.ingress, *self.workers] if p is not None]
        return "\n".join(parts)


@contextmanager
def running_nats(tmp: Path) -> Iterator[EmbeddedNats]:
    nats = EmbeddedNats(tmp / "nats")
    nats.start()
    try:
        yield nats
    finally:
        nats.stop()


@contextmanager
def running_hookcore(
    nats: EmbeddedNats,
    log_dir: Path,
    workers: int = 1,
    env: dict[str, str] | None = None,
    serve_workers: int = 1,
) -> Iterator[Hookcore]:
    hc = Hookcore(nats, log_dir, env, serve_workers)
    try:
        hc.start_ingress()
        for _ in range(workers):
            hc.start_worker()
        yield hc
    finally:
        hc.stop()
