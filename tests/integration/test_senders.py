"""Who may send (SPEC section 8) over real HTTP and real JetStream: signatures checked in the
ingress before anything is stored, per-customer secrets on the shared endpoint, duplicates
dropped, and providers' URL handshakes answered without running anything."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import nats
import pytest
from standardwebhooks import Webhook

from hookcore.catalog import DELIVERIES_BUCKET
from hookcore.jetstream import kv_keys
from hookcore.queue import EXECUTIONS_STREAM
from support import Hookcore

GITHUB_SECRET = "It's a Secret to Everybody"
A_SECRET = "whsec_" + base64.b64encode(b"tenant A signing key, 32 bytes!!").decode()
B_SECRET = "whsec_" + base64.b64encode(b"tenant B signing key, 32 bytes!!").decode()


def _github(body: bytes, secret: str = GITHUB_SECRET, delivery: str | None = None) -> dict[str, str]:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/json",
        "x-hub-signature-256": f"sha256={signature}",
        "x-github-delivery": delivery or str(uuid.uuid4()),
    }


def _standard(body: str, secret: str, tenant: str, msg_id: str | None = None) -> dict[str, str]:
    now = datetime.now(UTC)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    return {
        "content-type": "application/json",
        "x-tenant": tenant,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
    }


def _stored_messages(hookcore: Hookcore) -> int:
    async def count() -> int:
        nc = await nats.connect(hookcore.nats.url)
        try:
            info = await nc.jetstream().stream_info(EXECUTIONS_STREAM)
            return int(info.state.messages)
        finally:
            await nc.close()

    return asyncio.run(count())


def _refused(response: httpx.Response, code: str, *words: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["hookcore-error-code"] == code
    assert "hookcore-execution-id" not in response.headers
    message = response.json()["error"]
    for word in words:
        assert word in message, message


@pytest.fixture(scope="module")
def github(hookcore: Hookcore) -> dict[str, Any]:
    return hookcore.deploy(
        "gh", {"github_secret": ["an old secret", GITHUB_SECRET]}, integration="signed-github"
    )


def test_a_signed_request_runs_and_an_unsigned_one_is_refused(hookcore: Hookcore, github: dict) -> None:
    url = github["webhookUrls"]["Push"]
    body = b'{"ref":"refs/heads/main"}'
    before = _stored_messages(hookcore)
    _refused(
        hookcore.client.post(url, content=body, headers={"content-type": "application/json"}),
        "signature_missing",
        "GitHub",
        "X-Hub-Signature-256",
    )
    forged = _github(body, secret="a guess")
    _refused(hookcore.client.post(url, content=body, headers=forged), "signature_invalid", "GitHub")
    flipped = _github(body)
    _refused(
        hookcore.client.post(url, content=body.replace(b"main", b"mains"), headers=flipped),
        "signature_invalid",
    )
    assert _stored_messages(hookcore) == before, "a refused request was stored"

    accepted = hookcore.client.post(url, content=body, headers=_github(body))
    assert accepted.status_code == 200, accepted.text
    record = hookcore.wait_final(accepted.json()["executionId"])
    assert record["status"] == "succeeded", record
    # Rotation: the old secret of the list verifies as well.
    old = hookcore.client.post(url, content=body, headers=_github(body, secret="an old secret"))
    assert old.status_code == 200, old.text


def test_an_instance_without_the_secret_refuses_everything(hookcore: Hookcore) -> None:
    bare = hookcore.deploy("gh-bare", integration="signed-github")
    body = b"{}"
    response = hookcore.client.post(bare["webhookUrls"]["Push"], content=body, headers=_github(body))
    _refused(response, "secret_not_configured", "github_secret")


def test_duplicates_answer_the_first_execution(hookcore: Hookcore, github: dict) -> None:
    url = github["webhookUrls"]["Push"]
    body = b'{"n":1}'
    headers = _github(body)
    first = hookcore.client.post(url, content=body, headers=headers)
    assert first.status_code == 200, first.text
    again = hookcore.client.post(url, content=body, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.headers["hookcore-duplicate"] == "true"
    assert again.headers["hookcore-execution-id"] == first.json()["executionId"]

    # Eight copies at once: one execution, every copy answered with its id.
    before = _stored_messages(hookcore)
    copies = _github(b'{"n":2}')
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: hookcore.client.post(url, content=b'{"n":2}', headers=copies), range(8))
        )
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    assert len({a.json()["executionId"] for a in answers}) == 1
    assert sum(a.headers.get("hookcore-duplicate") == "true" for a in answers) == 7
    assert _stored_messages(hookcore) == before + 1


def _name_another_execution(hookcore: Hookcore, execution_id: str, other: str) -> None:
    """Make the delivery key naming ``execution_id`` name ``other`` instead, as if the ingress that
    claimed it had died before storing ``other``."""

    async def rewrite() -> None:
        nc = await nats.connect(hookcore.nats.url)
        try:
            kv = await nc.jetstream().key_value(DELIVERIES_BUCKET)
            keys = [
                key
                for key in await kv_keys(kv)
                if (await kv.get(key, validate_keys=False)).value == execution_id.encode()
            ]
            assert len(keys) == 1, keys
            await kv.put(keys[0], other.encode(), validate_keys=False)
        finally:
            await nc.close()

    asyncio.run(rewrite())


def test_a_delivery_whose_first_copy_was_never_stored_is_stored_by_its_retry(
    hookcore: Hookcore, github: dict
) -> None:
    """The ingress that won a delivery's key died before storing it: the key names an execution
    that never appears. A retry waits for it (the publish timeout and a second), then takes the key
    over, stores itself and is the delivery's execution from then on."""
    url = github["webhookUrls"]["Push"]
    body = b'{"n":4}'
    headers = _github(body)
    first = hookcore.client.post(url, content=body, headers=headers)
    assert first.status_code == 200, first.text
    lost = str(uuid.uuid4())
    _name_another_execution(hookcore, first.json()["executionId"], lost)

    before = _stored_messages(hookcore)
    retry = hookcore.client.post(url, content=body, headers=headers, timeout=60)
    assert retry.status_code == 200, retry.text
    assert "hookcore-duplicate" not in retry.headers
    taken_over = retry.json()["executionId"]
    assert taken_over not in (first.json()["executionId"], lost)
    assert _stored_messages(hookcore) == before + 1
    assert hookcore.wait_final(taken_over)["status"] == "succeeded"
    assert f"execution {lost} was never stored; taking the key over" in hookcore.logs()

    again = hookcore.client.post(url, content=body, headers=headers)
    assert again.headers["hookcore-duplicate"] == "true", again.text
    assert again.json()["executionId"] == taken_over


def test_after_the_window_a_delivery_runs_again(hookcore: Hookcore, github: dict) -> None:
    url = github["webhookUrls"]["Short"]  # dedup_window=2
    body = b'{"n":3}'
    headers = _github(body)
    first = hookcore.client.post(url, content=body, headers=headers).json()["executionId"]
    deadline = time.monotonic() + 30
    while True:
        answer = hookcore.client.post(url, content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        if answer.headers.get("hookcore-duplicate") is None:
            break
        assert time.monotonic() < deadline, "the delivery id was never forgotten"
        time.sleep(0.25)
    assert answer.json()["executionId"] != first


def test_the_shared_endpoint_verifies_with_the_routed_customers_secret(hookcore: Hookcore) -> None:
    a = hookcore.deploy("tenant-a", {"signing_secret": A_SECRET}, integration="signed-events")
    hookcore.deploy("tenant-b", {"signing_secret": B_SECRET}, integration="signed-events")
    url = a["invokeUrl"]
    body = json.dumps({"type": "invoice.paid", "amount": 10})

    mine = hookcore.client.post(url, content=body, headers=_standard(body, A_SECRET, "tenant-a"))
    assert mine.status_code == 200, mine.text
    execution_id = mine.json()["executionId"]
    assert hookcore.wait_final(execution_id)["status"] == "succeeded"
    assert hookcore.result(execution_id).json()["customer"] == "tenant-a"

    # A's signature naming B: refused, and B's own bucket (5 per second, burst 5) is untouched.
    for _ in range(3):
        forged = hookcore.client.post(url, content=body, headers=_standard(body, A_SECRET, "tenant-b"))
        _refused(forged, "signature_invalid", "Standard Webhooks")
    legit = hookcore.client.post(url, content=body, headers=_standard(body, B_SECRET, "tenant-b"))
    assert legit.status_code == 200, legit.text
    assert legit.headers["ratelimit-remaining"] == "4"

    # A customer that does not exist is answered exactly like a forgery for one that does.
    ghost = hookcore.client.post(url, content=body, headers=_standard(body, A_SECRET, "tenant-ghost"))
    forged = hookcore.client.post(url, content=body, headers=_standard(body, A_SECRET, "tenant-b"))
    _refused(ghost, "signature_invalid")
    assert ghost.json() == forged.json()


def test_slack_url_verification_is_answered_once_signed(hookcore: Hookcore) -> None:
    instance = hookcore.deploy(
        "slack", {"slack_secret": "8f742231b10e8888abcd99yyyzzz85a5"}, integration="signed-slack"
    )
    url = instance["webhookUrls"]["Events"]
    body = json.dumps(
        {
            "type": "url_verification",
            "token": "t",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        }
    )
    timestamp = str(int(time.time()))
    signature = (
        "v0="
        + hmac.new(
            b"8f742231b10e8888abcd99yyyzzz85a5", f"v0:{timestamp}:{body}".encode(), hashlib.sha256
        ).hexdigest()
    )
    before = _stored_messages(hookcore)
    unsigned = hookcore.client.post(url, content=body, headers={"content-type": "application/json"})
    _refused(unsigned, "signature_missing", "Slack")
    answer = hookcore.client.post(
        url,
        content=body,
        headers={
            "content-type": "application/json",
            "x-slack-request-timestamp": timestamp,
            "x-slack-signature": signature,
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.content == b'{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}'
    assert "hookcore-execution-id" not in answer.headers
    assert _stored_messages(hookcore) == before


def test_handshakes_are_answered_without_an_execution(hookcore: Hookcore) -> None:
    instance = hookcore.deploy(
        "handshakes",
        {"meta_token": "meta-verify-token", "zoom_secret": "zoom-secret-token"},
        integration="handshakes",
    )
    urls = instance["webhookUrls"]
    before = _stored_messages(hookcore)

    meta = hookcore.client.get(
        urls["Meta"],
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": "meta-verify-token",
            "hub.challenge": "1158201444",
        },
    )
    assert (meta.status_code, meta.text) == (200, "1158201444")
    assert meta.headers["content-type"].startswith("text/plain")
    wrong = hookcore.client.get(
        urls["Meta"], params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"}
    )
    assert wrong.status_code == 403
    assert wrong.headers["hookcore-error-code"] == "handshake_refused"

    zoom = hookcore.client.post(
        urls["Zoom"],
        json={"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}},
    )
    expected = hmac.new(b"zoom-secret-token", b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert zoom.status_code == 200, zoom.text
    assert zoom.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}

    graph = hookcore.client.post(urls["Graph"] + "?validationToken=Validation%3A%20Testing%20client")
    assert (graph.status_code, graph.text) == (200, "Validation: Testing client")

    dropbox = hookcore.client.get(urls["Dropbox"], params={"challenge": "dbx-challenge"})
    assert (dropbox.status_code, dropbox.text) == (200, "dbx-challenge")
    assert dropbox.headers["x-content-type-options"] == "nosniff"

    for answer in (meta, wrong, zoom, graph, dropbox):
        assert "hookcore-execution-id" not in answer.headers
    assert _stored_messages(hookcore) == before

    # Not a handshake: the flow runs as usual.
    ran = hookcore.client.post(urls["Graph"], json={"value": []})
    assert ran.status_code == 200 and "hookcore-execution-id" in ran.headers
