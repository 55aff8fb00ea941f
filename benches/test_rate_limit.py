"""One rate-limit decision: the Rust bucket (called from Python) vs a pure-Python token bucket."""

from __future__ import annotations

import time
from typing import Any

from benches.cores import add_endpoint, add_instance, bench_ingress
from hookcore import _core
from hookcore.integration import Integration


class PythonTokenBucket:
    """The textbook token bucket in Python: tokens and last refill per key."""

    def __init__(self) -> None:
        self.buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str, rate: float, burst: int) -> bool:
        now = time.monotonic()
        tokens, last = self.buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        allowed = tokens >= 1.0
        self.buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        return allowed


def test_rust_bucket_in_process(benchmark: Any) -> None:
    benchmark.group = "rate-limit decision"
    limiter = _core.RateLimiter()
    assert benchmark(limiter.check, "endpoint-id", 1e9, 1000).allowed


def test_rust_bucket_shared_memory(benchmark: Any, tmp_path: Any) -> None:
    benchmark.group = "rate-limit decision"
    benchmark.extra_info["subject"] = True  # hookcore's side of the group
    limiter = _core.RateLimiter(table=tmp_path / "rates")
    assert benchmark(limiter.check, "endpoint-id", 1e9, 1000).allowed


def test_python_token_bucket(benchmark: Any) -> None:
    benchmark.group = "rate-limit decision"
    bucket = PythonTokenBucket()
    assert benchmark(bucket.check, "endpoint-id", 1e9, 1000)


def _ingress(rate_limits: bool) -> Any:
    app = Integration("simple", rate_limit=1e9)  # never refuses: every request pays for the decision
    app.flow("Order created")(lambda ctx, payload: None)
    core = bench_ingress(app, rate_limits=rate_limits)
    add_instance(core, "i", "simple", "c")
    add_endpoint(core, "E", "simple", "instance_and_flow", "i", "Order created")
    return core


BODY = b'{"event":{"type":"order.created"},"pad":"' + b"x" * 950 + b'"}'
HEADERS = [("content-type", "application/json")]


def test_ingest_with_rate_limiting(benchmark: Any) -> None:
    benchmark.group = "ingest 1 KB JSON, rate limiting on vs off"
    benchmark.extra_info["subject"] = True  # hookcore's side of the group
    core = _ingress(rate_limits=True)
    assert isinstance(benchmark(core.ingest, "POST", "E", "", HEADERS, BODY, 1), _core.Accepted)


def test_ingest_without_rate_limiting(benchmark: Any) -> None:
    benchmark.group = "ingest 1 KB JSON, rate limiting on vs off"
    core = _ingress(rate_limits=False)
    assert isinstance(benchmark(core.ingest, "POST", "E", "", HEADERS, BODY, 1), _core.Accepted)
