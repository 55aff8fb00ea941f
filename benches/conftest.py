"""Micro benches: each Rust function sits beside its pure-Python baseline (same group, same input).

pytest benches --benchmark-only --benchmark-group-by=group
"""

from __future__ import annotations

import pytest

# pytest-benchmark sizes its rounds from the first call. A cold first call
# (imports, caches) takes longer than the 5 µs target round, so rounds of a
# sub-microsecond function would be one call each and include the ~0.1 µs of
# reading the clock twice. Warmed up first, rounds are sized on warm calls.
WARMUP = pytest.mark.benchmark(warmup=True, warmup_iterations=1000)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(WARMUP)
