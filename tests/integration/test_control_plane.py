"""The control plane (SPEC 5): bad input to every /api route, execution statuses, paging,
and the identity a flow sees — against a real server and JetStream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookcore.errors import ErrorCode
from support import ADMIN_TOKEN, Hookcore, running_hookcore, running_nats

UNKNOWN_ID = "0190aaaa-0000-7000-8000-000000000000"


def _error(response: httpx.Response, status: int, code: ErrorCode, text: str = "") -> str:
    """Assert an error answer: status, `{"error": message}` alone, its code; return the message."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    assert response.headers["hookcore-error-code"] == code
    body = response.json()
    assert list(body) == ["error"] and isinstance(body["error"], str) and body["error"]
    assert text in body["error"], body["error"]
    return str(body["error"])


@pytest.fixture(scope="module")
def done(hookcore: Hookcore, instance: dict) -> str:
    """An execution that succeeded."""
    execution_id = hookcore.client.post(instance["webhookUrls"]["Quick"]).json()["executionId"]
    assert hookcore.wait_final(execution_id)["status"] == "succeeded"
    return str(execution_id)


def test_the_admin_token_is_required(hookcore: Hookcore) -> None:
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": ADMIN_TOKEN}):
        answer = hookcore.client.get("/api/instances", headers=headers)
        _error(answer, 401, ErrorCode.ADMIN_TOKEN_INVALID, "Authorization: Bearer")
        assert answer.headers["www-authenticate"] == "Bearer"


def test_without_an_admin_token_the_control_plane_says_it_is_disabled(tmp_path: Path) -> None:
    env = {"HOOKCORE_ADMIN_TOKEN": "", "HOOKCORE_SECRET": "test-secret-for-signing"}
    with running_nats(tmp_path) as nats, running_hookcore(nats, tmp_path, workers=0, env=env) as hc:
        for headers in ({}, {"authorization": "Bearer anything"}):
            answer = hc.client.get("/api/instances", headers=headers)
            message = _error(answer, 403, ErrorCode.CONTROL_PLANE_DISABLED, "control plane is disabled")
            assert "HOOKCORE_ADMIN_TOKEN" in message
        assert hc.client.get("/healthz").status_code == 200  # the rest serves as usual


def test_unknown_routes_and_methods(hookcore: Hookcore) -> None:
    _error(hookcore.admin.get("/api/nothing"), 404, ErrorCode.NOT_FOUND, "/api/nothing")
    _error(hookcore.admin.get("/elsewhere"), 404, ErrorCode.NOT_FOUND, "/trigger/")
    answer = hookcore.admin.put("/api/instances")
    _error(answer, 405, ErrorCode.METHOD_NOT_ALLOWED)
    assert set(answer.headers["allow"].split(", ")) == {"GET", "POST"}


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "Invalid request body"),
        (b'{"customer": "x"}', "integration"),  # a required field is missing
        (b'{"integration": "testapp", "customer": "x", "colour": 1}', "colour"),  # unknown field
        (b'{"integration": "testapp", "customer": 7}', "customer"),
        (b'{"integration": "testapp", "customer": ""}', "Expected `str` of length >= 1 - at `$.customer`"),
        (b'{"integration": "testapp", "customer": "x", "config": {"k": 1}}', "config"),
        (b'{"integration": "no-such-app", "customer": "x"}', "Unknown integration 'no-such-app'"),
    ],
)
def test_deploy_refuses_bad_bodies(hookcore: Hookcore, body: bytes, text: str) -> None:
    answer = hookcore.admin.post("/api/instances", content=body, headers={"content-type": "application/json"})
    _error(answer, 400, ErrorCode.BAD_REQUEST, text)
    assert hookcore.admin.get("/api/instances", params={"customer": "x"}).json() == {
        "items": [],
        "next": None,
    }


def test_api_bodies_over_one_mib_are_413(hookcore: Hookcore) -> None:
    body = b'{"integration": "testapp", "customer": "' + b"x" * (1 << 20) + b'"}'
    answer = hookcore.admin.post("/api/instances", content=body)
    _error(answer, 413, ErrorCode.BODY_TOO_LARGE)


@pytest.mark.parametrize("instance_id", [UNKNOWN_ID, "not-an-id", "a.b", "%00"])
def test_unknown_instances_are_404(hookcore: Hookcore, instance_id: str) -> None:
    for method, path in [
        ("GET", f"/api/instances/{instance_id}"),
        ("DELETE", f"/api/instances/{instance_id}"),
        ("DELETE", f"/api/instances/{instance_id}/api-keys/hk_x"),
    ]:
        _error(hookcore.admin.request(method, path), 404, ErrorCode.NOT_FOUND)
    answer = hookcore.admin.post(f"/api/instances/{instance_id}/api-keys", json={"flow": "Echo"})
    _error(answer, 404, ErrorCode.NOT_FOUND)


def test_api_keys_bad_input(hookcore: Hookcore, instance: dict) -> None:
    path = f"/api/instances/{instance['id']}/api-keys"
    _error(hookcore.admin.post(path, content=b"{"), 400, ErrorCode.BAD_REQUEST, "not valid JSON")
    _error(hookcore.admin.post(path, json={}), 400, ErrorCode.BAD_REQUEST, "flow")
    _error(hookcore.admin.post(path, json={"flow": "Nope"}), 400, ErrorCode.BAD_REQUEST, '"flow" must name')
    _error(hookcore.admin.delete(f"{path}/hk_unknown"), 404, ErrorCode.NOT_FOUND, "no such API key")
    # SPEC 5: 400 for a flow without api_keys=True (testapp's flows have none)
    answer = hookcore.admin.post(path, json={"flow": "Echo"})
    _error(answer, 400, ErrorCode.API_KEYS_NOT_ENABLED, "Flow 'Echo' of testapp takes no API keys")
    assert "api_keys=True" in answer.json()["error"]
    assert hookcore.admin.get(f"/api/instances/{instance['id']}").json()["webhookApiKeys"] == {}


@pytest.mark.parametrize("execution_id", [UNKNOWN_ID, "nope", "a..b", "%2e%2e"])
def test_unknown_executions_are_404(hookcore: Hookcore, execution_id: str) -> None:
    for method, path in [
        ("GET", f"/api/executions/{execution_id}"),
        ("GET", f"/api/executions/{execution_id}/result"),
        ("POST", f"/api/executions/{execution_id}/replay"),
    ]:
        _error(hookcore.admin.request(method, path), 404, ErrorCode.NOT_FOUND)


def test_a_failed_execution_has_no_result(hookcore: Hookcore) -> None:
    url = hookcore.deploy("cp-fail", integration="responses")["webhookUrls"]["SyncFail"]
    execution_id = hookcore.client.post(url).headers["hookcore-execution-id"]
    assert hookcore.execution(execution_id)["status"] == "failed"
    _error(hookcore.result(execution_id), 404, ErrorCode.NOT_FOUND, "its status is failed")


@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"limit": "abc"}, "limit must be a whole number"),
        ({"limit": "-1"}, "limit must be a whole number"),
        ({"limit": "0"}, "limit must be between 1 and 500"),
        ({"limit": "501"}, "limit must be between 1 and 500"),
        ({"status": "weird"}, "status must be one of"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_listing_refuses_bad_parameters(hookcore: Hookcore, params: dict[str, str], text: str) -> None:
    _error(hookcore.admin.get("/api/executions", params=params), 400, ErrorCode.BAD_REQUEST, text)


def test_paging_ends_with_next_null(hookcore: Hookcore) -> None:
    url = hookcore.deploy("cp-pages")["webhookUrls"]["Quick"]
    ids = [hookcore.client.post(url).json()["executionId"] for _ in range(5)]
    assert [hookcore.wait_final(i)["status"] for i in ids] == ["succeeded"] * 5
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"customer": "cp-pages", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = hookcore.admin.get("/api/executions", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
        assert cursor == seen[-1]
    assert cursor is None, "paging never ended"
    assert seen == sorted(ids, reverse=True)
    # a page that is not full is the last one
    assert hookcore.admin.get("/api/executions", params={"customer": "cp-pages"}).json()["next"] is None


@contextmanager
def _worker_full(hookcore: Hookcore, instance: dict, gate: Path) -> Iterator[list[str]]:
    """Fill the worker's 16 slots with flows that hold until ``gate/open`` exists (the ids):
    the next request waits in the stream however slowly the machine starts them. The gate
    opens on the way out, pass or fail, so the next tests get the slots back."""
    gate.mkdir()
    held = instance["webhookUrls"]["Gated"] + f"?gate={gate}"
    try:
        holders = [hookcore.client.post(held).json()["executionId"] for _ in range(16)]
        deadline = time.monotonic() + 120
        while any(hookcore.execution(i)["status"] != "running" for i in holders):
            assert time.monotonic() < deadline, "the held flows never all ran"
            time.sleep(0.05)
        yield holders
    finally:
        (gate / "open").touch()


def test_queued_then_running_then_succeeded(hookcore: Hookcore, instance: dict, tmp_path: Path) -> None:
    with _worker_full(hookcore, instance, tmp_path / "gate") as holders:
        waiting = hookcore.client.post(instance["webhookUrls"]["Quick"]).json()["executionId"]
        queued = hookcore.execution(waiting)
        assert queued["status"] == "queued", queued
        assert queued["startedAt"] is None and queued["finishedAt"] is None and queued["attempts"] == 0
        assert (queued["flow"], queued["customer"], queued["instance"]) == ("Quick", "acme", instance["id"])
        running = hookcore.execution(holders[0])
        assert running["status"] == "running", running
        assert running["startedAt"] is not None and running["finishedAt"] is None and running["attempts"] == 1
    record = hookcore.wait_final(waiting, timeout=60)
    assert record["status"] == "succeeded" and record["attempts"] == 1
    assert record["receivedAt"] <= record["startedAt"] <= record["finishedAt"]
    assert all(t.endswith("Z") for t in (record["receivedAt"], record["startedAt"], record["finishedAt"]))
    assert [hookcore.wait_final(i, timeout=60)["status"] for i in holders] == ["succeeded"] * 16


def test_the_flow_sees_the_execution_id_it_was_answered(hookcore: Hookcore, instance: dict) -> None:
    for _ in range(3):
        answer = hookcore.client.post(instance["webhookUrls"]["Echo"], json={"n": 1})
        assert answer.status_code == 200
        execution_id = answer.json()["executionId"]
        assert answer.headers["hookcore-execution-id"] == execution_id
        assert hookcore.wait_final(execution_id)["status"] == "succeeded"
        seen = hookcore.result(execution_id).json()
        assert seen["executionId"] == execution_id
        assert hookcore.execution(execution_id)["id"] == execution_id


def test_the_executions_record_has_the_documented_shape(hookcore: Hookcore, done: str) -> None:
    record = hookcore.execution(done)
    assert set(record) >= {
        "id", "status", "flow", "instance", "customer", "receivedAt", "startedAt", "finishedAt",
        "attempts", "error", "errorType", "traceback", "steps", "logs", "replayOf", "replayedAs",
    }  # fmt: skip
    assert record["id"] == done and record["status"] == "succeeded" and record["error"] is None
    assert (record["errorType"], record["traceback"], record["replayOf"]) == (None, None, None)


def test_a_second_shared_instance_for_a_customer_is_409_unless_replaced(hookcore: Hookcore) -> None:
    first = hookcore.deploy("cp-twice", integration="acme-shared")
    key = first["webhookApiKeys"]["Order paid"][0]
    deploy = {"integration": "acme-shared", "customer": "cp-twice"}
    again = hookcore.admin.post("/api/instances", json=deploy)
    message = _error(again, 409, ErrorCode.INSTANCE_EXISTS, first["id"])
    assert '"replace": true' in message
    assert [
        i["id"] for i in hookcore.admin.get("/api/instances", params={"customer": "cp-twice"}).json()["items"]
    ] == [first["id"]]

    def paid(api_key: str) -> httpx.Response:
        return hookcore.client.post(
            first["invokeUrl"],
            json={"event": {"type": "order.paid"}},
            headers={"x-acme-account": "cp-twice", "api-key": api_key},
        )

    assert paid(key).status_code == 200

    replaced = hookcore.admin.post("/api/instances", json={**deploy, "replace": True})
    assert replaced.status_code == 201, replaced.text
    second = replaced.json()
    assert second["id"] != first["id"] and second["invokeUrl"] == first["invokeUrl"]
    _error(hookcore.admin.get(f"/api/instances/{first['id']}"), 404, ErrorCode.NOT_FOUND)
    new_key = second["webhookApiKeys"]["Order paid"][0]
    deadline = time.monotonic() + 30
    while paid(key).status_code != 401:  # the routing table follows the removal through a KV watch
        assert time.monotonic() < deadline, "the replaced instance's API key still works"
        time.sleep(0.05)
    accepted = paid(new_key)
    assert accepted.status_code == 200, accepted.text
    assert hookcore.wait_final(accepted.json()["executionId"])["instance"] == second["id"]


def test_of_concurrent_deploys_for_one_customer_one_wins(hookcore: Hookcore) -> None:
    deploy = {"integration": "acme-shared", "customer": "cp-race"}
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: hookcore.admin.post("/api/instances", json=deploy), range(6)))
    created = [a for a in answers if a.status_code == 201]
    assert len(created) == 1, [(a.status_code, a.text) for a in answers]
    winner = created[0].json()["id"]
    for refused in (a for a in answers if a.status_code != 201):
        _error(refused, 409, ErrorCode.INSTANCE_EXISTS, winner)
    listed = hookcore.admin.get("/api/instances", params={"customer": "cp-race"}).json()["items"]
    assert [i["id"] for i in listed] == [winner]
    # Removed, the customer may have one again.
    assert hookcore.admin.delete(f"/api/instances/{winner}").status_code == 204
    assert hookcore.admin.post("/api/instances", json=deploy).status_code == 201


def test_a_replay_is_linked_both_ways(hookcore: Hookcore, instance: dict, tmp_path: Path) -> None:
    # The original still runs when it is replayed (it waits for its gate): its worker's final
    # write meets the link.
    url = instance["webhookUrls"]["Gated"] + f"?gate={tmp_path}"
    original = hookcore.client.post(url).json()["executionId"]
    deadline = time.monotonic() + 60
    while hookcore.execution(original)["status"] != "running":
        assert time.monotonic() < deadline, "the original never ran"
        time.sleep(0.05)
    replays = []
    for _ in range(2):
        answer = hookcore.admin.post(f"/api/executions/{original}/replay")
        assert answer.status_code == 202, answer.text
        replays.append(answer.json()["executionId"])
    assert hookcore.execution(replays[0])["replayOf"] == original  # also before a worker has it
    assert hookcore.execution(original)["status"] == "running"
    (tmp_path / "open").touch()
    record = hookcore.wait_final(original, timeout=60)
    assert record["status"] == "succeeded" and record["replayedAs"] == replays, record
    assert record["replayOf"] is None
    for replay in replays:
        replayed = hookcore.wait_final(replay, timeout=60)
        assert replayed["status"] == "succeeded" and replayed["replayOf"] == original
        assert replayed["replayedAs"] == []
    # The listing reads the executions index, whose entries are written beside the records (a
    # moment apart): ask until all three are in.
    deadline = time.monotonic() + 60
    while True:
        listed = hookcore.admin.get("/api/executions", params={"customer": "acme", "flow": "Gated"}).json()
        by_id = {item["id"]: item for item in listed["items"]}
        if {original, *replays} <= set(by_id):
            break
        assert time.monotonic() < deadline, f"the listing never held {original} and its replays: {listed}"
        time.sleep(0.1)
    assert by_id[original]["replayedAs"] == replays
    assert [by_id[r]["replayOf"] for r in replays] == [original, original]


def test_an_execution_no_worker_started_is_not_replayed(
    hookcore: Hookcore, instance: dict, tmp_path: Path
) -> None:
    with _worker_full(hookcore, instance, tmp_path / "gate"):  # the next request waits, without a record
        waiting = hookcore.client.post(instance["webhookUrls"]["Quick"]).json()["executionId"]
        answer = hookcore.admin.post(f"/api/executions/{waiting}/replay")
        _error(answer, 409, ErrorCode.EXECUTION_NOT_STARTED, "has not started yet")
    record = hookcore.wait_final(waiting, timeout=60)
    assert record["status"] == "succeeded" and record["replayedAs"] == []
