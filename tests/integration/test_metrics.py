"""/metrics across `serve --workers 2`, the workers' metrics and health port, and the admin
port (SPEC 10), against real processes."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import hookcore
from hookcore.embedded import EmbeddedNats
from hookcore.errors import ErrorCode
from hookcore.metrics import BLOCK_PREFIX
from support import ADMIN_TOKEN, Hookcore, free_port, running_hookcore, running_nats

ACCEPTED = 40
UNKNOWN = 20
CUSTOMER = "metrics-acme"
# Every request and scrape on a connection of its own, so they spread over the server's processes.
FRESH_CONNECTIONS = httpx.Limits(max_keepalive_connections=0)


def scrape(where: str | httpx.Client) -> dict[str, float]:
    """``name{label="value",…}`` (labels sorted) -> value, for every sample of a /metrics:
    a URL's, or the one a client's connection gets."""
    response = where.get("/metrics") if isinstance(where, httpx.Client) else httpx.get(where, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def send_all(urls: list[str]) -> list[int]:
    with (
        httpx.Client(timeout=30, limits=FRESH_CONNECTIONS) as client,
        ThreadPoolExecutor(8) as pool,
    ):
        return list(pool.map(lambda url: client.post(url, json={"n": 1}).status_code, urls))


def wait_for(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} within {timeout:g}s"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def worker_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def two_processes(
    nats: EmbeddedNats, tmp_path_factory: pytest.TempPathFactory, worker_port: int
) -> Iterator[Hookcore]:
    """`serve --workers 2` and a worker serving its metrics on ``worker_port``."""
    with running_hookcore(
        nats,
        tmp_path_factory.mktemp("logs"),
        env={"HOOKCORE_WORKER_PORT": str(worker_port)},
        serve_workers=2,
    ) as hc:
        yield hc


def granian_workers(hc: Hookcore) -> list[int]:
    """The pids of the Granian worker processes of ``hc``'s `hookcore serve`."""
    assert hc.ingress is not None
    pid = hc.ingress.popen.pid
    command = Path(f"/proc/{pid}/cmdline").read_bytes()
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if Path(f"/proc/{c}/cmdline").read_bytes() == command]  # forked


def serving_process(response: httpx.Response, server_port: int, processes: list[int]) -> int:
    """Which of ``processes`` holds the server end of the connection ``response`` came on."""
    client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    inodes = {
        fields[9]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if (fields := line.split())
        and int(fields[1].split(":")[1], 16) == server_port
        and int(fields[2].split(":")[1], 16) == client_port
    }
    for pid in processes:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) in {f"socket:[{inode}]" for inode in inodes}:
                    return pid
    raise AssertionError(f"no process of {processes} holds the connection from port {client_port}")


@contextmanager
def one_connection_per_process(hc: Hookcore) -> Iterator[list[httpx.Client]]:
    """A keep-alive client for each Granian worker process of ``hc``'s `hookcore serve`."""
    processes = granian_workers(hc)
    assert len(processes) == 2, processes
    found: dict[int, httpx.Client] = {}
    opened = []
    try:
        deadline = time.monotonic() + 60
        while len(found) < len(processes):
            assert time.monotonic() < deadline, f"no connection to some of {processes} within 60 s"
            client = httpx.Client(base_url=hc.base, timeout=30, limits=httpx.Limits(max_connections=1))
            opened.append(client)  # held open: the next one goes to a process as the kernel picks
            found.setdefault(serving_process(client.get("/healthz"), hc.port, processes), client)
        yield list(found.values())
    finally:
        for client in opened:
            client.close()


def test_every_scrape_of_two_processes_counts_every_request(two_processes: Hookcore) -> None:
    hc = two_processes
    quick = hc.deploy(CUSTOMER)["webhookUrls"]["Quick"]
    with one_connection_per_process(hc) as clients:
        before = scrape(clients[0])
        statuses = []
        for client in clients:  # half of the requests answered by each process
            statuses += [client.post(quick, json={"n": 1}).status_code for _ in range(ACCEPTED // 2)]
            statuses += [client.post("/trigger/no-such-endpoint").status_code for _ in range(UNKNOWN // 2)]
        assert sorted(statuses) == [200] * ACCEPTED + [404] * UNKNOWN
        scrapes = [scrape(client) for client in clients for _ in range(3)]  # each process's totals
    for after in scrapes:
        moved = {
            k: after[k] - before.get(k, 0)
            for k in after
            if k.startswith(("hookcore_trigger_responses_total", "hookcore_customer_requests_total"))
            and after[k] != before.get(k, 0)
        }
        assert moved == {
            'hookcore_trigger_responses_total{status="200"}': ACCEPTED,
            'hookcore_trigger_responses_total{status="404"}': UNKNOWN,
            f'hookcore_customer_requests_total{{customer="{CUSTOMER}"}}': ACCEPTED,
        }
        answers = sum(v for k, v in after.items() if k.startswith("hookcore_trigger_responses_total"))
        assert after["hookcore_ingest_duration_seconds_count"] == answers
        buckets = [v for k, v in after.items() if k.startswith("hookcore_ingest_duration_seconds_bucket")]
        assert buckets == sorted(buckets) and buckets[-1] == answers
        assert after['hookcore_ingest_duration_seconds_bucket{le="+Inf"}'] == answers
        assert 0 < after["hookcore_ingest_duration_seconds_sum"] < answers * 30
        assert after[f'hookcore_build_info{{version="{hookcore.__version__}"}}'] == 1
        assert after["hookcore_publish_failures_total"] == 0


def test_worker_serves_its_metrics_and_health(two_processes: Hookcore, worker_port: int) -> None:
    hc = two_processes
    quick = hc.deploy(f"{CUSTOMER}-worker")["webhookUrls"]["Quick"]
    worker = f"http://127.0.0.1:{worker_port}"
    flow = 'flow="Quick",integration="testapp"'

    def runs() -> float:
        return scrape(worker + "/metrics").get(f'hookcore_runs_total{{{flow},outcome="succeeded"}}', 0)

    before = scrape(worker + "/metrics")
    assert send_all([quick] * ACCEPTED) == [200] * ACCEPTED
    wait_for(
        lambda: runs() - before.get(f'hookcore_runs_total{{{flow},outcome="succeeded"}}', 0) == ACCEPTED,
        f"the worker counting {ACCEPTED} succeeded runs",
    )
    after = scrape(worker + "/metrics")
    for histogram in ("hookcore_queue_wait_seconds", "hookcore_execution_duration_seconds"):
        count = f"{histogram}_count{{{flow}}}"
        assert after[count] - before.get(count, 0) == ACCEPTED, histogram
        assert after[f'{histogram}_bucket{{{flow},le="+Inf"}}'] == after[count]
    assert after["hookcore_runs_in_progress"] == 0
    assert after[f'hookcore_build_info{{version="{hookcore.__version__}"}}'] == 1

    health = httpx.get(worker + "/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    missing = httpx.get(worker + "/api/instances")
    assert missing.status_code == 404 and missing.headers["hookcore-error-code"] == ErrorCode.NOT_FOUND
    posted = httpx.post(worker + "/metrics")
    assert posted.status_code == 405
    assert posted.headers["hookcore-error-code"] == ErrorCode.METHOD_NOT_ALLOWED


@pytest.fixture(scope="module")
def admin_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def split(
    nats: EmbeddedNats, tmp_path_factory: pytest.TempPathFactory, admin_port: int
) -> Iterator[Hookcore]:
    """`serve --workers 2` with HOOKCORE_ADMIN_PORT (its admin client talks to the admin port),
    counting one customer by name."""
    with running_hookcore(
        nats,
        tmp_path_factory.mktemp("logs"),
        workers=0,
        env={"HOOKCORE_ADMIN_PORT": str(admin_port), "HOOKCORE_METRICS_CUSTOMERS": "1"},
        serve_workers=2,
    ) as hc:
        hc.admin = httpx.Client(
            base_url=f"http://127.0.0.1:{admin_port}",
            timeout=30,
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        wait_for(lambda: _answers(hc.admin, "/readyz"), "the admin port answering /readyz")
        yield hc


def _answers(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.TransportError:
        return False


def test_admin_port_serves_api_metrics_console_and_public_port_does_not(
    split: Hookcore, admin_port: int
) -> None:
    hc = split
    admin = f"http://127.0.0.1:{admin_port}"
    quick = hc.deploy(f"{CUSTOMER}-split")["webhookUrls"]["Quick"]  # through the admin port
    assert quick.startswith(hc.base + "/trigger/")
    before = scrape(admin + "/metrics")
    assert send_all([quick] * 5) == [200] * 5
    after = scrape(admin + "/metrics")  # counted by the public port's processes
    status = 'hookcore_trigger_responses_total{status="200"}'
    assert after[status] - before.get(status, 0) == 5
    # HOOKCORE_METRICS_CUSTOMERS=1: the first customer seen has a series, the next one counts as other
    later = hc.deploy(f"{CUSTOMER}-later")["webhookUrls"]["Quick"]
    assert send_all([later] * 3) == [200] * 3
    customers = {k: v for k, v in scrape(admin + "/metrics").items() if "customer_requests_total" in k}
    assert customers == {
        f'hookcore_customer_requests_total{{customer="{CUSTOMER}-split"}}': 5,
        "hookcore_other_customer_requests_total": 3,
    }

    auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    for path in ("/api/instances", "/api/openapi.json", "/metrics", "/console/login", "/console"):
        public = httpx.get(hc.base + path, headers=auth)
        assert public.status_code == 404, path
        assert public.headers["hookcore-error-code"] == ErrorCode.NOT_FOUND
        assert "admin port" in public.json()["error"]
    assert httpx.get(admin + "/api/instances", headers=auth).status_code == 200
    assert httpx.get(admin + "/console/login").status_code == 200  # the login form
    for path in ("/healthz", "/readyz"):
        assert httpx.get(hc.base + path).status_code == 200
        assert httpx.get(admin + path).status_code == 200
    webhook_on_admin = httpx.post(admin + quick.removeprefix(hc.base))
    assert webhook_on_admin.status_code == 404
    assert "public port" in webhook_on_admin.json()["error"]


def counters_block_of(hc: Hookcore) -> Path:
    """The counters block of ``hc``'s `hookcore serve` (its directory is named after the pid)."""
    assert hc.ingress is not None
    blocks = list(Path("/dev/shm").glob(f"{BLOCK_PREFIX}{hc.ingress.popen.pid}-*/counters"))
    assert len(blocks) == 1, blocks
    return blocks[0]


def test_serve_removes_its_counters_block_when_it_stops(split: Hookcore) -> None:
    assert split.ingress is not None
    block = counters_block_of(split)
    split.ingress.stop()
    assert not block.parent.exists()


def test_the_block_of_a_killed_serve_is_removed_by_the_next_one(nats: EmbeddedNats, tmp_path: Path) -> None:
    killed = Hookcore(nats, tmp_path)
    try:
        killed.start_ingress()
        block = counters_block_of(killed)
        assert killed.ingress is not None
        killed.ingress.kill()  # SIGKILL: no chance to remove it
        assert block.exists()
    finally:
        killed.stop()
    with running_hookcore(nats, tmp_path, workers=0) as after:
        assert not block.parent.exists()
        assert counters_block_of(after).exists()


def test_worker_health_says_when_its_nats_connection_is_down(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "logs").mkdir()
    health = f"http://127.0.0.1:{port}/healthz"
    with (
        running_nats(tmp_path) as nats,
        running_hookcore(nats, tmp_path / "logs", env={"HOOKCORE_WORKER_PORT": str(port)}),
    ):
        assert httpx.get(health).json() == {"status": "ok"}
        nats.kill()  # SIGKILL: the worker's connection drops; it keeps reconnecting
        wait_for(lambda: httpx.get(health).status_code == 503, "the worker's /healthz answering 503")
        down = httpx.get(health)
        assert down.headers["hookcore-error-code"] == ErrorCode.QUEUE_UNAVAILABLE
        assert down.json()["status"] == "unavailable"
