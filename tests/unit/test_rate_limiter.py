"""The Rust rate limiter as Python sees it (the ingress's buckets, usable on their own).

Time is passed in (``now_us``), so the counts are exact whatever the machine's load.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hookcore import _core

T0 = 1_000_000_000  # any positive microsecond count: the clock these tests stop


def test_burst_then_refused_with_headers() -> None:
    limiter = _core.RateLimiter()
    verdicts = [limiter.check("k", 50, now_us=T0) for _ in range(60)]
    assert [v.allowed for v in verdicts] == [True] * 50 + [False] * 10
    assert (verdicts[0].limit, verdicts[0].remaining) == (50, 49)
    assert (verdicts[49].limit, verdicts[49].remaining) == (50, 0)
    last = verdicts[-1]
    assert (last.allowed, last.limit, last.remaining) == (False, 50, 0)
    # one interval (20 ms) to the next token, rounded up
    assert (last.reset_secs, last.retry_after_secs) == (1, 1)
    assert repr(last) == "Verdict(allowed=False, limit=50, remaining=0, reset_secs=1, retry_after_secs=1)"
    assert limiter.check("other", 50, now_us=T0).allowed


def test_tokens_come_back_at_the_rate() -> None:
    limiter = _core.RateLimiter()
    assert sum(limiter.check("k", 50, now_us=T0).allowed for _ in range(50)) == 50
    assert not limiter.check("k", 50, now_us=T0 + 19_999).allowed  # 1/50 s is 20,000 us
    assert limiter.check("k", 50, now_us=T0 + 20_000).allowed
    assert not limiter.check("k", 50, now_us=T0 + 20_000).allowed
    # after a whole second, a full burst again (and no more)
    later = T0 + 20_000 + 1_000_000
    assert sum(limiter.check("k", 50, now_us=later).allowed for _ in range(60)) == 50


def test_in_any_window_at_most_burst_plus_rate_times_t() -> None:
    limiter = _core.RateLimiter()
    # one request every millisecond for two seconds: 50 + 50 * 2 pass (the first at T0)
    passed = sum(limiter.check("k", 50, now_us=T0 + ms * 1000).allowed for ms in range(2001))
    assert passed == 50 + 100


def test_burst_is_its_own_setting() -> None:
    limiter = _core.RateLimiter()
    assert sum(limiter.check("b", 10, 3, now_us=T0).allowed for _ in range(10)) == 3
    assert limiter.check("b2", 10, 3, now_us=T0).limit == 3  # RateLimit-Limit is the burst


def test_two_limiters_on_one_file_share_buckets(tmp_path: Path) -> None:
    first = _core.RateLimiter(table=tmp_path / "rates")
    second = _core.RateLimiter(table=tmp_path / "rates")
    allowed = sum(lim.check("k", 10, now_us=T0).allowed for lim in (first, second) * 10)
    assert allowed == 10


def test_without_now_us_the_monotonic_clock_is_used() -> None:
    limiter = _core.RateLimiter()
    # a rate of one per 1000 s: the clock cannot refill a token within this test
    verdicts = [limiter.check("k", 0.001, 5).allowed for _ in range(8)]
    assert verdicts == [True] * 5 + [False] * 3


def test_bad_arguments_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rate must be a positive number"):
        _core.RateLimiter().check("k", 0)
    with pytest.raises(ValueError, match="now_us must be a positive number"):
        _core.RateLimiter().check("k", 1, now_us=0)
    with pytest.raises(ValueError, match="slots must be at least 1"):
        _core.RateLimiter(slots=0)
    _core.RateLimiter(slots=1024, table=tmp_path / "t")
    with pytest.raises(OSError, match="delete the file"):
        _core.RateLimiter(slots=4096, table=tmp_path / "t")
