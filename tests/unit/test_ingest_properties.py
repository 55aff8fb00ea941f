"""The Rust ingest decision on generated requests: never an exception, only the contract's
statuses, and an envelope that carries the request byte for byte."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from hookcore import _core
from hookcore.envelope import decode_envelope
from hookcore.errors import ErrorCode
from hookcore.integration import Integration, body, header
from hookcore.queue import execution_subject
from hookcore.route_spec import integration_spec

CONTRACT = {200, 400, 401, 404, 405, 413, 429, 431}


def _published(wire: bytes, subject: str, reply: str) -> tuple[str, bytes]:
    """Read one ``HPUB`` frame as nats-server would: ``(Nats-Msg-Id, payload)``."""
    line, rest = wire.split(b"\r\n", 1)
    verb, to, reply_to, header_len, total_len = line.decode().split(" ")
    assert (verb, to, reply_to) == ("HPUB", subject, reply)
    headers, payload = rest[: int(header_len)], rest[int(header_len) : int(total_len)]
    assert rest[int(total_len) :] == b"\r\n", "the frame ends after its payload"
    lines = headers.decode().split("\r\n")
    assert lines[0] == "NATS/1.0" and lines[-2:] == ["", ""]
    name, value = lines[1].split(": ")
    assert name == "Nats-Msg-Id"
    return value, payload


def _core_with_routes(max_envelope: int = 1 << 16) -> Any:
    core = _core.Ingress(
        subject_prefix="hookcore.executions",
        reply_prefix="_INBOX.t",
        inbox="_INBOX.acks.",
        max_envelope=max_envelope,
        max_headers=64,
        max_header_bytes=65536,
        max_parts=50,
        max_part_header_bytes=1024,
        counters=_core.IngressCounters(customers=100),
    )
    simple = Integration("simple", rate_limit=1e9)
    simple.flow("Echo")(lambda ctx, payload: None)
    shared = Integration(
        "shared",
        endpoint="shared",
        rate_limit=1e9,
        customer_from=header("x-account"),
        flow_from=body("/type"),
    )
    shared.flow("a")(lambda ctx, payload: None)
    for app in (simple, shared):
        core.set_integration(integration_spec(app))
    enc = msgspec.json.encode
    core.set_instance("i1", enc({"id": "i1", "integration": "simple", "customer": "c1"}))
    core.set_instance("i2", enc({"id": "i2", "integration": "shared", "customer": "c1"}))
    core.set_endpoint(
        "E",
        enc(
            {
                "endpoint": "E",
                "integration": "simple",
                "kind": "instance_and_flow",
                "instance": "i1",
                "flow": "Echo",
            }
        ),
    )
    core.set_endpoint("S", enc({"endpoint": "S", "integration": "shared", "kind": "shared"}))
    return core


CORE = _core_with_routes()

content_types = st.sampled_from(
    [
        None,
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=X",
        "text/plain; charset=utf-16",
        "text/xml; charset=bogus",
        "image/png",
        "application/vnd.x+json",
        ";;;",
        'multipart/form-data; boundary="',
    ]
)
header_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=30)


@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW"]),
    target=st.sampled_from(["E", "S", "E/a/b", "nope", "", "E/%zz/ü"]),
    query=st.text(max_size=40),
    headers=st.lists(st.tuples(header_names, header_values), max_size=8),
    content_type=content_types,
    payload=st.binary(max_size=300),
)
def test_any_request_gets_a_contract_answer(
    method: str,
    target: str,
    query: str,
    headers: list[tuple[str, str]],
    content_type: str | None,
    payload: bytes,
) -> None:
    if content_type is not None:
        headers = [*headers, ("content-type", content_type)]
    decision = CORE.ingest(method, target, query, headers, payload, 7)
    if isinstance(decision, _core.Answer):
        assert decision.status in CONTRACT
        if decision.status != 200:
            assert set(msgspec.json.decode(decision.body)) == {"error"}
            assert dict(decision.headers)["hookcore-error-code"] in set(ErrorCode)
        return
    execution_id, subject, out_headers = decision.execution_id, decision.subject, decision.headers
    wire = decision.frame if decision.body is None else decision.frame + decision.body + b"\r\n"
    msg_id, envelope = _published(wire, subject, "_INBOX.acks.7")
    assert msg_id == execution_id
    sent = decode_envelope(envelope)
    assert sent.id == execution_id
    assert subject == execution_subject(sent.customer, execution_id, synchronous=sent.reply is not None)
    assert sent.method == method and sent.query == query
    assert sent.body == (b"" if method == "GET" else payload)
    assert sent.path == (target.split("/", 1)[1] if "/" in target else "")
    for name, value in headers:
        assert value in sent.headers[name.lower()]
    assert ("hookcore-execution-id", execution_id) in out_headers


BIG_CORE = _core_with_routes(max_envelope=1 << 20)


@given(size=st.integers(min_value=60_000, max_value=300_000), token=st.integers(0, 2**64 - 1))
def test_large_bodies_follow_their_frame_head(size: int, token: int) -> None:
    payload = bytes(range(256)) * (size // 256)
    decision = BIG_CORE.ingest("POST", "E", "", [("content-type", "image/png")], payload, token)
    assert isinstance(decision, _core.Accepted) and decision.token == token
    # From 64 KiB on the body leaves from the buffer it came in, after the frame's head.
    assert (decision.body is payload) == (len(payload) >= 64 * 1024)
    wire = decision.frame if decision.body is None else decision.frame + decision.body + b"\r\n"
    msg_id, envelope = _published(wire, decision.subject, f"_INBOX.acks.{token}")
    sent = decode_envelope(envelope)
    assert msg_id == sent.id == decision.execution_id
    assert sent.body == payload and not sent.body_in_object_store
