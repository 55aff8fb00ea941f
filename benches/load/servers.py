"""The processes a load run starts: nats-server, the peers and hookcore, each stopped on exit.

Every server listens on 127.0.0.1 on a free port, runs in its own session
(stopping it ends its whole process group: Granian's and uvicorn's workers
too) and writes its output to a log file whose tail is shown when it fails
to start.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benches.load import wrk
from benches.load.pinning import LOAD_CPU, SERVER_CPU, pin, pinned
from hookcore.apps import load_apps
from hookcore.config import Settings
from hookcore.embedded import EmbeddedNats, free_port
from hookcore.ingress import rate_table_file
from hookcore.instances import Instances
from hookcore.jetstream import connect

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "bench-token"
SECRET = "bench signing secret"
APPS = ["benches.load.bench_app:app", "benches.load.bench_app:shared"]
START_TIMEOUT = 120.0  # seconds; the shared machine can be slow to start Python processes
STOP_TIMEOUT = 20.0
WORKER_READY = "worker ready"  # the worker's log line once it fetches (hookcore/worker.py)


@contextmanager
def nats_server(work: Path, extra_config: str = "") -> Iterator[str]:
    """A fresh JetStream server (file storage under ``work``, ``extra_config`` added to its
    configuration) on the load CPU; yields its URL."""
    server = EmbeddedNats(work, extra_config=extra_config)
    server.start()
    try:
        pin(server.process.pid, LOAD_CPU)  # type: ignore[union-attr]
        yield server.url
    finally:
        server.stop()
        # the rate-limit table (in /dev/shm) of the ingresses this server's deployment ran
        rate_table_file(Settings.load(nats_url=server.url)).unlink(missing_ok=True)


@contextmanager
def process(
    command: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT
) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` on the server CPU, stopped (SIGTERM, then SIGKILL) with its group on exit."""
    with log.open("ab") as out:
        child = subprocess.Popen(
            pinned(command, SERVER_CPU),
            env={**os.environ, **env},
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        yield child
    finally:
        _stop(child)


@contextmanager
def http_server(
    command: list[str], env: dict[str, str], port: int, ready_path: str, log: Path, cwd: Path = ROOT
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """An HTTP server on ``port``; yields its base URL and process once it answers ``ready_path``."""
    base = f"http://127.0.0.1:{port}"
    with process(command, env, log, cwd) as child:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(base + ready_path):
            if child.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{' '.join(command)} did not start; its log ends:\n{tail}")
            time.sleep(0.1)
        yield base, child


@contextmanager
def granian(target: str, work: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """A Granian RSGI app (one worker); yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "granian", "--interface", "rsgi", "--port", str(port)]
    command += ["--workers", "1", "--no-access-log", "--log-level", "warning", target]
    with http_server(command, env or {}, port, "/", work / f"granian-{port}.log") as (base, _):
        yield base


@contextmanager
def uvicorn(target: str, work: Path, env: dict[str, str]) -> Iterator[str]:
    """An ASGI app under uvicorn (one process, uvloop, httptools); yields its base URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]
    command += ["--no-access-log", "--log-level", "warning", target]
    with http_server(command, env, port, "/", work / f"uvicorn-{port}.log") as (base, _):
        yield base


def app_flags(apps: list[str] = APPS) -> list[str]:
    return [flag for app in apps for flag in ("--app", app)]


@contextmanager
def hookcore_serve(
    nats_url: str, work: Path, python: str = sys.executable, cwd: Path = ROOT, apps: list[str] = APPS
) -> Iterator[str]:
    """``hookcore serve`` (one process) with ``apps`` from ``cwd``; yields its base URL."""
    with hookcore_serve_process(nats_url, work, python, cwd, apps) as (base, _):
        yield base


@contextmanager
def hookcore_serve_process(
    nats_url: str, work: Path, python: str = sys.executable, cwd: Path = ROOT, apps: list[str] = APPS
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`hookcore_serve`, yielding its process too (Granian's main process: its worker is a child)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [python, "-m", "hookcore", "serve", *app_flags(apps), "--port", str(port)]
    env = {"HOOKCORE_NATS_URL": nats_url, "HOOKCORE_PUBLIC_URL": base, "HOOKCORE_ADMIN_TOKEN": TOKEN}
    with http_server(command, env, port, "/readyz", work / f"hookcore-{port}.log", cwd) as served:
        yield served


@contextmanager
def hookcore_worker(
    nats_url: str, work: Path, concurrency: int, first_come: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """``hookcore worker`` with the bench apps, yielded once it fetches executions; ``first_come``:
    the worker reading one first-come-first-served queue instead (`first_come_worker`)."""
    entry = ["benches.load.first_come_worker"] if first_come else ["hookcore", "worker"]
    command = [sys.executable, "-m", *entry, *app_flags(), "--concurrency", str(concurrency)]
    log = work / f"worker-{time.monotonic_ns()}.log"
    with process(command, {"HOOKCORE_NATS_URL": nats_url}, log) as child:
        deadline = time.monotonic() + START_TIMEOUT
        while WORKER_READY not in log.read_text(errors="replace"):
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start; its log ends:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield child


def deploy(base: str, integration: str = "bench", customer: str = "bench") -> dict[str, str]:
    """Deploy an instance through the control plane; flow name -> webhook URL (invoke URL if shared)."""
    request = urllib.request.Request(
        f"{base}/api/instances",
        method="POST",
        data=json.dumps(
            {"integration": integration, "customer": customer, "config": {"bench_secret": SECRET}}
        ).encode(),
        headers={"authorization": f"Bearer {TOKEN}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        view = json.loads(response.read())
    return {"shared": view["invokeUrl"]} if view["invokeUrl"] else dict(view["webhookUrls"])


def deploy_customers(nats_url: str, integration: str, customers: range, concurrency: int = 128) -> str:
    """Deploy ``integration`` for customers c<n> (n in ``customers``) as `hookcore deploy` does,
    many at once over one connection (the control plane's HTTP API would take minutes). Returns
    the customer deployed last: once it routes, every other one does (the KV watch is ordered)."""
    finished: list[str] = []

    async def deploy_all() -> None:
        settings = Settings.load(nats_url=nats_url, public_url="http://127.0.0.1")
        jet = await connect(settings, name="bench-deploy")
        try:
            instances = Instances(jet, load_apps(APPS), settings)
            todo = iter(customers)

            async def one() -> None:
                for n in todo:
                    await instances.deploy(integration, f"c{n}")
                    finished.append(f"c{n}")

            await asyncio.gather(*(one() for _ in range(concurrency)))
        finally:
            await jet.close()

    asyncio.run(deploy_all())
    return finished[-1]


def deploy_shared(base: str, nats_url: str, customers: int) -> str:
    """The shared endpoint of the bench integration with customers c0 … c<customers - 1>
    deployed, once every one of them routes: its URL."""
    shared = deploy(base, "bench-shared", "c0")["shared"]
    last = deploy_customers(nats_url, "bench-shared", range(1, customers))
    wait_routable(shared, {"content-type": "application/json", "x-customer": last}, wrk.BODY)
    return shared


def wait_routable(url: str, headers: dict[str, str], body: bytes, timeout: float = 120.0) -> None:
    """POST until ``url`` accepts (the deploy reaches the ingress's table through the KV watch)."""
    deadline = time.monotonic() + timeout
    while True:
        request = urllib.request.Request(url, method="POST", data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10):
                return
        except urllib.error.HTTPError as error:
            if error.code != 404 and error.code != 400:
                raise
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not become routable within {timeout:g}s")
        time.sleep(0.05)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # answering at all is ready enough for the peers
    except OSError:
        return False


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    try:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    except ProcessLookupError:
        child.wait()
