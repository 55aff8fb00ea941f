"""Multi-tenancy: the three endpoint configurations, API keys, deploy lifecycle, state."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.js.errors import KeyNotFoundError

from hookcore.errors import ErrorCode
from hookcore.jetstream import kv_keys
from support import (
    APPS_DIR,
    Hookcore,
    assert_refused,
    free_port,
    nothing_stored,
    running_hookcore,
    running_nats,
)

SHARED = "acme-shared"


def _post(hc: Hookcore, url: str, **kwargs: Any) -> httpx.Response:
    """POST, waiting out the moment a new instance is not yet in this process's table."""
    deadline = time.monotonic() + 30
    while True:
        response = hc.client.post(url, **kwargs)
        not_yet = response.status_code == 404 or (
            response.status_code == 400 and "no customer" in response.text
        )
        if not not_yet or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def _result(hc: Hookcore, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    execution_id = response.json()["executionId"]
    record = hc.wait_final(execution_id)
    assert record["status"] == "succeeded", record
    return dict(hc.result(execution_id).json())


def _event(kind: str, **extra: Any) -> bytes:
    return json.dumps({"event": {"type": kind}, **extra}).encode()


JSON = {"content-type": "application/json"}


def test_shared_endpoint_routes_each_customer_to_its_instance(hookcore: Hookcore) -> None:
    c1 = hookcore.deploy("tenant-1", {"region": "eu"}, integration=SHARED)
    c2 = hookcore.deploy("tenant-2", {"region": "us"}, integration=SHARED)
    assert c1["invokeUrl"] == c2["invokeUrl"] and c1["invokeUrl"].startswith(hookcore.base + "/trigger/")
    assert c1["webhookUrls"] == {"Order created": c1["invokeUrl"], "Order paid": c1["invokeUrl"]}
    for instance, customer, region in ((c1, "tenant-1", "eu"), (c2, "tenant-2", "us")):
        seen = _result(
            hookcore,
            _post(
                hookcore,
                instance["invokeUrl"],
                content=_event("order.created"),
                headers={**JSON, "x-acme-account": customer},
            ),
        )
        assert seen["customer"] == customer
        assert seen["instance"] == instance["id"]
        assert seen["flow"] == "Order created"
        assert seen["invokeUrl"] == instance["invokeUrl"]
        assert seen["config"] == {"region": region}


def test_unroutable_shared_requests_say_what_is_missing(hookcore: Hookcore) -> None:
    url = hookcore.deploy("tenant-3", integration=SHARED)["invokeUrl"]
    cases = [
        ({**JSON}, _event("order.created"), 'header "x-acme-account" (customer) is missing'),
        ({**JSON, "x-acme-account": "nobody"}, _event("order.created"), 'no customer "nobody"'),
        ({**JSON, "x-acme-account": "tenant-3"}, _event("order.shipped"), "maps to no flow"),
        (
            {**JSON, "x-acme-account": "tenant-3"},
            b'{"other":1}',
            'body field "/event/type" (flow) is missing',
        ),
        ({"x-acme-account": "tenant-3"}, b"not json", "(flow) is missing"),
        # JSON sent without its Content-Type: the content type is the cause, and the message says so
        (
            {"x-acme-account": "tenant-3"},
            _event("order.created"),
            'body field "/event/type" (flow) is missing: the request has no Content-Type header, so its '
            "body was not read as JSON (send Content-Type: application/json)",
        ),
        (
            {"x-acme-account": "tenant-3", "content-type": "text/plain"},
            _event("order.created"),
            'the body was not read as JSON because its Content-Type is "text/plain"',
        ),
        ({**JSON, "x-acme-account": "tenant-3"}, b"", "(the request has no body)"),
    ]
    for headers, body, message in cases:
        with nothing_stored(hookcore.nats.url):
            response = hookcore.client.post(url, content=body, headers=headers)
        assert message in assert_refused(response, 400, ErrorCode.UNROUTABLE)
        assert list(response.json()) == ["error"]


def test_api_keys(hookcore: Hookcore) -> None:
    instance = hookcore.deploy("tenant-keys", integration=SHARED)
    url = instance["invokeUrl"]
    key = instance["webhookApiKeys"]["Order paid"][0]
    assert list(instance["webhookApiKeys"]) == ["Order paid"]
    headers = {**JSON, "x-acme-account": "tenant-keys"}
    paid = _event("order.paid")

    with nothing_stored(hookcore.nats.url):
        missing = _post(hookcore, url, content=paid, headers=headers)
        wrong = hookcore.client.post(url, content=paid, headers={**headers, "api-key": "hk_wrong"})
    assert "requires an API key" in assert_refused(missing, 401, ErrorCode.API_KEY_MISSING)
    assert "not valid" in assert_refused(wrong, 401, ErrorCode.API_KEY_INVALID)
    seen = _result(hookcore, hookcore.client.post(url, content=paid, headers={**headers, "api-key": key}))
    assert seen["webhookApiKeys"] == {"Order paid": [key]}

    added = hookcore.admin.post(f"/api/instances/{instance['id']}/api-keys", json={"flow": "Order paid"})
    assert added.status_code == 201
    new_key = added.json()["apiKey"]
    for k in (new_key, key):  # the new key works at once on this process... and the old one still works
        deadline = time.monotonic() + 30
        while (
            r := hookcore.client.post(url, content=paid, headers={**headers, "api-key": k})
        ).status_code == 401:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert r.status_code == 200
    assert hookcore.admin.get(f"/api/instances/{instance['id']}").json()["webhookApiKeys"] == {
        "Order paid": [key, new_key]
    }

    assert hookcore.admin.delete(f"/api/instances/{instance['id']}/api-keys/{key}").status_code == 204
    deadline = time.monotonic() + 30
    while hookcore.client.post(url, content=paid, headers={**headers, "api-key": key}).status_code != 401:
        assert time.monotonic() < deadline, "deleted key still accepted"
        time.sleep(0.05)

    async def stored_values() -> list[bytes]:
        nc = await nats.connect(hookcore.nats.url)
        kv = await nc.jetstream().key_value("hookcore_config")
        values = []
        for key in await kv_keys(kv):  # every key: kv.keys() can end before some
            with contextlib.suppress(KeyNotFoundError):  # deleted
                values.append((await kv.get(key)).value or b"")
        await nc.close()
        return values

    values = asyncio.run(stored_values())
    assert values and not any(k.encode() in v for v in values for k in (key, new_key))


def test_instance_endpoint_picks_the_flow_from_a_header(hookcore: Hookcore) -> None:
    a = hookcore.deploy("inst-a", integration="acme-instance")
    b = hookcore.deploy("inst-b", integration="acme-instance")
    url_a, url_b = a["webhookUrls"]["Created"], b["webhookUrls"]["Created"]
    assert url_a == a["webhookUrls"]["Deleted"] != url_b
    assert a["invokeUrl"] is None
    seen = _result(hookcore, hookcore.client.post(url_a, headers={"x-event": "Deleted"}))
    assert (seen["customer"], seen["instance"], seen["flow"]) == ("inst-a", a["id"], "Deleted")
    seen = _result(hookcore, hookcore.client.post(url_b, headers={"x-event": "Created"}))
    assert (seen["customer"], seen["instance"], seen["flow"]) == ("inst-b", b["id"], "Created")
    response = hookcore.client.post(url_a, headers={"x-event": "Renamed"})
    assert response.status_code == 400
    assert 'has no flow "Renamed"' in response.json()["error"]
    assert response.headers["hookcore-error-code"] == ErrorCode.UNROUTABLE


def test_preprocess_picks_the_flow(hookcore: Hookcore) -> None:
    instance = hookcore.deploy("pre", integration="acme-pre")
    url = instance["webhookUrls"]["Big"]
    seen = _result(hookcore, hookcore.client.post(url, json={"n": 50}))
    assert seen["flow"] == "Big"
    refused = hookcore.client.post(url, json={"n": 1})
    assert refused.status_code == 401  # "Small" requires an API key
    assert refused.headers["hookcore-error-code"] == ErrorCode.API_KEY_MISSING
    assert "requires an API key" in refused.json()["error"]
    key = instance["webhookApiKeys"]["Small"][0]
    seen = _result(hookcore, hookcore.client.post(url, json={"n": 1}, headers={"api-key": key}))
    assert seen["flow"] == "Small"
    answered = hookcore.client.post(url, json={"n": -1}, follow_redirects=True)  # a synchronous flow
    assert answered.status_code == 200 and answered.json()["flow"] == "Now"
    failing = hookcore.client.post(url, json={"m": 1})
    assert failing.status_code == 400 and "'n'" in failing.json()["error"]
    assert failing.headers["hookcore-error-code"] == ErrorCode.HOOK_FAILED


def test_deploy_state_and_removal_on_two_ingress_processes(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    with (
        running_nats(tmp_path) as server,
        running_hookcore(server, tmp_path, env={"HOOKCORE_TEST_MARKER_DIR": str(markers)}) as first,
    ):
        second = running_hookcore(server, tmp_path, workers=0)
        with second as other:
            instance = first.deploy("lifecycle", {"k": "v"})
            assert instance["state"] == {"deployedUrls": instance["webhookUrls"], "config": {"k": "v"}}
            assert first.admin.get(f"/api/instances/{instance['id']}").json()["state"] == instance["state"]
            url_path = instance["webhookUrls"]["Quick"].removeprefix(first.base)
            other.wait_for_routes([other.base + url_path], client=other.client)
            assert other.client.post(url_path).status_code == 200

            shared = first.deploy("lifecycle", integration=SHARED)
            assert first.admin.delete(f"/api/instances/{shared['id']}").status_code == 204
            assert (markers / f"removed-{shared['id']}").read_text() == shared["invokeUrl"]

            assert first.admin.delete(f"/api/instances/{instance['id']}").status_code == 204
            # The removal reaches each process through its KV watch: expected within ~0.1 s.
            for hc in (first, other):
                deadline = time.monotonic() + 60
                while (gone := hc.client.post(url_path)).status_code != 404:
                    assert gone.status_code == 200, gone.text
                    assert time.monotonic() < deadline, "removed instance still answers after 60 s"
                    time.sleep(0.02)
                assert gone.json() == {"error": "Endpoint not found."}
                assert gone.headers["hookcore-error-code"] == ErrorCode.ENDPOINT_NOT_FOUND
                assert "hookcore-execution-id" not in gone.headers
            missing = first.admin.get(f"/api/instances/{instance['id']}")
            assert missing.status_code == 404
            assert missing.headers["hookcore-error-code"] == ErrorCode.NOT_FOUND


def test_concurrent_flow_state_updates_lose_nothing(hookcore: Hookcore) -> None:
    instance = hookcore.deploy("counter", integration="responses")
    url = instance["webhookUrls"]["Count"]

    async def fire() -> list[str]:
        async with httpx.AsyncClient(timeout=30) as client:
            responses = await asyncio.gather(*(client.post(url) for _ in range(100)))
        return [r.json()["executionId"] for r in responses]

    ids = asyncio.run(fire())
    assert [hookcore.wait_final(i)["status"] for i in ids] == ["succeeded"] * 100
    assert sorted(int(hookcore.result(i).text) for i in ids) == list(range(1, 101))


@pytest.mark.parametrize("verb", ["serve", "worker"])
def test_a_routing_map_naming_no_flow_fails_when_the_integration_loads(verb: str, tmp_path: Path) -> None:
    """A typo in flow_from's mapping stops the process at start, before any request meets it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKCORE_")}
    env["PYTHONPATH"] = str(APPS_DIR)
    nowhere = f"nats://127.0.0.1:{free_port()}"  # never reached: the app is refused first
    done = subprocess.run(
        [sys.executable, "-m", "hookcore", verb, "--app", "typo_app:app", "--nats", nowhere],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done
    assert done.stderr.strip() == (
        "hookcore: error: integration 'typo': flow_from's mapping names flows it does not have "
        "('order.cancelled' -> 'Order canceled'); its flows are 'Order created', 'Order cancelled'"
    )
