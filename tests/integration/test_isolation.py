"""One sender cannot hurt another (SPEC section 9): oversized requests, early answers, slow senders.

Real HTTP against `hookcore serve` and a real nats-server; the slow-sender and
early-answer cases speak HTTP/1.1 over a raw socket, because they are about
what happens before a body has arrived.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from hookcore.embedded import EmbeddedNats
from support import Hookcore, running_hookcore

BODY_READ_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def hookcore(nats: EmbeddedNats, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hookcore]:
    env = {"HOOKCORE_BODY_READ_TIMEOUT": str(BODY_READ_TIMEOUT)}
    with running_hookcore(nats, tmp_path_factory.mktemp("logs"), env=env) as hc:
        yield hc


def _exchange(hookcore: Hookcore, head: bytes, body_part: bytes = b"", timeout: float = 30) -> str:
    """Send a request head (and the start of a body), then read the answer without sending more."""
    url = httpx.URL(hookcore.base)
    with socket.create_connection((url.host, url.port or 80), timeout=timeout) as sock:
        sock.sendall(head + body_part)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer.decode("latin-1")


def _head(method: str, path: str, content_length: int) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {content_length}\r\n\r\n"
    ).encode()


def test_a_request_too_big_for_one_message_is_stored_whole_and_hurts_nobody(
    hookcore: Hookcore, instance: dict
) -> None:
    # Under the old body-only threshold (max_payload - 64 KiB), but with the header and
    # query string the envelope would exceed nats-server's 1 MiB max_payload.
    body = b'"' + b"x" * 982_998 + b'"'
    big = hookcore.client.post(
        instance["webhookUrls"]["Echo"] + "?q=" + "a" * 30_000,
        content=body,
        headers={"Content-Type": "application/json", "x-padding": "p" * 60_000},
    )
    assert big.status_code == 200, big.text
    quick = instance["webhookUrls"]["Quick"]
    with ThreadPoolExecutor(8) as pool:
        others = list(pool.map(lambda _: hookcore.client.post(quick, json={}).status_code, range(100)))
    assert others == [200] * 100
    record = hookcore.wait_final(big.json()["executionId"])
    assert record["status"] == "succeeded", record
    seen = hookcore.result(big.json()["executionId"]).json()
    assert bytes.fromhex(seen["rawBody"]) == body
    assert len(seen["queryParameters"]["q"]) == 30_000
    assert "lost its NATS connection" not in hookcore.logs()


def test_headers_and_parts_that_cannot_fit_one_message_are_413(hookcore: Hookcore, instance: dict) -> None:
    # 600 parts with 2,000-byte names: the part index alone is over 1 MiB.
    parts = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="' + b"n" * 1990 + str(i).encode() + b'"\r\n\r\nv\r\n'
        for i in range(600)
    )
    response = hookcore.client.post(
        instance["webhookUrls"]["Echo"],
        content=parts + b"--b--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 413, response.text
    assert response.headers["hookcore-error-code"] == "request_too_large"
    assert "fit in one message" in response.json()["error"]
    assert "hookcore-execution-id" not in response.headers
    assert "lost its NATS connection" not in hookcore.logs()


def test_an_unknown_endpoint_is_answered_before_the_body(hookcore: Hookcore) -> None:
    answer = _exchange(hookcore, _head("POST", "/trigger/no-such-endpoint", 5_000_000))
    assert answer.startswith("HTTP/1.1 404"), answer
    assert "hookcore-error-code: endpoint_not_found" in answer


def test_an_empty_bucket_is_answered_before_the_body(hookcore: Hookcore, instance: dict) -> None:
    url = instance["webhookUrls"]["Scarce"]  # one request per 100 s
    assert [hookcore.client.get(url).status_code for _ in range(2)] == [200, 429]
    path = httpx.URL(url).path
    answer = _exchange(hookcore, _head("POST", path, 5_000_000))
    assert answer.startswith("HTTP/1.1 429"), answer
    assert "hookcore-error-code: rate_limited" in answer
    assert "retry-after:" in answer.lower()


def test_a_slow_sender_gets_408_after_the_read_deadline(hookcore: Hookcore, instance: dict) -> None:
    path = httpx.URL(instance["webhookUrls"]["Quick"]).path
    started = time.monotonic()
    answer = _exchange(hookcore, _head("POST", path, 100), b'{"part":')
    waited = time.monotonic() - started
    assert answer.startswith("HTTP/1.1 408"), answer
    assert "hookcore-error-code: body_read_timeout" in answer
    assert "hookcore-execution-id" not in answer
    assert waited >= BODY_READ_TIMEOUT * 0.9
    # The ingress goes on serving.
    assert hookcore.client.post(instance["webhookUrls"]["Quick"], json={}).status_code == 200


def test_error_answers_carry_their_code(hookcore: Hookcore, instance: dict, tmp_path: Path) -> None:
    url = instance["webhookUrls"]["Echo"]
    cases = [
        (
            hookcore.client.post(url, content=b"{bad", headers={"Content-Type": "application/json"}),
            400,
            "malformed_json",
        ),
        (hookcore.client.request("OPTIONS", url), 405, "method_not_allowed"),
        (hookcore.client.post(url, headers={f"x-{i}": "v" for i in range(70)}), 431, "headers_too_large"),
        (hookcore.client.get(hookcore.base + "/api/executions"), 401, "admin_token_invalid"),
        (
            hookcore.client.get(hookcore.base + "/results/x?expires=%C2%B2&signature=a"),
            403,
            "result_url_invalid",
        ),
        (
            hookcore.client.get(hookcore.base + "/results/x?expires=1&signature=%C3%A9"),
            403,
            "result_url_invalid",
        ),
    ]
    for response, status, code in cases:
        assert (response.status_code, response.headers.get("hookcore-error-code")) == (status, code)
        assert set(response.json()) == {"error"}


def test_a_large_body_through_preprocess_is_stored_whole(hookcore: Hookcore) -> None:
    url = hookcore.deploy("pre-large", integration="acme-pre")["webhookUrls"]["Big"]
    response = hookcore.client.post(url, json={"n": 50, "pad": "x" * 2_000_000})
    assert response.status_code == 200, response.text
    record = hookcore.wait_final(response.json()["executionId"])
    assert (record["status"], record["flow"]) == ("succeeded", "Big"), record


def test_an_on_trigger_payload_too_big_for_a_message_is_413(hookcore: Hookcore) -> None:
    url = hookcore.deploy("hooks-large", integration="responses")["webhookUrls"]["Challenge"]
    xml = b"<event><data>" + b"x" * 2_000_000 + b"</data></event>"
    response = hookcore.client.post(url, content=xml, headers={"Content-Type": "application/xml"})
    assert response.status_code == 413, response.text
    assert response.headers["hookcore-error-code"] == "request_too_large"
    assert "hookcore-execution-id" not in response.headers
    assert "lost its NATS connection" not in hookcore.logs()
