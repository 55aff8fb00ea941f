"""Accepted means runnable (SPEC 9): JSON numbers over real HTTP, real JetStream, a real worker.

A body answered 2xx reaches the flow as `json.loads` decodes it (``1e400`` ->
``inf``, big integers exact), through the plain path, ``on_trigger`` and
``preprocess``; one Python could not decode is refused before anything is stored.
"""

from __future__ import annotations

import asyncio
import json

import nats

from hookcore.parsing import MAX_INT_DIGITS
from hookcore.queue import EXECUTIONS_STREAM
from support import Hookcore

BIG = "1" * 400
BODY = '{"quantity":1e400,"big":' + BIG + ',"neg":-1e400,"zero":-0.0,"tiny":1e-400}'
JSON = {"content-type": "application/json"}


def _seen(hookcore: Hookcore, response: object) -> str:
    """The flow's ``repr(payload.body.data)`` once its execution succeeded."""
    assert getattr(response, "status_code", None) == 200, getattr(response, "text", response)
    execution_id = response.headers["hookcore-execution-id"]  # type: ignore[attr-defined]
    record = hookcore.wait_final(execution_id)
    assert record["status"] == "succeeded", record
    assert record["attempts"] == 1, record
    result = hookcore.result(execution_id)
    assert result.status_code == 200, result.text
    return result.text


def test_out_of_range_floats_and_big_integers_reach_the_flow(hookcore: Hookcore) -> None:
    instance = hookcore.deploy("numbers")
    seen = _seen(hookcore, hookcore.client.post(instance["webhookUrls"]["Repr"], content=BODY, headers=JSON))
    assert seen == repr(json.loads(BODY))
    assert "'quantity': inf" in seen and f"'big': {BIG}" in seen and "'zero': -0.0" in seen


def test_the_same_body_through_on_trigger_is_not_a_500(hookcore: Hookcore) -> None:
    instance = hookcore.deploy("numbers-hooked", integration="responses")
    response = hookcore.client.post(instance["webhookUrls"]["ReprHooked"], content=BODY, headers=JSON)
    assert _seen(hookcore, response) == repr(json.loads(BODY))


def test_the_same_body_through_preprocess_is_not_a_500(hookcore: Hookcore) -> None:
    instance = hookcore.deploy("numbers-pre", integration="acme-pre")
    body = BODY.replace('"quantity"', '"n"')  # preprocess routes on n: inf > 10 picks "Big"
    seen = _seen(hookcore, hookcore.client.post(instance["webhookUrls"]["Big"], content=body, headers=JSON))
    assert json.loads(seen)["flow"] == "Big"


def _stored_messages(hookcore: Hookcore) -> int:
    async def last_seq() -> int:
        nc = await nats.connect(hookcore.nats.url)
        try:
            info = await nc.jetstream().stream_info(EXECUTIONS_STREAM)
            return int(info.state.last_seq)
        finally:
            await nc.close()

    return asyncio.run(last_seq())


def test_an_integer_python_cannot_decode_is_refused_before_storing(hookcore: Hookcore) -> None:
    instance = hookcore.deploy("numbers-long")
    url = instance["webhookUrls"]["Repr"]
    _seen(
        hookcore, hookcore.client.post(url, content=b"1" * MAX_INT_DIGITS, headers=JSON)
    )  # the limit itself
    before = _stored_messages(hookcore)
    for hooked, target in [
        (False, url),
        (True, hookcore.deploy("nl", integration="responses")["webhookUrls"]["ReprHooked"]),
    ]:
        body = '{"order": {"quantity": ' + "9" * (MAX_INT_DIGITS + 1) + "}}"
        response = hookcore.client.post(target, content=body, headers=JSON)
        assert response.status_code == 400, (hooked, response.text)
        assert response.json() == {
            "error": f"A number in the JSON body (at byte 23) has more than {MAX_INT_DIGITS} digits "
            "before its decimal point; send such numbers as strings."
        }
        assert response.headers["hookcore-error-code"] == "json_number_too_long"
        assert "hookcore-execution-id" not in response.headers
    assert _stored_messages(hookcore) == before
