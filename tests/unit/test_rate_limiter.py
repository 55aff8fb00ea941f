"""The Rust rate limiter as Python sees it (the ingress's buckets, usable on their own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hookcore import _core


def test_burst_then_refused_with_headers() -> None:
    limiter = _core.RateLimiter()
    verdicts = [limiter.check("k", 50) for _ in range(60)]
    assert [v[0] for v in verdicts].count(True) == 50
    allowed, limit, remaining, reset, retry_after = verdicts[-1]
    assert (allowed, limit, remaining) == (False, 50, 0)
    assert reset >= 1 and retry_after >= 1
    assert limiter.check("other", 50)[0]


def test_two_limiters_on_one_file_share_buckets(tmp_path: Path) -> None:
    first = _core.RateLimiter(table=tmp_path / "rates")
    second = _core.RateLimiter(table=tmp_path / "rates")
    allowed = sum(lim.check("k", 10)[0] for lim in (first, second) * 10)
    assert allowed == 10


def test_bad_arguments_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rate must be a positive number"):
        _core.RateLimiter().check("k", 0)
    _core.RateLimiter(slots=1024, table=tmp_path / "t")
    with pytest.raises(OSError, match="delete the file"):
        _core.RateLimiter(slots=4096, table=tmp_path / "t")
