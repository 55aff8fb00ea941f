"""The load runs of SPEC section 7, each against its baseline measured in the same run.

Every run starts a fresh nats-server (JetStream, file storage) and its servers
once, then alternates the targets round by round (a warm-up wrk run, then the
measured one), so the machine's drift hits every target alike. The best round
of each target counts.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TypeVar

import httpx
import nats

from benches.load import wrk
from benches.load.figures import LoadRun, Row
from benches.load.first_come_worker import CONSUMER
from benches.load.memory import peak_mib
from benches.load.pinning import describe
from benches.load.servers import (
    SECRET,
    deploy,
    deploy_shared,
    granian,
    hookcore_serve,
    hookcore_serve_process,
    hookcore_worker,
    nats_server,
    uvicorn,
    wait_routable,
)
from hookcore.index import INDEX_STREAM, IndexFilter
from hookcore.objects import OBJECTS_STREAM
from hookcore.queue import EXECUTIONS_STREAM, work_backlog
from hookcore.records import RECORDS_BUCKET

BARE = "bare Granian RSGI (200, no I/O)"
NAIVE = "naive Granian RSGI + nats-py (publish, await ack)"
FASTAPI = "FastAPI + uvicorn + nats-py (publish, await ack)"
HOOKCORE = "hookcore ingress (durable, JetStream file)"
SIGNED = "hookcore ingress, verify.github (signed requests)"
PER_INSTANCE = "hookcore, instance_and_flow endpoint (one customer)"
T = TypeVar("T")
DRAIN_TIMEOUT = 600.0  # seconds for one worker to finish what was queued


@dataclass(frozen=True)
class Settings:
    """How long and how hard the load runs go."""

    duration: float = 8.0  # seconds per measured wrk run
    warmup: float = 2.0  # seconds of wrk before each measured run
    connections: int = 64
    rounds: int = 2  # alternating rounds per target; the best counts
    customers: int = 20_000  # customers with an instance on the shared endpoint
    e2e_duration: float = 4.0  # seconds of requests per end-to-end round (then the backlog drains)
    worker_concurrency: int = 64

    @classmethod
    def short(cls) -> Settings:
        """One second per target at four connections: proves every run works, measures nothing."""
        return cls(duration=1, warmup=0, connections=4, rounds=1, customers=50, e2e_duration=1)


def durable_ingest(settings: Settings, work: Path) -> LoadRun:
    """1 KB JSON POSTs: hookcore's ingress (and with signatures checked) vs bare Granian and two
    naive ingresses that publish each request to JetStream and await the ack."""
    run = LoadRun("req/s", HOOKCORE, BARE, _settings(settings), spec_ratio=0.8, spec_p99_ms=10.0)
    signature = hmac.new(SECRET.encode(), wrk.BODY, hashlib.sha256).hexdigest()
    plain = wrk.script(work / "post.lua")
    signed = wrk.script(work / "signed.lua", headers={"X-Hub-Signature-256": f"sha256={signature}"})
    with ExitStack() as stack:
        nats_url = stack.enter_context(nats_server(work / "nats"))
        peer_env = {"PEER_NATS_URL": nats_url}
        hookcore = stack.enter_context(hookcore_serve(nats_url, work))
        urls = deploy(hookcore)
        json_headers = {"content-type": "application/json"}
        wait_routable(urls["Load"], json_headers, wrk.BODY)
        wait_routable(
            urls["Signed"], {**json_headers, "x-hub-signature-256": f"sha256={signature}"}, wrk.BODY
        )
        targets = {
            BARE: (stack.enter_context(granian("benches.load.bare_app:app", work)) + "/trigger/x", plain),
            NAIVE: (
                stack.enter_context(granian("benches.load.naive_app:app", work, peer_env)) + "/trigger/x",
                plain,
            ),
            FASTAPI: (
                stack.enter_context(uvicorn("benches.load.fastapi_app:app", work, peer_env)) + "/trigger/x",
                plain,
            ),
            HOOKCORE: (urls["Load"], plain),
            SIGNED: (urls["Signed"], signed),
        }
        _alternate(run, settings, targets)
    return run


def shared_endpoint(settings: Settings, work: Path) -> LoadRun:
    """The shared endpoint with ``customers`` customers (each request names a random one) vs an
    instance_and_flow endpoint, one ingress process."""
    subject = f"hookcore, shared endpoint ({settings.customers} customers)"
    run = LoadRun("req/s", subject, PER_INSTANCE, _settings(settings), spec_ratio=0.9)
    lua = wrk.script(work / "customers.lua", random_customers=settings.customers)
    with nats_server(work / "nats") as nats_url, hookcore_serve(nats_url, work) as base:
        per_instance = deploy(base)["Load"]
        started = time.perf_counter()
        shared = deploy_shared(base, nats_url, settings.customers)
        wait_routable(per_instance, {"content-type": "application/json"}, wrk.BODY)
        run.settings["deploy_seconds"] = round(time.perf_counter() - started, 1)
        _alternate(run, settings, {PER_INSTANCE: (per_instance, lua), subject: (shared, lua)})
    return run


def end_to_end(settings: Settings, work: Path) -> LoadRun:
    """Executions completed per second, first request to last ack: 1 KB JSON POSTs to a trivial
    flow for ``e2e_duration`` seconds, one ingress and one worker process, until the worker has
    acked the last; the baseline is the same ingress accepting alone (no worker running)."""
    subject = "end to end: ingress + one worker, first request to last ack"
    accepting = "the same ingress, no worker running (accepting only)"
    draining = "one worker draining what was queued (no requests arriving)"
    run = LoadRun("executions/s", subject, accepting, _settings(settings), spec_value=10_000)
    lua = wrk.script(work / "post.lua")
    seconds = settings.e2e_duration
    with nats_server(work / "nats") as nats_url, hookcore_serve(nats_url, work) as base:
        url = deploy(base)["Noop"]
        wait_routable(url, {"content-type": "application/json"}, wrk.BODY)
        for _ in range(settings.rounds):
            before = asyncio.run(_stored(nats_url))
            result = wrk.run(url, lua, seconds, settings.connections)
            queued = asyncio.run(_stored(nats_url)) - before
            run.add(Row(accepting, queued / result.seconds, result.p50_ms, result.p99_ms, result.non_2xx))
            with hookcore_worker(nats_url, work, settings.worker_concurrency):
                started = time.perf_counter()
                asyncio.run(_drained(nats_url))
                run.add(Row(draining, queued / (time.perf_counter() - started)))
                before = asyncio.run(_stored(nats_url))
                started = time.perf_counter()
                result = wrk.run(url, lua, seconds, settings.connections)
                asyncio.run(_drained(nats_url))
                done = asyncio.run(_stored(nats_url)) - before
                elapsed = time.perf_counter() - started
                run.add(Row(subject, done / elapsed, result.p50_ms, result.p99_ms, result.non_2xx))
    return run


FIRST_COME = "first come first served: the same, one queue for all"


def fairness_cost(settings: Settings, work: Path) -> LoadRun:
    """What taking turns between customers costs: executions per second, first request to last
    ack, with 1 KB JSON POSTs from ``customers`` customers on the shared endpoint (every shard
    with work), one ingress and one worker reading the shards in turns, against the same worker
    reading one first-come-first-served queue (`first_come_worker`), alternated in one run. The
    stream is purged between the two: each worker's queues then hold only its own round's work."""
    subject = f"fair: ingress + one worker, {settings.customers} customers in turns"
    run = LoadRun(
        "executions/s", subject, FIRST_COME, _settings(settings), spec_ratio=0.9, target_source="issue 14"
    )
    lua = wrk.script(work / "customers.lua", random_customers=settings.customers)
    seconds = settings.e2e_duration
    with nats_server(work / "nats") as nats_url, hookcore_serve(nats_url, work) as base:
        shared = deploy_shared(base, nats_url, settings.customers)
        for round_no in range(settings.rounds):
            for name, first_come in _abba(round_no, (subject, False), (FIRST_COME, True)):
                asyncio.run(_emptied(nats_url))
                with hookcore_worker(nats_url, work, settings.worker_concurrency, first_come):
                    before = asyncio.run(_stored(nats_url))
                    started = time.perf_counter()
                    result = wrk.run(shared, lua, seconds, settings.connections)
                    asyncio.run(_drained(nats_url, first_come))
                    done = asyncio.run(_stored(nats_url)) - before
                    elapsed = time.perf_counter() - started
                    run.add(Row(name, done / elapsed, result.p50_ms, result.p99_ms, result.non_2xx))
        asyncio.run(_emptied(nats_url))
    return run


EVERY_CUSTOMER = "fair: one worker runs one execution of every customer"


def every_customer_once(settings: Settings, work: Path) -> LoadRun:
    """One execution for each of ``customers`` customers, queued with no worker running, then one
    worker runs them all: executions per second from the worker's start to the last ack, reading
    the shards in turns against the same worker reading one first-come-first-served queue, and
    the peak memory of each worker and of the ingress. Fails unless every execution succeeded."""
    run = LoadRun("executions/s", EVERY_CUSTOMER, FIRST_COME, _settings(settings))
    peaks: dict[str, int] = {}
    with nats_server(work / "nats") as nats_url, hookcore_serve_process(nats_url, work) as (base, serve):
        shared = deploy_shared(base, nats_url, settings.customers)
        for round_no in range(settings.rounds):
            for name, first_come in _abba(round_no, (EVERY_CUSTOMER, False), (FIRST_COME, True)):
                asyncio.run(_forgotten(nats_url))
                asyncio.run(_send_each(shared, settings.customers))
                with hookcore_worker(nats_url, work, settings.worker_concurrency, first_come) as worker:
                    started = time.perf_counter()
                    asyncio.run(_drained(nats_url, first_come))
                    elapsed = time.perf_counter() - started
                    key = "first_come_worker_peak_mib" if first_come else "worker_peak_mib"
                    peaks[key] = max(peak_mib(worker.pid), peaks.get(key, 0))
                asyncio.run(_all_succeeded(nats_url, settings.customers))
                run.add(Row(name, settings.customers / elapsed))
        peaks["ingress_peak_mib"] = peak_mib(serve.pid)
        asyncio.run(_forgotten(nats_url))
    run.settings.update(peaks)
    return run


def sync_round_trip(settings: Settings, work: Path) -> LoadRun:
    """POST to a synchronous trivial flow at concurrency 1 until the 303 (the execution done, one
    worker) vs bare Granian's 200, requests per second at concurrency 1 (1 / latency)."""
    subject = "hookcore, synchronous flow, request → 303 (execution done)"
    run = LoadRun("req/s", subject, BARE, _settings(settings))
    lua = wrk.script(work / "post.lua")
    one = replace(settings, connections=1)
    with ExitStack() as stack:
        nats_url = stack.enter_context(nats_server(work / "nats"))
        hookcore = stack.enter_context(hookcore_serve(nats_url, work))
        stack.enter_context(hookcore_worker(nats_url, work, settings.worker_concurrency))
        sync = deploy(hookcore)["Sync"]
        wait_routable(sync, {"content-type": "application/json"}, wrk.BODY)
        bare = stack.enter_context(granian("benches.load.bare_app:app", work)) + "/trigger/x"
        _alternate(run, one, {BARE: (bare, lua), subject: (sync, lua)})
    return run


RAW = "raw JetStream publish (nats-py, 32 in flight)"
RAW_IN_FLIGHT = 32
RAW_CHUNK = 900 * 1024  # the raw publisher's message size for bodies over the 1 MB max_payload
LARGE_CONNECTIONS = 8
MIB = 1024 * 1024


def large_bodies(settings: Settings, work: Path, size: int) -> LoadRun:
    """JSON bodies of ``size`` bytes: hookcore's durable ingest in MB/s vs a pipelined nats-py
    publisher storing the same bytes on the same nats-server. hookcore runs against a server with
    NATS's default max_payload (1 MB: bodies above ~960 KB go to the object store) and one with
    max_payload raised to 8 MB (bodies inline in their envelope): the message-size policy
    (docs/architecture.md, "Large bodies") rests on this comparison."""
    subject = "hookcore ingress, nats-server max_payload 1 MB (NATS's default)"
    inline = "hookcore ingress, nats-server max_payload 8 MB (bodies inline)"
    run = LoadRun(
        "MB/s",
        subject,
        RAW,
        {**_settings(settings), "connections": LARGE_CONNECTIONS, "body_bytes": size},
        spec_ratio=0.8 if size <= MIB else 0.7,
        target_source="issue 20",
    )
    lua = wrk.script(work / f"large-{size}.lua", body=_json_body(size))
    with ExitStack() as stack:
        default = stack.enter_context(nats_server(work / "nats"))
        raised = stack.enter_context(nats_server(work / "nats8", extra_config=f"max_payload: {8 * MIB}\n"))
        urls = {
            subject: deploy(stack.enter_context(hookcore_serve(default, work)))["Noop"],
            inline: deploy(stack.enter_context(hookcore_serve(raised, work)))["Noop"],
        }
        for url in urls.values():
            wait_routable(url, {"content-type": "application/json"}, wrk.BODY)
        asyncio.run(_raw_stream(default))
        for _ in range(settings.rounds):
            mb_per_s = asyncio.run(_raw_publish(default, size, settings.duration))
            run.add(Row(RAW, mb_per_s))
            for name, url in urls.items():
                nats_url = default if name == subject else raised
                if settings.warmup:
                    wrk.run(url, lua, settings.warmup, LARGE_CONNECTIONS)
                    asyncio.run(_emptied(nats_url))
                result = wrk.run(url, lua, settings.duration, LARGE_CONNECTIONS)
                run.add(Row(name, result.rps * size / 1e6, result.p50_ms, result.p99_ms, result.non_2xx))
                # a quiet machine stores GBs per run: the streams' byte limits would answer 503
                asyncio.run(_emptied(nats_url))
    return run


async def _emptied(nats_url: str) -> None:
    """Purge the requests and bodies a run stored (no worker runs them)."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await js.purge_stream(EXECUTIONS_STREAM)
        await js.purge_stream(OBJECTS_STREAM)
    finally:
        await nc.close()


async def _forgotten(nats_url: str) -> None:
    """Purge every request, body, record and index entry stored so far (the run's own)."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for stream in (EXECUTIONS_STREAM, OBJECTS_STREAM, f"KV_{RECORDS_BUCKET}", INDEX_STREAM):
            await js.purge_stream(stream)
    finally:
        await nc.close()


async def _send_each(url: str, customers: int, in_flight: int = 32) -> None:
    """One 1 KB JSON POST for each customer c0 … c<customers - 1>, ``in_flight`` at a time."""
    todo = iter(range(customers))
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(timeout=30) as client:

        async def sender() -> None:
            for n in todo:
                customer = {**headers, "x-customer": f"c{n}"}
                response = await client.post(url, content=wrk.BODY, headers=customer)
                if response.status_code != 200:
                    raise RuntimeError(f"customer c{n}: {response.status_code} {response.text}")

        await asyncio.gather(*(sender() for _ in range(in_flight)))


async def _all_succeeded(nats_url: str, executions: int) -> None:
    """Fail unless ``executions`` records are stored (one per execution: the stores were purged
    before) and none is filed under failed or dead in the executions index."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        records = (await js.stream_info(f"KV_{RECORDS_BUCKET}")).state.messages
        bad = {}
        for status in ("failed", "dead"):
            filed = IndexFilter(status=status).subjects()
            info = await js.stream_info(INDEX_STREAM, subjects_filter=filed)
            bad[status] = len(info.state.subjects or {})
        if records != executions or any(bad.values()):
            raise RuntimeError(f"{executions} executions: {records} records, {bad} failed or dead")
    finally:
        await nc.close()


def _json_body(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    head = b'{"event":"push","pad":"'
    return head + b"x" * (size - len(head) - 2) + b'"}'


async def _raw_stream(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().add_stream(name="BENCH_RAW", subjects=["bench.raw"])
    finally:
        await nc.close()


async def _raw_publish(nats_url: str, size: int, seconds: float) -> float:
    """MB/s that ``RAW_IN_FLIGHT`` concurrent nats-py publishers store in ``seconds``, each message
    ``size`` bytes (``RAW_CHUNK`` when ``size`` is over the server's max_payload)."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    payload = b"x" * (size if size <= nc.max_payload - 64 * 1024 else RAW_CHUNK)
    stored = 0
    deadline = time.perf_counter() + seconds

    async def publisher() -> None:
        nonlocal stored
        while time.perf_counter() < deadline:
            await js.publish("bench.raw", payload)
            stored += len(payload)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(publisher() for _ in range(RAW_IN_FLIGHT)))
        return stored / (time.perf_counter() - started) / 1e6
    finally:
        await js.purge_stream("BENCH_RAW")
        await nc.close()


def _abba(round_no: int, first: T, second: T) -> tuple[T, T]:
    """The two in turn, each first in every other round (ABBA): the second of a pair runs while
    the first one's processes wind down and its stores have grown."""
    return (first, second) if round_no % 2 == 0 else (second, first)


def _alternate(run: LoadRun, settings: Settings, targets: dict[str, tuple[str, Path]]) -> None:
    for _ in range(settings.rounds):
        for name, (url, lua) in targets.items():
            if settings.warmup:
                wrk.run(url, lua, settings.warmup, settings.connections)
            result = wrk.run(url, lua, settings.duration, settings.connections)
            run.add(Row(name, result.rps, result.p50_ms, result.p99_ms, result.non_2xx))


async def _stored(nats_url: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        return int((await nc.jetstream().stream_info(EXECUTIONS_STREAM)).state.last_seq)
    finally:
        await nc.close()


async def _drained(nats_url: str, first_come: bool = False) -> None:
    """Until the workers' queues (``first_come``: `first_come_worker`'s one queue) have nothing
    pending or unacked."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    deadline = time.monotonic() + DRAIN_TIMEOUT
    try:
        while time.monotonic() < deadline:
            backlog = {
                name: b for name, b in (await work_backlog(js)).items() if (name == CONSUMER) == first_come
            }
            if backlog and not any(b.waiting or b.in_progress for b in backlog.values()):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"executions still pending after {DRAIN_TIMEOUT:g}s")
    finally:
        await nc.close()


def _settings(settings: Settings) -> dict[str, object]:
    return {**asdict(settings), **describe()}
