"""Execution records within their size bound (hookcore.bounds) and ctx.log's own bound."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from hookcore.bounds import encode_within, truncated, unstorable, utf8
from hookcore.context import FlowLog
from hookcore.steps import LogLine, StepRecord
from hookcore.store import ExecutionRecord

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LIMIT = 16 * 1024


def record(
    error: str | None = None, logs: Sequence[str] = (), steps: Sequence[object] = ()
) -> ExecutionRecord:
    return ExecutionRecord(
        id="0190d4a8-0000-7000-8000-000000000000",
        status="failed",
        integration="acme",
        flow="Order created",
        instance="inst",
        customer="c1",
        received_at=NOW,
        error=error,
        logs=[LogLine(at=NOW, level="info", message=m) for m in logs],
        steps=[
            StepRecord(name=f"s{i}", result=r, started_at=NOW, finished_at=NOW) for i, r in enumerate(steps)
        ],
    )


def decode(data: bytes) -> ExecutionRecord:
    return msgspec.json.decode(data, type=ExecutionRecord)


def test_truncated_says_how_much_was_cut() -> None:
    assert truncated("short", 100) == "short"
    cut = truncated("é" * 100, 11)  # 200 bytes; 'é' is 2: five fit, half of one does not
    assert cut == "ééééé… [truncated 190 bytes]"


def test_a_record_that_fits_is_encoded_as_it_is() -> None:
    small = record(error="boom", logs=["a", "b"], steps=[{"x": 1}])
    assert encode_within(small, LIMIT) == msgspec.json.encode(small)


def test_an_enormous_error_is_cut() -> None:
    data = encode_within(record(error="E" * 10_000_000), LIMIT)
    assert len(data) <= LIMIT
    error = decode(data).error
    assert error is not None and error.startswith("EEE") and error.endswith("… [truncated 9995904 bytes]")


def test_endless_logs_keep_their_first_and_last_lines() -> None:
    original = record(logs=[f"line {i}" for i in range(100_000)])
    data = encode_within(original, LIMIT)
    assert len(data) <= LIMIT
    messages = [line.message for line in decode(data).logs]
    assert messages[0] == "line 0" and messages[-1] == "line 99999"
    [marker] = [m for m in messages if m.startswith("… [")]
    assert marker == f"… [{100_000 - len(messages) + 1} log lines dropped]"
    assert len(original.logs) == 100_000  # the record itself is left alone


def test_big_step_results_and_many_steps() -> None:
    data = encode_within(record(steps=[{"blob": "x" * 1_000_000}, "y" * 1_000_000, 1]), LIMIT)
    big, text, one = decode(data).steps
    assert big.result.startswith('{"blob":"xxx') and big.result.endswith(" bytes]")
    assert text.result.startswith("yyy") and text.result.endswith(" bytes]")
    assert one.result == 1
    many = decode(encode_within(record(steps=[["z" * 1000] for _ in range(1000)]), LIMIT)).steps
    assert many[0].name == "s0" and many[-1].name == "s999"
    assert any(step.name.endswith("steps dropped]") for step in many)


def test_text_that_is_not_utf8_is_repaired() -> None:
    data = encode_within(record(error="bad \udcff", logs=["\ud800 alone"], steps=[object()]), LIMIT)
    repaired = decode(data)
    assert repaired.error == "bad \ufffd"
    assert repaired.logs[0].message == "\ufffd alone"
    assert repaired.steps[0].result.startswith("[not storable: TypeError")
    assert utf8("fine") == "fine"
    assert unstorable({"a": [1]}) is None and unstorable(object()) is not None


@given(
    error=st.none() | st.text(max_size=3000),
    logs=st.lists(st.text(max_size=3000), max_size=40),
    steps=st.lists(st.text(max_size=3000) | st.integers(), max_size=10),
)
def test_any_record_fits(error: str | None, logs: list[str], steps: list[object]) -> None:
    data = encode_within(record(error=error, logs=logs, steps=steps), 16 * 1024)
    assert len(data) <= 16 * 1024
    decode(data)


def test_flow_log_keeps_first_and_last_lines_in_memory() -> None:
    log = FlowLog("x", max_lines=10, max_line_bytes=100)
    for i in range(1000):
        log.info("line %d", i)
    log.info("long %s", "w" * 1000)
    log.info({"not": "a string"})  # type: ignore[arg-type]
    messages = [line.message for line in log.lines]
    assert messages[:5] == [f"line {i}" for i in range(5)]
    assert messages[5] == "… [992 log lines dropped]"
    assert messages[-2].startswith("long www") and messages[-2].endswith("… [truncated 905 bytes]")
    assert messages[-1] == "{'not': 'a string'}"
    assert len(messages) == 11
