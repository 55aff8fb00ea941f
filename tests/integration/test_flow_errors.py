"""Errors caused by a flow's own code (SPEC 6): whatever their kind they count as attempts,
end ``dead`` (or ``failed``) with the reason, and keep the exception's type and traceback.
Real worker, real NATS; the flows are in tests/apps/faults_app.py and count their runs
in their ``flow_state``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats
import pytest
from nats.js.errors import KeyNotFoundError

from hookcore.catalog import STATE_BUCKET, flow_state_key
from hookcore.errors import ErrorCode
from support import Hookcore


def _flow_state(hookcore: Hookcore, instance_id: str, flow: str) -> Any:
    """The flow's persisted state, read from JetStream."""

    async def read() -> Any:
        nc = await nats.connect(hookcore.nats.url)
        try:
            kv = await nc.jetstream().key_value(STATE_BUCKET)
            try:
                entry = await kv.get(flow_state_key(instance_id, flow))
            except KeyNotFoundError:
                return None
            return json.loads(entry.value or b"null")
        finally:
            await nc.close()

    return asyncio.run(read())


def _run(hookcore: Hookcore, customer: str, flow: str) -> tuple[dict[str, Any], str]:
    instance = hookcore.deploy(customer, integration="faults")
    answer = hookcore.client.post(instance["webhookUrls"][flow])
    assert answer.status_code == 200, answer.text
    return instance, str(answer.json()["executionId"])


@pytest.mark.parametrize(
    ("flow", "error_type", "error"),
    [
        ("Cyclic result", "hookcore.errors.ResultError", "the flow returned a list that cannot be stored"),
        ("Cyclic step", "hookcore.errors.ResultError", "step 'cycle' returned a dict that cannot be stored"),
        ("Unawaited step", "TypeError", "step 'lookup' is async and was never awaited"),
        (
            "Unawaited result",
            "hookcore.errors.ResultError",
            "the flow returned a coroutine instead of a value: await it",
        ),
        (
            "Response of a number",
            "hookcore.errors.ResultError",
            "the flow returned an HttpResponse whose body is a int; it must be str or bytes",
        ),
    ],
)
def test_values_that_cannot_be_stored_use_up_the_attempts(
    hookcore: Hookcore, flow: str, error_type: str, error: str
) -> None:
    customer = "fe-" + flow.lower().replace(" ", "-")
    instance, execution_id = _run(hookcore, customer, flow)
    record = hookcore.wait_final(execution_id, timeout=120)
    assert (record["status"], record["attempts"]) == ("dead", 2), record
    assert record["error"].startswith(error), record["error"]
    assert record["errorType"] == error_type
    assert record["traceback"].rstrip().endswith(record["error"])
    # Each attempt ran the flow once, and its state write was kept: no run beyond the attempts.
    assert _flow_state(hookcore, instance["id"], flow) == 2


def test_a_returned_http_response_is_the_result_with_its_content_type(hookcore: Hookcore) -> None:
    _, execution_id = _run(hookcore, "fe-response", "Response")
    record = hookcore.wait_final(execution_id, timeout=60)
    assert (record["status"], record["error"]) == ("succeeded", None), record
    result = hookcore.result(execution_id)
    assert result.status_code == 200, result.text
    assert result.headers["content-type"] == "text/csv"
    assert result.text == "order,state\nA-1,paid\n"


def test_an_async_step_is_awaited_and_recorded(hookcore: Hookcore) -> None:
    instance, execution_id = _run(hookcore, "fe-async-step", "Async step")
    record = hookcore.wait_final(execution_id, timeout=60)
    assert (record["status"], record["attempts"], record["error"]) == ("succeeded", 1, None), record
    assert [(s["name"], s["result"]) for s in record["steps"]] == [
        ("lookup", {"order": "A-1", "state": "paid"})
    ]
    found = {"order": "A-1", "state": "paid"}
    assert hookcore.result(execution_id).json() == {"found": found, "runs": 1}
    assert _flow_state(hookcore, instance["id"], "Async step") == 1


def test_a_key_error_answers_its_message_and_records_its_type_and_traceback(hookcore: Hookcore) -> None:
    instance = hookcore.deploy("fe-key-error", integration="faults")
    answer = hookcore.client.post(
        instance["webhookUrls"]["KeyError"], json={"id": 1}, headers={"hookcore-synchronous": "true"}
    )
    # The seed's answer to a synchronous caller: the message alone.
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"error": "'data'"}
    assert answer.headers["hookcore-error-code"] == ErrorCode.EXECUTION_FAILED
    record = hookcore.execution(answer.headers["hookcore-execution-id"])
    assert (record["status"], record["error"], record["errorType"]) == ("failed", "'data'", "KeyError")
    traceback = record["traceback"]
    assert traceback.startswith("Traceback (most recent call last):\n"), traceback
    assert "faults_app.py" in traceback and 'payload.body.data["data"]' in traceback
    assert "hookcore/worker.py" not in traceback and "asyncio" not in traceback
    assert traceback.rstrip().endswith("KeyError: 'data'")
