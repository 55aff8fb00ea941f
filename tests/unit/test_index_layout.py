"""The executions index's layout and bounds, without JetStream (tests/integration/test_index.py
lists and counts through it)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from hookcore.executions import id_at
from hookcore.index import Bounds, IndexFilter, entry_subject, token

MOMENT = datetime(2026, 11, 29, 23, 58, 41, 123000, tzinfo=UTC)


def test_an_entry_is_filed_under_its_ids_minute_customer_flow_and_status() -> None:
    execution_id = id_at(MOMENT)
    subject = entry_subject(
        execution_id, datetime(2000, 1, 1, tzinfo=UTC), "acme/é", "Order created", "failed"
    )
    where = f"20261129.23.58.{token('acme/é')}.{token('Order created')}"
    assert subject == f"hookcore.index.{where}.failed.{execution_id}"
    # an id that is no UUIDv7 is filed at the time the request was received
    assert entry_subject("not-a-uuid", MOMENT, "", "", "dead").startswith(
        "hookcore.index.20261129.23.58._._."
    )


def test_tokens_are_subject_safe_and_tell_values_apart() -> None:
    values = ["acme", "acme.eu", "a b", "*", ">", "", "é", "acme="]
    tokens = [token(v) for v in values]
    assert len(set(tokens)) == len(values)
    assert all(t and all(c.isalnum() or c in "-_" for c in t) for t in tokens)
    assert base64.urlsafe_b64decode(token("acme.eu") + "==") == b"acme.eu"


def test_a_filter_fixes_the_tokens_it_names() -> None:
    wanted = IndexFilter(customer="acme", status="running")
    assert wanted.subjects("20261129", "23") == f"hookcore.index.20261129.23.*.{token('acme')}.*.running.*"
    assert IndexFilter().subjects() == "hookcore.index.*.*.*.*.*.*.*"


def test_bounds_say_which_days_hours_and_minutes_they_cut() -> None:
    after, before = id_at(datetime(2026, 11, 27, 10, 5, 30, tzinfo=UTC)), id_at(MOMENT)
    bounds = Bounds(before, after)
    assert [bounds.cut(span) for span in ("20261126", "20261127", "20261128", "20261129", "20261130")] == [
        "none",
        "some",
        "all",
        "some",
        "none",
    ]
    assert [bounds.cut(span) for span in ("2026112709", "2026112710", "2026112711")] == [
        "none",
        "some",
        "all",
    ]
    assert [bounds.cut(s) for s in ("202611271004", "202611271005", "202611271006")] == [
        "none",
        "some",
        "all",
    ]
    assert [bounds.cut(s) for s in ("202611292357", "202611292358", "202611292359")] == [
        "all",
        "some",
        "none",
    ]
    assert bounds.holds(id_at(datetime(2026, 11, 28, tzinfo=UTC)))
    assert not bounds.holds(before) and not bounds.holds(after)
    assert Bounds(None, None).cut("20261129") == "all" and Bounds(None, None).unbounded


def test_bounds_walk_the_days_newest_first_down_to_the_horizon() -> None:
    bounds = Bounds(id_at(MOMENT), None)
    horizon = (datetime.now(UTC) - MOMENT).total_seconds() + 3 * 86400
    assert list(bounds.days(horizon)) == ["20261129", "20261128", "20261127", "20261126"]
    after = Bounds(None, id_at(datetime.now(UTC)))
    assert len(list(after.days(horizon=30 * 86400))) <= 2  # today, and tomorrow within the clock skew


def test_a_cursor_from_the_future_walks_from_now_not_from_its_year() -> None:
    # schemathesis sent a cursor of the year 4479: the walk took a direct get per day until then
    far = Bounds("4803e32c-07cd-7e11-1bfa-5b7769a08772", None)
    days = list(far.days(horizon=30 * 86400))
    assert 30 <= len(days) <= 32
    assert days[0] <= f"{datetime.now(UTC) + timedelta(days=1):%Y%m%d}"
