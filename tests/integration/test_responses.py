"""Responses: synchronous executions, custom responses, on_trigger, retries, replay, listing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from hookcore.errors import ErrorCode
from hookcore.signing import result_url
from support import ADMIN_TOKEN, Hookcore, running_hookcore, running_nats, stream_last_seq


@pytest.fixture(scope="module")
def responses(hookcore: Hookcore) -> dict[str, Any]:
    return hookcore.deploy("resp", integration="responses")


def _urls(responses: dict[str, Any]) -> dict[str, str]:
    return dict(responses["webhookUrls"])


def test_sync_success_redirects_to_the_signed_result(hookcore: Hookcore, responses: dict) -> None:
    url = _urls(responses)["Sync"]
    response = hookcore.client.post(url)
    assert response.status_code == 303
    execution_id = response.headers["hookcore-execution-id"]
    location = response.headers["location"]
    assert location.startswith(f"{hookcore.base}/results/{execution_id}?expires=")
    assert "signature=" in location
    assert "ratelimit-remaining" in response.headers
    followed = hookcore.client.post(url, follow_redirects=True)  # curl --location
    assert followed.status_code == 200
    assert followed.headers["content-type"] == "application/json"
    assert followed.json() == {"item": "Widgets", "quantity": 5}
    assert hookcore.execution(execution_id)["status"] == "succeeded"


def test_sync_result_keeps_its_content_type(hookcore: Hookcore, responses: dict) -> None:
    followed = hookcore.client.post(_urls(responses)["Binary"], follow_redirects=True)
    assert followed.headers["content-type"] == "application/octet-stream"
    assert followed.content == b"\x89PNG\x00\x01"


def test_sync_error_is_400_with_the_message(hookcore: Hookcore, responses: dict) -> None:
    response = hookcore.client.post(_urls(responses)["SyncFail"])
    assert response.status_code == 400
    assert response.json() == {"error": "The widget requested is not in the database"}
    assert response.headers["hookcore-error-code"] == ErrorCode.EXECUTION_FAILED
    record = hookcore.execution(response.headers["hookcore-execution-id"])
    assert record["status"] == "failed" and record["attempts"] == 1  # not retried


def test_sync_header_makes_any_flow_synchronous(hookcore: Hookcore, responses: dict) -> None:
    response = hookcore.client.post(
        _urls(responses)["Async"], headers={"hookcore-synchronous": "true"}, follow_redirects=True
    )
    assert response.json() == {"async": True}
    assert len(response.history) == 1 and response.history[0].status_code == 303


def test_sync_timeout_is_504_and_the_execution_goes_on(hookcore: Hookcore, responses: dict) -> None:
    response = hookcore.client.post(_urls(responses)["SyncSlow"])
    assert response.status_code == 504
    execution_id = response.json()["executionId"]
    assert response.headers["hookcore-execution-id"] == execution_id
    assert response.headers["hookcore-error-code"] == ErrorCode.SYNC_TIMEOUT
    assert set(response.json()) == {"error", "executionId"}
    assert "did not finish within 0.5s" in response.json()["error"]
    assert hookcore.wait_final(execution_id)["status"] == "succeeded"
    assert hookcore.result(execution_id).text == "late but done"


def test_signed_result_urls_refuse_tampering_and_expiry(hookcore: Hookcore, responses: dict) -> None:
    location = hookcore.client.post(_urls(responses)["Sync"]).headers["location"]
    assert hookcore.client.get(location).status_code == 200
    tampered = location[:-2] + ("AA" if not location.endswith("AA") else "BB")
    execution_id = location.split("/results/")[1].split("?")[0]
    other_id = execution_id[:-1] + ("1" if execution_id.endswith("0") else "0")
    invalid = [tampered, location.replace(execution_id, other_id), location.split("?")[0]]
    for url in invalid:
        answer = hookcore.client.get(url)
        assert answer.status_code == 403, url
        assert answer.headers["hookcore-error-code"] == ErrorCode.RESULT_URL_INVALID, url
        assert list(answer.json()) == ["error"]
    expired = result_url(hookcore.base, ADMIN_TOKEN.encode(), execution_id, ttl=60, now=time.time() - 3600)
    refused = hookcore.client.get(expired)
    assert refused.status_code == 403 and "expired" in refused.json()["error"]
    assert refused.headers["hookcore-error-code"] == ErrorCode.RESULT_URL_EXPIRED


def test_static_custom_response(hookcore: Hookcore, responses: dict) -> None:
    response = hookcore.client.post(_urls(responses)["Custom"])
    assert response.status_code == 202
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["x-custom"] == "1"
    assert response.headers["ratelimit-limit"] == "50"
    assert response.text == "thanks"
    execution_id = response.headers["hookcore-execution-id"]
    assert hookcore.wait_final(execution_id)["status"] == "succeeded"


def test_on_trigger_echoes_a_challenge_without_running(hookcore: Hookcore, responses: dict) -> None:
    body = "<notification><challenge>abc123</challenge></notification>"
    stored_before = stream_last_seq(hookcore.nats.url)
    response = hookcore.client.post(
        _urls(responses)["Challenge"], content=body, headers={"content-type": "application/xml"}
    )
    assert response.status_code == 200
    assert response.text == "abc123"
    assert response.headers["content-type"] == "text/plain"
    assert "hookcore-execution-id" not in response.headers
    assert stream_last_seq(hookcore.nats.url) == stored_before, "run=False stored a request"


def test_on_trigger_rewrites_the_payload_of_an_ordinary_notification(
    hookcore: Hookcore, responses: dict
) -> None:
    body = "<notification><event>created</event><id>42</id></notification>"
    response = hookcore.client.post(
        _urls(responses)["Challenge"], content=body, headers={"content-type": "application/xml"}
    )
    assert response.status_code == 200
    execution_id = response.json()["executionId"]
    assert hookcore.wait_final(execution_id)["status"] == "succeeded"
    assert hookcore.result(execution_id).json() == {"notification": {"event": "created", "id": "42"}}


def test_on_trigger_error_is_400(hookcore: Hookcore, responses: dict) -> None:
    stored_before = stream_last_seq(hookcore.nats.url)
    response = hookcore.client.post(_urls(responses)["Refused"])
    assert response.status_code == 400
    assert response.json() == {"error": "signature header is missing"}
    assert response.headers["hookcore-error-code"] == ErrorCode.HOOK_FAILED
    assert "hookcore-execution-id" not in response.headers
    assert stream_last_seq(hookcore.nats.url) == stored_before, "a refused request was stored"


def test_retries_then_success(hookcore: Hookcore, responses: dict) -> None:
    execution_id = hookcore.client.post(_urls(responses)["Flaky"]).json()["executionId"]
    record = hookcore.wait_final(execution_id, timeout=60)
    assert record["status"] == "succeeded"
    assert record["attempts"] == 3
    assert hookcore.result(execution_id).json() == {"runs": 3}


def test_replay_of_a_dead_execution_after_a_fix(hookcore: Hookcore, responses: dict) -> None:
    execution_id = hookcore.client.post(_urls(responses)["Fixable"], json={"x": 1}).json()["executionId"]
    record = hookcore.wait_final(execution_id)
    assert record["status"] == "dead" and record["error"] == "not fixed yet"
    (hookcore.markers / "FIXED").write_text("yes")
    replay = hookcore.admin.post(f"/api/executions/{execution_id}/replay")
    assert replay.status_code == 202
    new_id = replay.json()["executionId"]
    assert new_id > execution_id
    assert hookcore.wait_final(new_id)["status"] == "succeeded"
    assert hookcore.result(new_id).text == "fixed"
    assert hookcore.execution(execution_id)["status"] == "dead"


def test_steps_and_logs_are_recorded(hookcore: Hookcore, responses: dict) -> None:
    execution_id = hookcore.client.post(_urls(responses)["Steps"]).json()["executionId"]
    record = hookcore.wait_final(execution_id)
    assert [(s["name"], s["result"]) for s in record["steps"]] == [("add", 5), ("double", 10)]
    assert all(s["startedAt"] <= s["finishedAt"] for s in record["steps"])
    assert [(line["level"], line["message"]) for line in record["logs"]] == [("info", "total is 5")]
    assert hookcore.result(execution_id).json() == 10


def test_sync_def_flow_updates_instance_state(hookcore: Hookcore, responses: dict) -> None:
    ids = [hookcore.client.post(_urls(responses)["CountSync"]).json()["executionId"] for _ in range(5)]
    assert [hookcore.wait_final(i)["status"] for i in ids] == ["succeeded"] * 5
    assert sorted(hookcore.result(i).json() for i in ids) == [1, 2, 3, 4, 5]


def test_list_executions_newest_first_with_filters_and_cursor(hookcore: Hookcore, responses: dict) -> None:
    ids = [hookcore.client.post(_urls(responses)["Async"]).json()["executionId"] for _ in range(5)]
    assert [hookcore.wait_final(i)["status"] for i in ids] == ["succeeded"] * 5
    page = hookcore.admin.get(
        "/api/executions", params={"flow": "Async", "customer": "resp", "limit": 3}
    ).json()
    assert [item["id"] for item in page["items"]] == sorted(ids, reverse=True)[:3]
    rest = hookcore.admin.get(
        "/api/executions", params={"flow": "Async", "limit": 3, "cursor": page["next"]}
    ).json()
    assert [item["id"] for item in rest["items"]][:2] == sorted(ids, reverse=True)[3:5]
    assert all(item["flow"] == "Async" for item in page["items"] + rest["items"])
    failed_id = hookcore.client.post(_urls(responses)["SyncFail"]).headers["hookcore-execution-id"]
    failed = hookcore.admin.get("/api/executions", params={"status": "failed", "limit": 500}).json()
    assert failed_id in [item["id"] for item in failed["items"]]
    assert {item["status"] for item in failed["items"]} == {"failed"}
    bad = hookcore.admin.get("/api/executions", params={"status": "weird"})
    assert bad.status_code == 400 and "status must be one of" in bad.json()["error"]
    assert bad.headers["hookcore-error-code"] == ErrorCode.BAD_REQUEST


def test_200_concurrent_sync_requests_across_two_ingress_processes(tmp_path: Any) -> None:
    with (
        running_nats(tmp_path) as server,
        running_hookcore(server, tmp_path) as first,
        running_hookcore(server, tmp_path, workers=0) as second,
    ):
        instance = first.deploy("many", integration="responses")
        path = instance["webhookUrls"]["Sync"].removeprefix(first.base)
        second.wait_for_routes([second.base + path], client=second.client)

        async def call(client: httpx.AsyncClient, n: int) -> tuple[int, Any]:
            response = await client.post(path, json={"echo": n}, follow_redirects=True)
            return n, response.json()

        async def run() -> list[tuple[int, Any]]:
            async with (
                httpx.AsyncClient(base_url=first.base, timeout=60) as a,
                httpx.AsyncClient(base_url=second.base, timeout=60) as b,
            ):
                return await asyncio.gather(*(call(a if n % 2 else b, n) for n in range(200)))

        for n, result in asyncio.run(run()):
            assert result == {"echo": n}
