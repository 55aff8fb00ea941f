"""Load runs (SPEC section 7) as benchmarks: one round of each, its figures in ``extra_info``.

The benchmark's time is the whole run's and means nothing; what a run
measured (req/s or executions/s, p50/p99, the ratio to its same-run
baseline, every round) is in ``extra_info``, see benches/load/figures.py.
Under ``--benchmark-disable`` each run is short (one second per target at
four connections): it proves the run works, and fails if any request failed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benches.load import fairness_cpu, memory, runs
from benches.load.figures import LoadRun

pytestmark = pytest.mark.timeout(1800)  # a full run is minutes; each stops by itself well before


def _measure(
    benchmark: Any, group: str, run: Callable[[runs.Settings, Path], LoadRun], *args: Any
) -> LoadRun:
    benchmark.group = group
    result: LoadRun = benchmark.pedantic(run, args=args, rounds=1, iterations=1)
    benchmark.extra_info.update(result.extra_info())
    failed = {row.target: row.non_2xx for row in result.rounds if row.non_2xx}
    assert not failed, f"requests answered with a status other than 2xx or 3xx: {failed}"
    return result


def test_durable_ingest(benchmark: Any, load_settings: runs.Settings, tmp_path: Path) -> None:
    run = _measure(benchmark, "load: durable ingest, 1 KB JSON", runs.durable_ingest, load_settings, tmp_path)
    assert set(run.best()) == {runs.BARE, runs.NAIVE, runs.FASTAPI, runs.HOOKCORE, runs.SIGNED}


def test_shared_endpoint(benchmark: Any, load_settings: runs.Settings, tmp_path: Path) -> None:
    group = "load: shared endpoint, many customers"
    run = _measure(benchmark, group, runs.shared_endpoint, load_settings, tmp_path)
    assert len(run.best()) == 2


def test_end_to_end(benchmark: Any, load_settings: runs.Settings, tmp_path: Path) -> None:
    group = "load: end to end, one worker"
    run = _measure(benchmark, group, runs.end_to_end, load_settings, tmp_path)
    assert all(row.value > 0 for row in run.rounds)


def test_fairness_cost(benchmark: Any, load_settings: runs.Settings, tmp_path: Path) -> None:
    group = "load: fairness between customers, one worker"
    run = _measure(benchmark, group, runs.fairness_cost, load_settings, tmp_path)
    assert set(run.best()) == {run.subject, runs.FIRST_COME}


def test_every_customer_once(benchmark: Any, load_settings: runs.Settings, tmp_path: Path) -> None:
    group = "load: one execution of every customer, one worker"
    run = _measure(benchmark, group, runs.every_customer_once, load_settings, tmp_path)
    assert set(run.best()) == {runs.EVERY_CUSTOMER, runs.FIRST_COME}
    assert {"worker_peak_mib", "first_come_worker_peak_mib", "ingress_peak_mib"} <= run.settings.keys()


LARGE = {"100 KB": 100 * 1024, "1 MB": 1024 * 1024, "4 MB": 4 * 1024 * 1024, "10 MB": 10 * 1000 * 1000}


@pytest.mark.parametrize("label", LARGE)
def test_large_bodies(benchmark: Any, load_settings: runs.Settings, tmp_path: Path, label: str) -> None:
    size = LARGE[label]  # 10 MB: decimal, under HOOKCORE_MAX_BODY's 10 MiB
    group = f"load: large bodies, {label} JSON"
    run = _measure(benchmark, group, runs.large_bodies, load_settings, tmp_path, size)
    assert len(run.best()) == 3


def test_sync_round_trip(benchmark: Any, load_settings: runs.Settings, tmp_path: Path) -> None:
    group = "load: synchronous round trip, concurrency 1"
    run = _measure(benchmark, group, runs.sync_round_trip, load_settings, tmp_path)
    assert len(run.best()) == 2


def test_the_memory_run_works(tmp_path: Path) -> None:
    """`python -m benches.load.memory` (run by hand; its figures are in docs/architecture.md),
    small enough to prove it works."""
    idle, peak = memory.measure(tmp_path, uploads=2, size=2 * 1024 * 1024, rounds=1)
    assert idle.keys() == peak.keys() and all(peak[pid] >= idle[pid] > 0 for pid in idle)


def test_the_fairness_cpu_run_works(tmp_path: Path) -> None:
    """`python -m benches.load.fairness_cpu` (run by hand; its figures are in docs/architecture.md),
    small enough to prove it works."""
    drains = fairness_cpu.measure(tmp_path, customers=20, rounds=1, seconds=1, concurrency=4, connections=2)
    assert [d.first_come for d in drains] == [False, True]
    assert all(d.executions > 0 and d.nats_us > 0 and d.hookcore_us > 0 for d in drains)
