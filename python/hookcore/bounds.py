"""Execution records within a size bound, whatever the flow logs, returns from steps or raises.

A record too big for one NATS message cannot be written; the execution would
then be redelivered and run again, forever. So texts are cut with a visible
marker (``… [truncated N bytes]``), and a record still over its bound loses
log lines and steps from the middle, with a marker saying how many. Texts
that are not UTF-8 (lone surrogates, as ``surrogateescape`` makes) are
repaired, since they cannot be encoded as JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

if TYPE_CHECKING:
    from hookcore.steps import LogLine, StepRecord
    from hookcore.store import ExecutionRecord

_json = msgspec.json.Encoder()

T = TypeVar("T")

DROPPED_LINES = re.compile(r"… \[(\d+) log lines dropped\]")


def truncated(text: str, max_bytes: int) -> str:
    """``text`` in at most ``max_bytes`` UTF-8 bytes, plus a marker saying how many were cut."""
    if len(text) * 4 <= max_bytes:  # no character takes more than 4 bytes
        return text
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return text
    kept = data[:max_bytes].decode("utf-8", "ignore")
    return f"{kept}… [truncated {len(data) - len(kept.encode('utf-8', 'surrogatepass'))} bytes]"


def dropped_lines(count: int) -> str:
    """The message of the log line standing for ``count`` lines dropped."""
    return f"… [{count} log lines dropped]"


def utf8(text: str) -> str:
    """``text`` with any lone surrogate replaced by U+FFFD (JSON cannot carry them)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def unstorable(value: Any) -> str | None:
    """Why ``value`` cannot be stored as JSON, or None when it can."""
    try:
        _json.encode(value)
    except Exception as e:  # TypeError, UnicodeEncodeError, RecursionError (a cycle), a raising hook…
        return f"{type(e).__name__}: {e}"
    return None


def encode_within(record: ExecutionRecord, limit: int) -> bytes:
    """The JSON of an execution record in at most ``limit`` bytes (the record is left as it is).

    Only what the flow made is cut: the error, log lines, step results.
    Identity fields are bounded where they are made (ids, names, the request's limits).
    """
    try:
        data = _json.encode(record)
    except Exception:  # as `unstorable`: whatever a flow's value makes the encoder raise
        record = _repaired(record)
        data = _json.encode(record)
    if len(data) <= limit:
        return data
    error = None if record.error is None else truncated(record.error, limit // 4)
    tb = None if record.traceback is None else truncated(record.traceback, limit // 8)
    logs = [
        msgspec.structs.replace(line, message=truncated(line.message, limit // 16)) for line in record.logs
    ]
    steps = [_cut_step(step, limit // 8) for step in record.steps]
    trimmed = msgspec.structs.replace(record, error=error, traceback=tb, logs=logs, steps=steps)
    data = _json.encode(trimmed)
    keep_logs, keep_steps = len(logs), len(steps)
    while len(data) > limit and (keep_logs > 1 or keep_steps > 1):
        # Halve whichever list weighs more.
        if keep_steps <= 1 or (keep_logs > 1 and len(_json.encode(trimmed.logs)) * 2 >= len(data)):
            keep_logs //= 2
        else:
            keep_steps //= 2
        trimmed = msgspec.structs.replace(
            trimmed, logs=_thin(logs, keep_logs, _lines_marker), steps=_thin(steps, keep_steps, _steps_marker)
        )
        data = _json.encode(trimmed)
    if len(data) > limit:  # one log line and one step that still do not fit
        trimmed = msgspec.structs.replace(
            trimmed,
            error=None if error is None else truncated(error, limit // 16),
            traceback=None if tb is None else truncated(tb, limit // 16),
            logs=_thin(logs, 0, _lines_marker),
            steps=_thin(steps, 0, _steps_marker),
        )
        data = _json.encode(trimmed)
    return data


def _cut_step(step: StepRecord, max_bytes: int) -> StepRecord:
    result = step.result
    if isinstance(result, str):
        cut: Any = truncated(result, max_bytes)
    else:
        data = _json.encode(result)
        cut = result if len(data) <= max_bytes else truncated(data.decode(), max_bytes)
    return step if cut is result else msgspec.structs.replace(step, result=cut)


def _thin(items: list[T], keep: int, marker: Callable[[list[T]], T]) -> list[T]:
    """The first and last halves of ``keep`` items, with a marker for those between."""
    if len(items) <= keep:
        return items
    head = keep // 2
    tail = len(items) - (keep - head)
    return [*items[:head], marker(items[head:tail]), *items[tail:]]


def _lines_marker(dropped: list[LogLine]) -> LogLine:
    count = 0
    for line in dropped:  # a marker already there counts the lines it stands for
        earlier = DROPPED_LINES.fullmatch(line.message)
        count += int(earlier.group(1)) if earlier else 1
    return msgspec.structs.replace(dropped[0], level="warning", message=dropped_lines(count))


def _steps_marker(dropped: list[StepRecord]) -> StepRecord:
    return msgspec.structs.replace(
        dropped[0], name=f"… [{len(dropped)} steps dropped]", result=None, finished_at=dropped[-1].finished_at
    )


def _repaired(record: ExecutionRecord) -> ExecutionRecord:
    """``record`` with its texts made UTF-8 and step results that cannot be stored replaced."""
    logs = [msgspec.structs.replace(line, message=utf8(str(line.message))) for line in record.logs]
    steps = []
    for step in record.steps:
        problem = unstorable(step.result)
        result = step.result if problem is None else f"[not storable: {utf8(problem)}]"
        steps.append(msgspec.structs.replace(step, name=utf8(str(step.name)), result=result))
    error = None if record.error is None else utf8(record.error)
    tb = None if record.traceback is None else utf8(record.traceback)
    return msgspec.structs.replace(record, error=error, traceback=tb, logs=logs, steps=steps)
