"""One rate-limit decision: the Rust bucket (called from Python) vs a pure-Python token bucket."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from hookcore import _core
from hookcore.integration import Integration
from hookcore.routing import integration_spec


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


def _ingress(rate_limits: bool) -> Any:
    core = _core.Ingress(
        subject_prefix="hookcore.executions",
        reply_prefix="_INBOX.bench",
        max_inline_body=1 << 20,
        max_headers=64,
        max_header_bytes=65536,
        max_parts=1000,
        max_part_header_bytes=16384,
        rate_limits=rate_limits,
    )
    app = Integration("simple", rate_limit=1e9)  # never refuses: every request pays for the decision
    app.flow("Order created")(lambda ctx, payload: None)
    core.set_integration(integration_spec(app))
    core.set_instance("i", msgspec.json.encode({"id": "i", "integration": "simple", "customer": "c"}))
    core.set_endpoint(
        "E",
        msgspec.json.encode(
            {
                "endpoint": "E",
                "integration": "simple",
                "kind": "instance_and_flow",
                "instance": "i",
                "flow": "Order created",
            }
        ),
    )
    return core


BODY = b'{"event":{"type":"order.created"},"pad":"' + b"x" * 950 + b'"}'
HEADERS = [("content-type", "application/json")]


def test_ingest_with_rate_limiting(benchmark: Any) -> None:
    benchmark.group = "ingest 1 KB JSON, rate limiting on vs off"
    core = _ingress(rate_limits=True)
    assert benchmark(core.ingest, "POST", "E", "", HEADERS, BODY)[0] == 200


def test_ingest_without_rate_limiting(benchmark: Any) -> None:
    benchmark.group = "ingest 1 KB JSON, rate limiting on vs off"
    core = _ingress(rate_limits=False)
    assert benchmark(core.ingest, "POST", "E", "", HEADERS, BODY)[0] == 200
