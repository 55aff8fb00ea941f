"""What ``/metrics`` says: the ingress's and the workers' metric names, meanings and labels.

The ingress counts in `_core.IngressCounters`: atomic words in a block that every
Granian worker process of one `hookcore serve` maps (`counters_block` makes it;
`hookcore serve` removes it at exit), so each scrape, whichever process answers it,
has the totals of all. A worker is one process: its metrics are prometheus-client's
own, in memory. Both are written by prometheus-client (docs/operations.md lists them).
"""

from __future__ import annotations

import heapq
import os
import shutil
import tempfile
import time
from collections import Counter as Tally
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

import hookcore
from hookcore import _core
from hookcore.config import Settings

if TYPE_CHECKING:
    from hookcore.store import ExecutionRecord

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

COUNTERS_ENV = "HOOKCORE_METRICS_BLOCK"
"""The counters block `hookcore serve` made for its processes (unset: each process counts alone)."""


def build_info() -> GaugeMetricFamily:
    info = GaugeMetricFamily(
        "hookcore_build_info", "Always 1; the hookcore version this process runs.", labels=["version"]
    )
    info.add_metric([hookcore.__version__], 1)
    return info


def ingress_counters(settings: Settings) -> _core.IngressCounters:
    """The counters of this ingress process: the block `hookcore serve` shares between its
    processes, or counters of its own when it was started otherwise."""
    block = os.environ.get(COUNTERS_ENV)
    return _core.IngressCounters(Path(block) if block else None, customers=settings.metrics_customers)


BLOCK_PREFIX = "hookcore-metrics-"


@contextmanager
def counters_block(settings: Settings) -> Iterator[Path]:
    """A new counters block for the processes of one `hookcore serve`, in a directory only this
    user can enter (under /dev/shm: memory, not disk); removed on the way out. Blocks that
    servers killed before they could remove theirs left behind go first."""
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() else Path(tempfile.gettempdir())
    _remove_orphaned_blocks(parent)
    directory = Path(tempfile.mkdtemp(prefix=f"{BLOCK_PREFIX}{os.getpid()}-", dir=parent))
    try:
        path = directory / "counters"
        _core.IngressCounters(path, customers=settings.metrics_customers, create=True)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _remove_orphaned_blocks(parent: Path) -> None:
    """Remove this user's blocks whose `hookcore serve` (the pid in the name) is gone."""
    for directory in parent.glob(f"{BLOCK_PREFIX}*-*"):
        pid = directory.name[len(BLOCK_PREFIX) :].split("-", 1)[0]
        try:
            if not pid.isdigit() or directory.lstat().st_uid != os.geteuid():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(directory, ignore_errors=True)
        except OSError:  # alive and someone else's, or gone meanwhile
            continue


class IngressMetrics(Collector):
    """The ingress's metrics, read from its counters at each scrape."""

    def __init__(self, counters: _core.IngressCounters, routes: Callable[[], int]) -> None:
        self._counters = counters
        self._routes = routes
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self)

    def render(self) -> bytes:
        return generate_latest(self._registry)

    def collect(self) -> Iterator[Metric]:
        s = self._counters.snapshot()
        yield build_info()
        responses = CounterMetricFamily(
            "hookcore_trigger_responses", "Answers to /trigger requests by HTTP status.", labels=["status"]
        )
        for status, count in s.statuses:
            responses.add_metric([str(status)], count)
        yield responses
        yield CounterMetricFamily(
            "hookcore_publish_failures",
            "Requests JetStream did not store (answered 503).",
            value=s.publish_failures,
        )
        yield CounterMetricFamily(
            "hookcore_duplicates",
            "Deliveries answered with the first copy's execution id.",
            value=s.duplicates,
        )
        cumulative, buckets = 0, []
        for bound, count in zip([*s.latency_bounds, float("inf")], s.latency_buckets, strict=True):
            cumulative += count
            buckets.append((floatToGoString(bound), cumulative))  # type: ignore[no-untyped-call]
        yield HistogramMetricFamily(
            "hookcore_ingest_duration_seconds",
            "From a /trigger request reaching hookcore to its answer (after JetStream's ack for a 2xx).",
            buckets=buckets,
            sum_value=s.latency_sum,
        )
        customers = CounterMetricFamily(
            "hookcore_customer_requests",
            "Accepted /trigger requests per customer, for the first HOOKCORE_METRICS_CUSTOMERS "
            "customers seen since the server started.",
            labels=["customer"],
        )
        for customer, count in s.customers:
            customers.add_metric([customer], count)
        yield customers
        yield CounterMetricFamily(
            "hookcore_other_customer_requests",
            "Accepted /trigger requests of the customers beyond HOOKCORE_METRICS_CUSTOMERS.",
            value=s.other_customers,
        )
        yield GaugeMetricFamily(
            "hookcore_routes", "Endpoints in this process's routing table.", value=self._routes()
        )


QUEUE_WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
EXECUTION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
RUN_OUTCOMES = {"queued": "retrying", "running": "interrupted"}
"""Outcome labels of runs that did not end in a final status."""


class _BuildInfo(Collector):
    def collect(self) -> Iterator[Metric]:
        yield build_info()


TOP_CUSTOMERS = 10
"""Customers ``hookcore_customer_backlog`` names (those with the most waiting)."""
RECENT_STARTS = 200
"""Executions started from each work queue whose customers estimate who its backlog is."""


class _Backlogs(Collector):
    """What waits in each work queue, and for which customers, read at each scrape."""

    def __init__(self) -> None:
        self.read: Callable[[], dict[str, int]] = dict
        self.recent: dict[str, deque[str]] = {}
        """The customers of the last `RECENT_STARTS` executions started from each queue."""

    def collect(self) -> Iterator[Metric]:
        backlogs = self.read()
        family = GaugeMetricFamily(
            "hookcore_queue_backlog",
            "Executions waiting in each work queue (the sync lane, each customers' shard), as "
            "JetStream last told this worker, plus those it holds and has not started.",
            labels=["queue"],
        )
        for queue, waiting in sorted(backlogs.items()):
            family.add_metric([queue], waiting)
        yield family
        customers = GaugeMetricFamily(
            "hookcore_customer_backlog",
            f"The {TOP_CUSTOMERS} customers with the most executions waiting, estimated: each "
            "queue's backlog shared between the customers of the last "
            f"{RECENT_STARTS} executions this worker started from it, in their proportions.",
            labels=["customer"],
        )
        estimates: dict[str, float] = {}
        for queue, backlog in backlogs.items():
            recent = self.recent.get(queue)
            if backlog and recent:
                for customer, started in Tally(recent).items():
                    estimates[customer] = estimates.get(customer, 0.0) + backlog * started / len(recent)
        for customer in sorted(heapq.nlargest(TOP_CUSTOMERS, estimates, key=estimates.__getitem__)):
            customers.add_metric([customer], round(estimates[customer]))
        yield customers


class WorkerMetrics:
    """The metrics of one worker process."""

    def __init__(self) -> None:
        # no *_created series: Prometheus has the process start time
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_BuildInfo())
        flow = ["integration", "flow"]
        self.queue_wait = Histogram(
            "hookcore_queue_wait_seconds",
            "From a request being received to the start of its execution's first run.",
            flow,
            buckets=QUEUE_WAIT_BUCKETS,
            registry=self.registry,
        )
        self.execution = Histogram(
            "hookcore_execution_duration_seconds",
            "How long one run of a flow took (the flow, its result stored).",
            flow,
            buckets=EXECUTION_BUCKETS,
            registry=self.registry,
        )
        self.runs = Counter(
            "hookcore_runs",
            "Runs of flows by outcome: succeeded, failed, dead, retrying (failed, will run again), "
            "interrupted (not the flow's fault; redelivered).",
            [*flow, "outcome"],
            registry=self.registry,
        )
        self.running = Gauge(
            "hookcore_runs_in_progress", "Runs of flows in progress in this worker.", registry=self.registry
        )
        self.waiting = Gauge(
            "hookcore_executions_waiting",
            "Executions this worker holds, unstarted, until a slot under their max_concurrency is free.",
            registry=self.registry,
        )
        self._backlogs = _Backlogs()
        self.registry.register(self._backlogs)
        self._flows: dict[tuple[str, str], tuple[Histogram, Histogram]] = {}
        """Each flow's queue wait and duration series."""
        self._runs: dict[tuple[str, str, str], Counter] = {}
        """Each flow's run counter by outcome."""

    def watch_backlogs(self, read: Callable[[], dict[str, int]]) -> None:
        """Report ``read()`` (queue -> executions waiting) as ``hookcore_queue_backlog``."""
        self._backlogs.read = read

    def watch_waiting(self, read: Callable[[], int]) -> None:
        """Report ``read()`` as ``hookcore_executions_waiting``."""
        self.waiting.set_function(read)

    def started(self, queue: str, customer: str) -> None:
        """An execution of ``customer`` taken from the work queue ``queue`` starts its run."""
        recent = self._backlogs.recent.get(queue)
        if recent is None:
            recent = self._backlogs.recent[queue] = deque(maxlen=RECENT_STARTS)
        recent.append(customer)

    @contextmanager
    def run(self, record: ExecutionRecord) -> Iterator[None]:
        """Time one run of ``record`` (just marked running): its queue wait on the first run,
        its duration and outcome at the end."""
        flow = (record.integration, record.flow)
        series = self._flows.get(flow)
        if series is None:  # `labels` costs as much as the rest of this together: once per flow
            series = self._flows[flow] = (self.queue_wait.labels(*flow), self.execution.labels(*flow))
        queue_wait, duration = series
        if record.attempts == 1 and record.started_at is not None:
            wait = (record.started_at - record.received_at).total_seconds()
            queue_wait.observe(max(wait, 0.0))
        started = time.monotonic()
        self.running.inc()
        try:
            yield
        finally:
            self.running.dec()
            duration.observe(time.monotonic() - started)
            outcome = (*flow, RUN_OUTCOMES.get(record.status, record.status))
            runs = self._runs.get(outcome)
            if runs is None:
                runs = self._runs[outcome] = self.runs.labels(*outcome)
            runs.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
