"""Counting one /trigger answer (status, latency histogram, customer): the Rust counters
every ingress process shares vs prometheus-client, per process and in its multiprocess mode,
and the per-process `collections.Counter` the ingress had before (docs/operations.md)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import Counter as PromCounter
from prometheus_client import Histogram, values

from hookcore import _core

GROUP = "counting an answer"
BUCKETS = (1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def test_rust_counters_shared_memory(benchmark: Any, tmp_path: Path) -> None:
    """What the ingress does per answer; the customer is counted inside `ingest`."""
    benchmark.group = GROUP
    benchmark.extra_info["subject"] = True  # hookcore's side of the group
    counters = _core.IngressCounters(tmp_path / "counters", customers=100, create=True)
    benchmark(lambda: counters.answered(200, time.monotonic_ns()))
    assert counters.snapshot().statuses[0][0] == 200


def test_per_process_counter(benchmark: Any) -> None:
    """Before: a status count per process, no latency, no customers, not shared."""
    benchmark.group = GROUP
    responses: Counter[int] = Counter()

    def record() -> None:
        responses[200] += 1

    benchmark(record)
    assert responses[200] > 0


def _prometheus() -> Any:
    responses = PromCounter("responses", "", ["status"], registry=None)
    latency = Histogram("latency", "", buckets=BUCKETS, registry=None)
    customers = PromCounter("customers", "", ["customer"], registry=None)

    def record() -> None:
        started = time.perf_counter()
        responses.labels("200").inc()
        latency.observe(time.perf_counter() - started)
        customers.labels("acme").inc()

    return record


def test_prometheus_client_per_process(benchmark: Any) -> None:
    benchmark.group = GROUP
    benchmark(_prometheus())


def test_prometheus_client_multiprocess(
    benchmark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its multiprocess mode: what PROMETHEUS_MULTIPROC_DIR set before the import selects."""
    benchmark.group = GROUP
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue())
    benchmark(_prometheus())
    assert any(tmp_path.iterdir()), "no multiprocess value files: not the multiprocess mode"
