"""Real processes for end-to-end tests: nats-server, `hookcore serve`, `hookcore worker`."""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from hookcore.config import Settings
from hookcore.embedded import EmbeddedNats, nats_server_binary
from hookcore.embedded import free_port as any_free_port
from hookcore.ingress import rate_table_file
from hookcore.queue import EXECUTIONS_STREAM

ROOT = Path(__file__).resolve().parent.parent
APPS_DIR = Path(__file__).resolve().parent / "apps"
# One per pytest process: a request that reached another test process's ingress (see free_port)
# is refused, not served.
ADMIN_TOKEN = f"test-admin-token-{os.getpid()}"
LOAD_CONCURRENCY = 64
WORKER_READY = "worker ready"  # the worker's log line once it fetches (hookcore/worker.py)

TEST_APPS = [
    "basic_app:app",
    "tenants_app:shared",
    "tenants_app:per_instance",
    "tenants_app:preprocessed",
    "responses_app:app",
    "faults_app:app",
    "limits_app:limited",
    "limits_app:wide",
    "limits_app:shared",
    "fairness_app:fair",
    "fairness_app:capped",
    "senders_app:github",
    "senders_app:events",
    "senders_app:slack",
    "senders_app:handshakes",
    *(
        f"docs_app:{name}"
        for name in ("standard_webhooks", "github", "stripe", "slack", "shopify", "acme_github")
    ),
]
APP_FLAGS = [flag for app in TEST_APPS for flag in ("--app", app)]


# Set by conftest for the whole run and inherited by every process a test starts (not a
# HOOKCORE_* name: _env() and `Up` drop those).
RUN_MARKER = "TESTS_RUN_ID"


# Ports handed out by free_port, each held by a socket until this process exits.
_PORT_CLAIMS: list[socket.socket] = []


def free_port() -> int:
    """A loopback port that is free now and that no other test process on this machine (the other
    pytest-xdist worker, another checkout's run) has been handed.

    A free port is only free until someone binds it, and a test binds it later (a process it
    starts): two test processes may be handed the same one meanwhile. Granian binds with
    SO_REUSEPORT, so two ingresses would then share a port in silence. So each port handed out is
    claimed by name, an abstract Unix socket ``hookcore-tests-port-N`` bound in this machine's
    network namespace and kept until this process exits: another test process that picks the same
    port fails to claim it and picks again. (The NATS port `hookcore up` picks for itself is not
    claimed.)"""
    while True:
        port = any_free_port()
        claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            claim.bind(f"\0hookcore-tests-port-{port}")
        except OSError:  # EADDRINUSE: another test process holds it
            claim.close()
            continue
        _PORT_CLAIMS.append(claim)
        return port


def processes_of_this_run() -> dict[int, str]:
    """Live processes (not zombies) whose environment carries this run's marker: pid -> command."""
    marker = os.environ.get(RUN_MARKER)
    if not marker:
        return {}
    needle = f"{RUN_MARKER}={marker}".encode()
    found: dict[int, str] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        pid = int(proc.name)
        if pid == os.getpid():
            continue
        try:
            if needle not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state != "Z":
            found[pid] = command.strip()
    return found


# What coverage.py (`make test`) hands its child processes so they measure themselves.
COVERAGE_ENV = ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")


def _env(
    nats_url: str, public_url: str, extra: dict[str, str] | None, measure: bool = True
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKCORE_")}
    if not measure:
        for name in COVERAGE_ENV:
            env.pop(name, None)
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
        """Ask the process to stop; SIGKILL its whole process group if it hangs.

        Whatever the leader did, nothing of its group outlives this call: Granian's
        worker processes are in the group, and a leader that exits first would
        leave them running.
        """
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        self.kill()
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL the process and everything it started (Granian's worker processes)."""
        kill_group(self.popen)
        self.popen.wait()

    def wait_for_log(self, text: str, timeout: float = 60) -> None:
        """Wait until ``text`` is in the log (e.g. a worker's "worker ready"); fail if the process dies."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no {text!r} in its log after {timeout}s:\n{self.log()}")
            time.sleep(0.05)


def wait_listening(
    port: int, process: subprocess.Popen[bytes], timeout: float, log: Path | None = None
) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:``port`` (listening is enough:
    a server may say nothing before TLS); fails when ``process`` exits first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, log.read_text() if log and log.exists() else f"{process.args} exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listened on port {port} within {timeout:g} s"
            time.sleep(0.05)


def kill_group(process: subprocess.Popen[Any]) -> None:
    """SIGKILL ``process``, started with ``start_new_session``, and every process of its group.

    Until ``process`` is reaped its pid, and so its group's id, cannot be anyone else's: the whole
    group is killed at once. Once it is reaped, the system may have given that id to a new process
    of another run (or of anyone), so only this run's processes of the group are killed."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return
    for pid in processes_of_this_run():
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(pid) == process.pid:
                os.kill(pid, signal.SIGKILL)


def rate_table_of(nats_url: str) -> Path:
    """Where the ingresses of ``nats_url`` keep their rate-limit table (in /dev/shm).

    The path depends on the user and the URL alone: check or remove it while this run's
    nats-server still holds the URL's port, or another run's table may be at the same path."""
    return rate_table_file(Settings.load(nats_url=nats_url))


def rate_table_of_up(data_dir: Path) -> Path | None:
    """The rate-limit table of `hookcore up --data-dir data_dir`, named after its NATS's URL
    (None before `up` has written its nats-server configuration)."""
    conf = data_dir / "nats" / "nats-server.conf"
    listen = re.search(r'^listen: "([^"]+)"', conf.read_text(), re.MULTILINE) if conf.exists() else None
    return rate_table_of(f"nats://{listen.group(1)}") if listen else None


def _no_cookies() -> http.cookiejar.CookieJar:
    """A cookie jar that keeps none (no domain is allowed to set one)."""
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def pause(pid: int) -> None:
    """SIGSTOP ``pid`` and wait until it is stopped (the signal is delivered asynchronously)."""
    os.kill(pid, signal.SIGSTOP)
    stat = Path(f"/proc/{pid}/stat")
    deadline = time.monotonic() + 30
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "T":
        assert time.monotonic() < deadline, f"process {pid} did not stop"
        time.sleep(0.01)


def end(process: subprocess.Popen[Any], timeout: float = 15) -> None:
    """SIGTERM ``process``; when it has not exited within ``timeout``, SIGKILL it and its group."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_group(process)  # with its group when started with ``start_new_session``
        process.kill()
        process.wait()


class Hookcore:
    """One ingress (`hookcore serve`) and any number of workers against one nats-server.

    ``measure=False`` keeps coverage out of these processes: load tests run the
    code the functional tests cover, and tracing every request triples their time.
    """

    def __init__(
        self,
        nats: EmbeddedNats,
        log_dir: Path,
        env: dict[str, str] | None = None,
        serve_workers: int = 1,
        measure: bool = True,
    ) -> None:
        self.nats = nats
        self.log_dir = log_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = _env(nats.url, self.base, env, measure)
        self.rate_table = rate_table_of(nats.url)
        self.serve_workers = serve_workers
        self.markers = Path(self.env.get("HOOKCORE_TEST_MARKER_DIR", log_dir))
        self.ingress: Process | None = None
        self.workers: list[Process] = []
        # Shared by a module's tests, so they keep no cookie: a request sends only the cookie its
        # test gives (a console login through them would otherwise log in every later request).
        self.client = httpx.Client(base_url=self.base, timeout=30, cookies=_no_cookies())
        self.admin = httpx.Client(
            base_url=self.base,
            timeout=30,
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
            cookies=_no_cookies(),
        )

    def start_ingress(self, wrapper: Sequence[str] = ()) -> None:
        """Start `hookcore serve` (run through ``wrapper``, a command that ends by running its
        arguments, when given) and return once it answers /readyz."""
        self.ingress = Process(
            f"ingress-{self.port}" + ("-wrapped" if wrapper else ""),
            [
                *wrapper,
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

    def start_worker(self, concurrency: int = 16, wait: bool = True) -> Process:
        """Start a worker; with ``wait``, return once it has bound its consumer and fetches."""
        worker = Process(
            f"worker-{self.port}-{len(self.workers)}",
            [sys.executable, "-m", "hookcore", "worker", *APP_FLAGS, "--concurrency", str(concurrency)],
            self.env,
            self.log_dir,
        )
        self.workers.append(worker)
        if wait:
            worker.wait_for_log(WORKER_READY)
        return worker

    def deploy(
        self, customer: str = "acme", config: dict[str, Any] | None = None, integration: str = "testapp"
    ) -> dict[str, Any]:
        response = self.admin.post(
            "/api/instances", json={"integration": integration, "customer": customer, "config": config or {}}
        )
        assert response.status_code == 201, response.text
        instance = response.json()
        self.wait_for_routes(instance["webhookUrls"].values())
        return instance

    def wait_for_routes(self, urls: Any, timeout: float = 60, client: httpx.Client | None = None) -> None:
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

    def wait_final(self, execution_id: str, timeout: float = 60) -> dict[str, Any]:
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
        """Stop every process (`Process.stop` does not raise) and remove what they left in /dev/shm."""
        try:
            if self.ingress is not None:
                self.ingress.stop()
        finally:
            for worker in self.workers:
                worker.stop()
        self.client.close()
        self.admin.close()
        # The machine-wide rate-limit table of this test's NATS deployment (in /dev/shm).
        self.rate_table.unlink(missing_ok=True)

    def logs(self) -> str:
        parts = [p.log() for p in [self.ingress, *self.workers] if p is not None]
        return "\n".join(parts)


@contextmanager
def running_nats(tmp: Path) -> Iterator[EmbeddedNats]:
    nats = EmbeddedNats(tmp / "nats", port=free_port())
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
    measure: bool = True,
) -> Iterator[Hookcore]:
    hc = Hookcore(nats, log_dir, env, serve_workers, measure)
    try:
        hc.start_ingress()  # first: it creates the streams and buckets
        for _ in range(workers):
            hc.start_worker(wait=False)
        for worker in hc.workers:
            worker.wait_for_log(WORKER_READY)
        yield hc
    finally:
        hc.stop()


class NatsCluster:
    """A 3-node JetStream cluster on loopback (each node a real nats-server process)."""

    def __init__(self, root: Path, nodes: int = 3) -> None:
        self.root = root
        self.client_ports = [free_port() for _ in range(nodes)]
        self.cluster_ports = [free_port() for _ in range(nodes)]
        self.monitor_ports = [free_port() for _ in range(nodes)]  # /connz, /jsz: who is where
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * nodes

    @property
    def url(self) -> str:
        return ",".join(f"nats://127.0.0.1:{port}" for port in self.client_ports)

    def start(self) -> None:
        routes = ", ".join(f"nats-route://127.0.0.1:{port}" for port in self.cluster_ports)
        for i, (port, cluster_port) in enumerate(zip(self.client_ports, self.cluster_ports, strict=True)):
            conf = self.root / f"n{i}.conf"
            conf.write_text(
                f'server_name: n{i}\nlisten: "127.0.0.1:{port}"\nhttp: "127.0.0.1:{self.monitor_ports[i]}"\n'
                f'jetstream {{ store_dir: "{(self.root / f"n{i}").as_posix()}" }}\n'
                f'cluster {{ name: hookcore, listen: "127.0.0.1:{cluster_port}", routes: [{routes}] }}\n'
            )
            with (self.root / f"n{i}.log").open("ab") as log:
                self.processes[i] = subprocess.Popen(
                    [str(nats_server_binary()), "-c", str(conf)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

    def kill(self, node: int) -> None:
        process = self.processes[node]
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self) -> None:
        """SIGTERM every node, then SIGKILL any that has not exited within 15 s."""
        for process in self.processes:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            if process is None:
                continue
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def coverage_paused() -> Iterator[None]:
    """Stop measuring this process meanwhile (`make test` runs pytest under coverage):
    generating load is not what coverage measures, and tracing it halves its speed."""
    try:
        import coverage
    except ImportError:  # pragma: no cover
        yield
        return
    current = coverage.Coverage.current()
    if current is None:
        yield
        return
    current.stop()
    try:
        yield
    finally:
        current.start()


def stream_last_seq(nats_url: str, stream: str = EXECUTIONS_STREAM) -> int:
    """The last sequence number of a JetStream stream: unchanged means nothing was stored."""
    import nats

    async def read() -> int:
        nc = await nats.connect(nats_url)
        try:
            info = await nc.jetstream().stream_info(stream)
            return int(info.state.last_seq)
        finally:
            await nc.close()

    return asyncio.run(read())


def assert_refused(response: httpx.Response, status: int, code: str, error: str | None = None) -> str:
    """A refusal as SPEC.md fixes it: ``status``, a JSON ``{"error": …}`` body (exactly ``error``
    when given), ``hookcore-error-code: code``, and no execution id; the error text."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["hookcore-error-code"] == code
    assert "hookcore-execution-id" not in response.headers
    text = response.json()["error"]
    assert isinstance(text, str) and text
    if error is not None:
        assert text == error
    return text


@contextmanager
def nothing_stored(nats_url: str) -> Iterator[None]:
    """Fails unless the executions stream is where it was: what ran inside stored no request."""
    before = stream_last_seq(nats_url)
    yield
    assert stream_last_seq(nats_url) == before, "a refused request was stored"


async def send_load(
    url: str, total: int, during: Callable[[int], None] | None = None
) -> tuple[list[str], Counter[int]]:
    """Send ``total`` 1 KB JSON webhooks at LOAD_CONCURRENCY; ``during(n)`` runs after the n-th answer."""
    accepted: list[str] = []
    statuses: Counter[int] = Counter()
    body = b'{"pad":"' + b"x" * 1000 + b'"}'
    queue = iter(range(total))
    done = 0
    limits = httpx.Limits(max_connections=LOAD_CONCURRENCY, max_keepalive_connections=LOAD_CONCURRENCY)
    with coverage_paused():
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

            await asyncio.gather(*(sender() for _ in range(LOAD_CONCURRENCY)))
    return accepted, statuses


async def final_statuses(hc: Hookcore, ids: list[str], timeout: float) -> Counter[str]:
    """Poll until every execution is final (or the timeout), return the status counts."""
    headers = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    pending = set(ids)
    final: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    with coverage_paused():
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
