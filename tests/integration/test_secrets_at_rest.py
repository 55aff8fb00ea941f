"""API keys are never stored in JetStream or written to logs (SPEC section 9).

A flow with ``on_trigger`` has its payload built in the ingress and stored in
the executions stream; the instance-derived fields (``webhook_api_keys``,
``webhook_urls``, ``invoke_url``) are left out of it and derived again by the
worker, and the ``Api-Key`` header hookcore checked is dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import nats

from hookcore.errors import ErrorCode
from hookcore.queue import ALL_EXECUTIONS, EXECUTIONS_STREAM
from support import Hookcore, assert_refused


async def _stored_envelope(url: str, execution_id: str) -> bytes:
    nc = await nats.connect(url)
    try:
        msg = await nc.jetstream().get_last_msg(EXECUTIONS_STREAM, f"{ALL_EXECUTIONS[:-1]}*.*.{execution_id}")
        assert msg.data is not None
        return msg.data
    finally:
        await nc.close()


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_api_keys_are_not_stored_with_an_on_trigger_payload(hookcore: Hookcore) -> None:
    instance = hookcore.deploy("secrets", integration="responses")
    key = instance["webhookApiKeys"]["Keyed"][0]
    url = instance["webhookUrls"]["Keyed"]
    assert_refused(hookcore.client.post(url, json={"n": 1}), 401, ErrorCode.API_KEY_MISSING)

    response = hookcore.client.post(url, json={"n": 1}, headers={"api-key": key})
    assert response.status_code == 200, response.text
    execution_id = response.json()["executionId"]
    record = hookcore.wait_final(execution_id)
    assert record["status"] == "succeeded", record

    # The flow still sees its instance's keys and URLs (derived by the worker) and the rewritten body.
    seen = hookcore.result(execution_id).json()
    assert seen["keyDigests"] == [hashlib.sha256(key.encode()).hexdigest()]
    assert seen["sameAsContext"] is True
    assert seen["webhookUrls"] == instance["webhookUrls"]
    assert seen["invokeUrl"] is None
    assert seen["body"] == {"stamped": True, "was": {"n": 1}}
    assert "api-key" not in seen["headers"] and "content-type" in seen["headers"]

    # The envelope in the executions stream carries no key: neither the instance's keys nor the header.
    stored = asyncio.run(_stored_envelope(hookcore.nats.url, execution_id))
    assert execution_id.encode() in stored
    assert key.encode() not in stored

    # Nor does anything nats-server wrote to disk (streams, KV buckets, object store) once the
    # execution's records are on disk, nor any log line of the ingress or the worker.
    store = hookcore.nats.data_dir / "jetstream"
    deadline = time.monotonic() + 30
    while len(_files_containing(store, execution_id.encode())) < 2:  # the stream and the records
        assert time.monotonic() < deadline, "the execution never reached nats-server's files"
        time.sleep(0.1)
    assert _files_containing(store, key.encode()) == []
    logs = hookcore.logs() + (hookcore.nats.log_path.read_text(errors="replace"))
    assert "keyed flow ran for secrets" in str(hookcore.execution(execution_id)["logs"])
    assert key not in logs


def test_the_checked_api_key_is_not_stored_on_the_plain_path(hookcore: Hookcore) -> None:
    """A flow with ``api_keys=True`` and no ingress hook: the Rust core drops the header it checked."""
    instance = hookcore.deploy("secrets-plain", integration="acme-shared")
    key = instance["webhookApiKeys"]["Order paid"][0]
    response = hookcore.client.post(
        instance["invokeUrl"],
        json={"event": {"type": "order.paid"}},
        headers={"x-acme-account": "secrets-plain", "api-key": key},
    )
    assert response.status_code == 200, response.text
    execution_id = response.json()["executionId"]
    stored = asyncio.run(_stored_envelope(hookcore.nats.url, execution_id))
    assert execution_id.encode() in stored
    assert key.encode() not in stored
    assert hookcore.wait_final(execution_id)["status"] == "succeeded"
