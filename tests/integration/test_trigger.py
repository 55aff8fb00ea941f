"""The HTTP contract of trigger endpoints (SPEC section 3), over real HTTP, real JetStream."""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import nats
import pytest
from nats.js.errors import KeyNotFoundError

from hookcore.errors import ErrorCode
from hookcore.records import RESULTS_BUCKET
from support import Hookcore, assert_refused, nothing_stored


def _accept(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    execution_id = response.json()["executionId"]
    assert response.headers["hookcore-execution-id"] == execution_id
    assert set(response.json()) == {"executionId"}
    return str(execution_id)


def _run(hookcore: Hookcore, response: httpx.Response) -> dict:
    execution_id = _accept(response)
    record = hookcore.wait_final(execution_id)
    assert record["status"] == "succeeded", record
    result = hookcore.result(execution_id)
    assert result.status_code == 200, result.text
    return dict(result.json())


def test_seed_json_example_reaches_the_flow(hookcore: Hookcore, instance: dict) -> None:
    url = instance["webhookUrls"]["Echo"]
    body = '{"renderId":51266,"s3Bucket":"test-customer-renders","status":"complete"}'
    seen = _run(
        hookcore, hookcore.client.post(url, content=body, headers={"Content-Type": "application/json"})
    )
    assert seen["body"] == json.loads(body)
    assert bytes.fromhex(seen["rawBody"]) == body.encode()
    assert seen["contentType"] == "application/json"
    assert seen["pathFragment"] == ""
    assert seen["queryParameters"] == {}
    assert seen["flow"] == "Echo"
    assert seen["customer"] == "acme"
    assert seen["instance"] == instance["id"]
    assert seen["webhookUrls"] == instance["webhookUrls"]
    assert seen["config"] == {"region": "eu"}
    assert seen["receivedAt"].endswith("+00:00")


def test_seed_path_query_and_headers_example(hookcore: Hookcore, instance: dict) -> None:
    url = instance["webhookUrls"]["Echo"] + "/my/custom/path?param-one=ParamValueOne&param-two=ParamValueTwo"
    body = '{"Payload Key 1":"Payload Value 1","Do Thing?":true,"quantity":123}'
    seen = _run(
        hookcore,
        hookcore.client.post(
            url,
            content=body,
            headers={
                "header-one": "First header value",
                "header-two": "Second header value",
                "Content-Type": "application/json",
            },
        ),
    )
    assert seen["pathFragment"] == "my/custom/path"
    assert seen["queryParameters"] == {"param-one": "ParamValueOne", "param-two": "ParamValueTwo"}
    assert seen["headers"]["header-one"] == "First header value"
    assert seen["headers"]["header-two"] == "Second header value"
    assert seen["body"] == {"Payload Key 1": "Payload Value 1", "Do Thing?": True, "quantity": 123}


def test_repeated_query_names_and_headers(hookcore: Hookcore, instance: dict) -> None:
    url = instance["webhookUrls"]["Echo"] + "/a%20b?tag=x&tag=y&blank=&plus=a+b&enc=%C3%A9"
    seen = _run(
        hookcore, hookcore.client.put(url, content=b"", headers=[("X-Multi", "one"), ("X-Multi", "two")])
    )
    assert seen["queryParameters"] == {"tag": ["x", "y"], "blank": "", "plus": "a b", "enc": "é"}
    assert seen["headers"]["x-multi"] == "one, two"
    assert seen["pathFragment"] == "a b"
    assert seen["body"] is None


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_every_trigger_method_runs_the_flow(hookcore: Hookcore, instance: dict, method: str) -> None:
    seen = _run(hookcore, hookcore.client.request(method, instance["webhookUrls"]["Echo"]))
    assert seen["flow"] == "Echo"


def test_get_carries_no_body(hookcore: Hookcore, instance: dict) -> None:
    response = hookcore.client.request(
        "GET",
        instance["webhookUrls"]["Echo"],
        content=b'{"a":1}',
        headers={"content-type": "application/json"},
    )
    seen = _run(hookcore, response)
    assert seen["body"] is None
    assert seen["rawBody"] == ""


def test_head_answers_without_running(hookcore: Hookcore, instance: dict) -> None:
    response = hookcore.client.head(instance["webhookUrls"]["Echo"])
    assert response.status_code == 200
    assert "hookcore-execution-id" not in response.headers
    assert response.content == b""


def test_binary_body_is_kept_byte_exact(hookcore: Hookcore, instance: dict) -> None:
    png = bytes(range(256)) * 40
    seen = _run(
        hookcore,
        hookcore.client.post(
            instance["webhookUrls"]["Echo"], content=png, headers={"Content-Type": "image/png"}
        ),
    )
    assert bytes.fromhex(seen["body"]["bytes"]) == png
    assert bytes.fromhex(seen["rawBody"]) == png


@pytest.mark.parametrize("size", [100, 40 * 1024], ids=["result-in-record", "result-in-results-bucket"])
def test_a_result_is_read_back_whole_wherever_it_is_kept(
    hookcore: Hookcore, instance: dict, size: int
) -> None:
    # Echo answers the body's hex: 200 bytes of result stay in the record, 80 KB go to the results bucket.
    body = os.urandom(size)
    seen = _run(
        hookcore,
        hookcore.client.post(
            instance["webhookUrls"]["Echo"],
            content=body,
            headers={"Content-Type": "application/octet-stream"},
        ),
    )
    assert bytes.fromhex(seen["rawBody"]) == body
    in_bucket = asyncio.run(_in_results_bucket(hookcore.nats.url, seen["executionId"]))
    assert in_bucket == (size > 1024)


async def _in_results_bucket(url: str, execution_id: str) -> bool:
    nc = await nats.connect(url)
    try:
        await (await nc.jetstream().key_value(RESULTS_BUCKET)).get(execution_id)
    except KeyNotFoundError:
        return False
    finally:
        await nc.close()
    return True


def test_body_above_the_message_limit_goes_through_the_object_store(
    hookcore: Hookcore, instance: dict
) -> None:
    big = os.urandom(3 * 1024 * 1024)
    seen = _run(
        hookcore,
        hookcore.client.post(
            instance["webhookUrls"]["Echo"], content=big, headers={"Content-Type": "application/octet-stream"}
        ),
    )
    assert bytes.fromhex(seen["rawBody"]) == big
    # a replay stores the body again under its own execution and runs on the same bytes
    replay = hookcore.admin.post(f"/api/executions/{seen['executionId']}/replay")
    assert replay.status_code == 202, replay.text
    again = hookcore.wait_final(replay.json()["executionId"])
    assert again["status"] == "succeeded", again
    assert bytes.fromhex(hookcore.result(again["id"]).json()["rawBody"]) == big


def test_malformed_json_is_refused_without_an_execution(hookcore: Hookcore, instance: dict) -> None:
    with nothing_stored(hookcore.nats.url):
        response = hookcore.client.post(
            instance["webhookUrls"]["Echo"], content="{bad-data", headers={"content-type": "application/json"}
        )
    assert_refused(response, 400, ErrorCode.MALFORMED_JSON, "Received malformed JSON payload.")


def test_unknown_endpoint_is_404(hookcore: Hookcore) -> None:
    with nothing_stored(hookcore.nats.url):
        response = hookcore.client.post("/trigger/AAAAAAAAAAAAAAAAAAAAAA", content=b"{}")
    assert_refused(response, 404, ErrorCode.ENDPOINT_NOT_FOUND, "Endpoint not found.")


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "PROPFIND"])
def test_other_methods_are_405_with_allow(hookcore: Hookcore, instance: dict, method: str) -> None:
    with nothing_stored(hookcore.nats.url):
        response = hookcore.client.request(method, instance["webhookUrls"]["Echo"])
    assert method in assert_refused(response, 405, ErrorCode.METHOD_NOT_ALLOWED)
    assert response.headers["allow"] == "GET, HEAD, POST, PUT, PATCH, DELETE"


def test_body_over_the_limit_is_413(hookcore: Hookcore, instance: dict) -> None:
    with nothing_stored(hookcore.nats.url):
        response = hookcore.client.post(
            instance["webhookUrls"]["Echo"],
            content=b"x" * (10 * 1024 * 1024 + 1),
            # Answered from Content-Length alone: see the chunked case below.
            headers={"content-type": "application/octet-stream", "connection": "close"},
        )
    assert "10485760" in assert_refused(response, 413, ErrorCode.BODY_TOO_LARGE)


def test_chunked_body_over_the_limit_is_413(hookcore: Hookcore, instance: dict) -> None:
    def chunks():
        for _ in range(11):
            yield b"x" * (1024 * 1024)

    # The server answers before the body ends and may then drop the connection:
    # keep it out of the client's pool, or the next test could be sent on it.
    with nothing_stored(hookcore.nats.url):
        response = hookcore.client.post(
            instance["webhookUrls"]["Echo"], content=chunks(), headers={"connection": "close"}
        )
    assert "10485760" in assert_refused(response, 413, ErrorCode.BODY_TOO_LARGE)


def test_too_many_headers_is_431(hookcore: Hookcore, instance: dict) -> None:
    headers = [(f"x-h{i}", "v") for i in range(80)]
    with nothing_stored(hookcore.nats.url):
        response = hookcore.client.post(instance["webhookUrls"]["Echo"], headers=headers)
    assert "at most 64" in assert_refused(response, 431, ErrorCode.HEADERS_TOO_LARGE)


def test_plain_def_flow_result_is_text(hookcore: Hookcore, instance: dict) -> None:
    execution_id = _accept(hookcore.client.post(instance["webhookUrls"]["Plain"]))
    record = hookcore.wait_final(execution_id)
    assert record["status"] == "succeeded"
    assert record["logs"][0]["message"] == "plain flow ran in a thread"
    result = hookcore.result(execution_id)
    assert result.headers["content-type"] == "text/plain; charset=utf-8"
    assert result.text == "plain text result"


def test_execution_record_shape(hookcore: Hookcore, instance: dict) -> None:
    execution_id = _accept(hookcore.client.post(instance["webhookUrls"]["Quick"]))
    record = hookcore.wait_final(execution_id)
    assert set(record) == {
        "id",
        "status",
        "integration",
        "flow",
        "instance",
        "customer",
        "receivedAt",
        "startedAt",
        "finishedAt",
        "attempts",
        "error",
        "errorType",
        "traceback",
        "steps",
        "logs",
        "replayOf",
        "replayedAs",
    }
    assert record["id"] == execution_id
    assert record["flow"] == "Quick"
    assert record["instance"] == instance["id"]
    assert record["customer"] == "acme"
    assert record["attempts"] == 1
    assert record["error"] is None
    for field in ("receivedAt", "startedAt", "finishedAt"):
        assert record[field].endswith("Z"), record[field]
    assert record["receivedAt"] <= record["startedAt"] <= record["finishedAt"]
    assert record["steps"] == [] and record["logs"] == []


def test_execution_ids_sort_by_time(hookcore: Hookcore, instance: dict) -> None:
    ids = [_accept(hookcore.client.post(instance["webhookUrls"]["Quick"])) for _ in range(20)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 20


def test_failing_flow_ends_dead_after_retries(hookcore: Hookcore, instance: dict) -> None:
    execution_id = _accept(hookcore.client.post(instance["webhookUrls"]["Fail"]))
    record = hookcore.wait_final(execution_id, timeout=60)
    assert record["status"] == "dead"
    assert record["attempts"] == 3
    assert record["error"] == "The widget requested is not in the database"
    assert hookcore.result(execution_id).status_code == 404


def test_executions_api_needs_the_admin_token(hookcore: Hookcore, instance: dict) -> None:
    execution_id = _accept(hookcore.client.post(instance["webhookUrls"]["Quick"]))
    response = hookcore.client.get(f"/api/executions/{execution_id}")
    assert "Bearer" in assert_refused(response, 401, ErrorCode.ADMIN_TOKEN_INVALID)
    wrong = hookcore.client.get(f"/api/executions/{execution_id}", headers={"authorization": "Bearer nope"})
    assert_refused(wrong, 401, ErrorCode.ADMIN_TOKEN_INVALID)


def test_unknown_execution_is_404(hookcore: Hookcore) -> None:
    response = hookcore.admin.get("/api/executions/0190aaaa-0000-7000-8000-000000000000")
    assert "No execution" in assert_refused(response, 404, ErrorCode.NOT_FOUND)
