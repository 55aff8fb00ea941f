"""What counting one /trigger answer costs the hot path, per way of counting.

    python -m benches.metrics_cost old|rust|prometheus
    PROMETHEUS_MULTIPROC_DIR=$(mktemp -d) python -m benches.metrics_cost prometheus

Each records what the ingress records per request: the answer's status, its latency
in a histogram, and (prometheus) the customer's count; best of 5 runs of 200,000 in one
process. ``old``: the per-process ``collections.Counter`` hookcore had before its
counters were shared; ``rust``: ``_core.IngressCounters.answered`` (the customer is
counted inside ``ingest``); ``prometheus``: prometheus-client's metrics, shared
between processes when ``PROMETHEUS_MULTIPROC_DIR`` is set (its multiprocess mode).
docs/operations.md has the numbers and the choice they made.
"""

from __future__ import annotations

import argparse
import os
import time
import timeit
from collections import Counter
from collections.abc import Callable

from hookcore import _core

BUCKETS = (1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def old() -> Callable[[], None]:
    responses: Counter[int] = Counter()

    def record() -> None:
        responses[200] += 1

    return record


def rust() -> Callable[[], None]:
    counters = _core.IngressCounters(customers=100)
    return lambda: counters.answered(200, time.monotonic_ns())


def prometheus() -> Callable[[], None]:
    from prometheus_client import Counter as Count
    from prometheus_client import Histogram

    responses = Count("responses", "", ["status"], registry=None)
    latency = Histogram("latency", "", buckets=BUCKETS, registry=None)
    customers = Count("customers", "", ["customer"], registry=None)

    def record() -> None:
        started = time.perf_counter()
        responses.labels("200").inc()
        latency.observe(time.perf_counter() - started)
        customers.labels("acme").inc()

    return record


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benches.metrics_cost", description=__doc__)
    parser.add_argument("way", choices=["old", "rust", "prometheus"])
    args = parser.parse_args()
    record = {"old": old, "rust": rust, "prometheus": prometheus}[args.way]()
    n = 200_000
    best = min(timeit.repeat(record, number=n, repeat=5)) / n * 1e9
    shared = (
        " (multiprocess mode)"
        if args.way == "prometheus" and os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        else ""
    )
    print(f"{args.way}{shared}: {best:.0f} ns per request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
