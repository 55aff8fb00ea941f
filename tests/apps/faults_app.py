"""Integration for the fault tests: long, stalling, chatty and crashing flows.

Each flow appends ``run {pid}`` to ``$HOOKCORE_TEST_MARKER_DIR/{execution_id}``
when it starts, so a test sees how often, and in which worker, it ran.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path
from typing import Any

from hookcore import HttpResponse, Integration

app = Integration("faults", rate_limit=1_000_000)


def _mark(execution_id: str, what: str) -> int:
    """Append ``{what} {pid}`` to the execution's marker file; the number of runs so far."""
    path = Path(os.environ["HOOKCORE_TEST_MARKER_DIR"], execution_id)
    with path.open("a") as marker:
        marker.write(f"{what} {os.getpid()}\n")
    return path.read_text().count("run ")


@app.flow("Long")
async def long(ctx: Any, payload: Any) -> dict[str, Any]:
    """Runs for ``?sleep=`` seconds (longer than ack_wait in the tests)."""
    _mark(payload.execution_id, "run")
    await asyncio.sleep(float(payload.query_parameters["sleep"]))
    return {"pid": os.getpid()}


@app.flow("Held")
async def held(ctx: Any, payload: Any) -> dict[str, Any]:
    """Holds until ``$HOOKCORE_TEST_MARKER_DIR/{execution_id}.open`` exists (with ``?open``: not
    at all), then returns what only this run can: its number, its worker's pid and a fresh uuid."""
    run = _mark(payload.execution_id, "run")
    gate = Path(os.environ["HOOKCORE_TEST_MARKER_DIR"], f"{payload.execution_id}.open")
    while "open" not in payload.query_parameters and not gate.exists():  # noqa: ASYNC110, ASYNC240 (a test gate)
        await asyncio.sleep(0.05)
    return {"run": run, "pid": os.getpid(), "nonce": uuid.uuid4().hex}


@app.flow("StallOnce")
async def stall_once(ctx: Any, payload: Any) -> dict[str, Any]:
    """The first run sleeps ``?sleep=`` seconds, then fails; later runs succeed at once.

    The first run marks ``stalling {pid}`` once it has counted itself the first: a test stops
    its worker after that mark, not after ``run`` (stopped between writing ``run`` and counting
    the runs, it would count the next run's line too when it resumes, and succeed)."""
    if _mark(payload.execution_id, "run") == 1:
        _mark(payload.execution_id, "stalling")
        await asyncio.sleep(float(payload.query_parameters["sleep"]))
        _mark(payload.execution_id, "failing")
        raise RuntimeError("the first run fails, late")
    return {"pid": os.getpid()}


@app.flow("Chatty", attempts=1)
async def chatty(ctx: Any, payload: Any) -> str:
    """Logs ``?lines=`` lines, records a ``?step=`` byte step result (and with ``?badstep``
    one that is not JSON), raises a ``?error=`` byte message."""
    query = payload.query_parameters
    for i in range(int(query.get("lines", "0"))):
        ctx.log.info("line %d of a flow that does not stop talking", i)
    ctx.log.info("not UTF-8: \udcff")
    size = int(query.get("step", "0"))
    ctx.step("big", lambda: {"blob": "s" * size})
    ctx.step("small", lambda: {"ok": True})
    if "badstep" in query:
        ctx.step("bad", lambda: {"not json": object()})
    if "error" in query:
        raise RuntimeError("E" * int(query["error"]) + "\udcff")
    return "said it all"


@app.flow("Crash", attempts=1)
async def crash(ctx: Any, payload: Any) -> None:
    """Kills the worker running it, every time."""
    _mark(payload.execution_id, "run")
    os.kill(os.getpid(), signal.SIGKILL)


async def _count_run(ctx: Any) -> int:
    """Count this run in the flow's state; the runs so far."""
    return int(await ctx.flow_state.update(lambda runs: (runs or 0) + 1))


@app.flow("Cyclic result", attempts=2)
async def cyclic_result(ctx: Any, payload: Any) -> list[Any]:
    """Returns a list that holds itself: no JSON can store it."""
    await _count_run(ctx)
    cycle: list[Any] = []
    cycle.append(cycle)
    return cycle


@app.flow("Unawaited result", attempts=2)
async def unawaited_result(ctx: Any, payload: Any) -> Any:
    """Returns a coroutine it forgot to await."""
    await _count_run(ctx)
    return asyncio.sleep(0, "never awaited")


@app.flow("Response of a number", attempts=2)
async def response_of_a_number(ctx: Any, payload: Any) -> HttpResponse:
    """Returns an HttpResponse whose body is neither str nor bytes."""
    await _count_run(ctx)
    return HttpResponse(200, "text/plain", 42)  # type: ignore[arg-type]


@app.flow("Response")
async def response(ctx: Any, payload: Any) -> HttpResponse:
    """Returns an HttpResponse: its body is the result, stored under its content type."""
    return HttpResponse(200, "text/csv", "order,state\nA-1,paid\n")


@app.flow("Cyclic step", attempts=2)
async def cyclic_step(ctx: Any, payload: Any) -> str:
    """A step whose value holds itself."""
    await _count_run(ctx)
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    ctx.step("cycle", lambda: cycle)
    return "unreachable: the step cannot be stored"


async def _lookup(order: str) -> dict[str, str]:
    await asyncio.sleep(0)
    return {"order": order, "state": "paid"}


@app.flow("Async step", attempts=2)
async def async_step(ctx: Any, payload: Any) -> dict[str, Any]:
    """Awaits an ``async def`` step; returns its value and the runs counted."""
    runs = await _count_run(ctx)
    found = await ctx.step("lookup", _lookup, "A-1")
    return {"found": found, "runs": runs}


@app.flow("Unawaited step", attempts=2)
async def unawaited_step(ctx: Any, payload: Any) -> str:
    """Forgets to await an ``async def`` step."""
    await _count_run(ctx)
    ctx.step("lookup", _lookup, "A-1")
    return "the step never ran"


@app.flow("KeyError", attempts=1)
async def key_error(ctx: Any, payload: Any) -> Any:
    """Reads a field the body lacks: the record keeps the KeyError's type and traceback."""
    return payload.body.data["data"]
