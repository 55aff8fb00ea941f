"""`hookcore.logs`: the JSON lines and the fields bound per task."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

import pytest

from hookcore import logs


def record(name: str = "hookcore.test", msg: str = "hello %s", args: Any = ("world",), **extra: Any) -> Any:
    made = logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)
    made.__dict__.update(extra)
    return made


def line(made: logging.LogRecord) -> dict[str, Any]:
    text = logs.JsonFormatter().format(made)
    assert "\n" not in text
    return dict(json.loads(text))


def test_a_record_is_one_json_object() -> None:
    made = record()
    assert line(made) == {
        "time": line(made)["time"],
        "level": "WARNING",
        "logger": "hookcore.test",
        "message": "hello world",
    }
    assert line(made)["time"].endswith("+00:00")


def test_fields_from_extra_and_exceptions_on_one_line() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        made = record(execution_id="e1", flow="Order created", other="not a field")
        made.exc_info = sys.exc_info()
    entry = line(made)
    assert (entry["execution_id"], entry["flow"]) == ("e1", "Order created")
    assert "other" not in entry and "customer" not in entry
    assert "ValueError: bad\nvalue" in entry["exception"]


def test_bound_fields_belong_to_their_task() -> None:
    async def run(execution_id: str, customer: str) -> dict[str, Any]:
        logs.bind(execution_id=execution_id, customer=customer, flow=None)
        await asyncio.sleep(0)  # the other task binds its own meanwhile
        return line(record())

    async def both() -> list[dict[str, Any]]:
        return list(await asyncio.gather(run("e1", "acme"), run("e2", "globex")))

    first, second = asyncio.run(both())
    assert (first["execution_id"], first["customer"]) == ("e1", "acme")
    assert (second["execution_id"], second["customer"]) == ("e2", "globex")
    assert "flow" not in first
    assert "execution_id" not in line(record())  # nothing bound outside those tasks


def test_unbind_and_unknown_fields() -> None:
    token = logs.bind(endpoint="abc")
    assert line(record())["endpoint"] == "abc"
    logs.unbind(token)
    assert "endpoint" not in line(record())
    with pytest.raises(ValueError, match="log fields are execution_id, customer, flow, endpoint"):
        logs.bind(instance="i1")


def test_access_lines_carry_the_request() -> None:
    request = {"addr": "10.0.0.1", "time": "then", "method": "POST", "path": "/trigger/abc/x", "status": 200}
    entry = line(record(logs.ACCESS_LOGGER, "%(method)s %(path)s %(status)d", (request,)))
    assert entry["message"] == "POST /trigger/abc/x 200"
    assert (entry["method"], entry["status"], entry["endpoint"], entry["addr"]) == (
        "POST",
        200,
        "abc",
        "10.0.0.1",
    )
    assert entry["time"] != "then"
    assert "endpoint" not in line(record(logs.ACCESS_LOGGER, "%(path)s", ({"path": "/api/instances"},)))
