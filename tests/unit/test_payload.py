"""Stored payloads (what on_trigger hands on) keep what a JSON body can hold: ints of any size."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from hookcore.envelope import Envelope
from hookcore.payload import Body, InstanceLinks, Part, Payload, RawBody
from hookcore.payload_codec import build_payload, decode_payload, encode_payload


def _payload(data: Any) -> Payload:
    return Payload(
        headers={"content-type": "application/json"},
        body=Body(data=data, content_type="application/json"),
        raw_body=RawBody(data=b"{}", content_type="application/json"),
        path_fragment="",
        query_parameters={},
        webhook_urls={},
        webhook_api_keys={},
        invoke_url=None,
        execution_id="e",
        customer="c",
        instance="i",
        flow="f",
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(10**400), 10**400)
    | st.floats()
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=20,
)


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@given(values)
def test_any_json_value_round_trips_exactly(data: Any) -> None:
    assert _same(decode_payload(encode_payload(_payload(data))).body.data, data)


def test_ints_msgpack_holds_are_stored_as_before() -> None:
    data = {"edges": [-(2**63), 2**64 - 1, 0, -1], "inf": math.inf}
    assert encode_payload(_payload(data)) == msgspec.msgpack.encode(_payload(data))


def test_wide_ints_inside_tuples_and_parts() -> None:
    big = -(10**4300)
    data = {"t": (1, big), "part": Part(data={"n": big}, content_type="application/json")}
    back = decode_payload(encode_payload(_payload(data))).body.data
    assert back["t"] == [1, big]
    assert back["part"]["data"] == {"n": big}  # a Part is stored as its fields, as before


def test_a_flows_raw_body_is_the_body_as_read_not_a_copy() -> None:
    """Issue 20: ``payload.raw_body.data`` of a 10 MB body costs no copy beyond the one read
    (the worker joins an object-store body's chunks once; `hookcore.objects.get_object`)."""
    body = b"\x00" * 10_000_000
    envelope = Envelope(
        id="01a22b02-ff5e-76c0-ada4-856db2f2569c",
        received_at=0,
        endpoint="e",
        integration="i",
        instance="n",
        flow="f",
        customer="c",
        reply=None,
        method="POST",
        path="",
        query="",
        headers={},
        content_type="application/octet-stream",
        body_in_object_store=True,
        parts=None,
        body=None,
    )
    payload, note = build_payload(envelope, body, InstanceLinks({}, {}, None))
    assert note is None
    assert payload.raw_body.data is body
    assert payload.body.data is body  # bytes stay bytes: the same object
