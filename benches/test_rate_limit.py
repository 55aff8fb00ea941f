"""One rate-limit decision: the Rust bucket (called from Python) vs a pure-Python token bucket."""

from __future__ import annotations

import time
from typing import Any

from hookcore import _core


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
    assert benchmark(limiter.check, "endpoint-id", 1e9, 1000)[0]


def test_rust_bucket_shared_memory(benchmark: Any, tmp_path: Any) -> None:
    benchmark.group = "rate-limit decision"
    limiter = _core.RateLimiter(table=tmp_path / "rates")
    assert benchmark(limiter.check, "endpoint-id", 1e9, 1000)[0]


def test_python_token_bucket(benchmark: Any) -> None:
    benchmark.group = "rate-limit decision"
    bucket = PythonTokenBucket()
    assert benchmark(bucket.check, "endpoint-id", 1e9, 1000)
