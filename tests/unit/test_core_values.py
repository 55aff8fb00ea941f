"""The typed values `hookcore._core` hands Python: what `NatsWire.feed` read and what
`parse_body` found, as the publisher and `hookcore.parsing` read them."""

from __future__ import annotations

import pytest

from hookcore import _core
from hookcore._core import NotStored, ParsedBody, Ping, Pong, Received, ServerErr, ServerInfo


def _msg(token: int, payload: bytes) -> bytes:
    """A reply to the publish ``token`` as nats-server delivers it to the publisher's inbox."""
    return b"MSG _INBOX.pub1.%d 1 %d\r\n%s\r\n" % (token, len(payload), payload)


# Frames as nats-server writes them (rust/nats_wire_tests.rs holds more).
FROM_SERVER = (
    b'INFO {"server_id":"N1","max_payload":1048576,"headers":true}\r\n'
    b"PING\r\n"
    + _msg(7, b'{"stream":"HOOKCORE_EXECUTIONS","seq":12}')
    + b"HMSG _INBOX.pub1.8 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
    + _msg(
        9, b'{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"S"}'
    )
    + _msg(11, b'{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 4"},"stream":"S"}')
    + _msg(10, b'{"stream":"S","seq":13,"duplicate":true}')
    + b"PONG\r\n"
    + b"-ERR 'Stale Connection'\r\n"
)


def test_feed_hands_acks_as_pairs_and_every_other_event_as_its_own_type() -> None:
    received = _core.NatsWire("_INBOX.pub1.").feed(FROM_SERVER)
    assert isinstance(received, Received)
    assert received.acks == [(7, 12), (10, 13)]
    info, ping, nak, full, conflict, pong, error = received.events
    assert isinstance(info, ServerInfo) and '"server_id":"N1"' in info.json
    assert isinstance(ping, Ping) and isinstance(pong, Pong)
    assert isinstance(nak, NotStored) and (nak.token, nak.kind) == (8, "nak")
    assert nak.reason == "no JetStream stream answered (503 no responders)"
    assert isinstance(full, NotStored) and (full.token, full.kind) == (9, "full")
    assert full.reason == "maximum messages exceeded (code 10077)"
    assert isinstance(conflict, NotStored) and (conflict.token, conflict.kind) == (11, "conflict")
    assert conflict.reason == "wrong last sequence: 4 (code 10071)"
    assert isinstance(error, ServerErr) and error.message == "Stale Connection"


def test_the_values_print_as_python_would() -> None:
    received = _core.NatsWire("_INBOX.pub1.").feed(
        b"PING\r\n" + _msg(9, b'{"error":{"code":503,"err_code":10077,"description":"it\'s full"}}')
    )
    assert repr(received) == (
        "Received(acks=[], events=[Ping(), "
        "NotStored(token=9, kind='nak', reason=\"it's full (code 10077)\")])"
    )
    assert repr(_core.parse_body(b"{}", "application/json")) == "ParsedBody(kind='json', note=None)"
    rejection = _core.verify_signature(b'{"scheme":"github","secret":"s"}', ["x"], [], b"", 0)
    assert repr(rejection).startswith("Rejection(code='signature_missing', message='GitHub signature")


def test_a_frame_cut_short_waits_for_the_rest() -> None:
    wire = _core.NatsWire("_INBOX.pub1.")
    frame = b'MSG _INBOX.pub1.7 1 41\r\n{"stream":"HOOKCORE_EXECUTIONS","seq":12}\r\n'
    first = wire.feed(frame[:30])
    assert (first.acks, first.events) == ([], [])
    assert wire.feed(frame[30:]).acks == [(7, 12)]


@pytest.mark.parametrize(
    ("body", "content_type", "kind", "value"),
    [
        (b"", "application/json", "empty", None),
        (b'{"a": 1}', "application/json", "json", None),
        (b"a=1&b=x+y&a=2", "application/x-www-form-urlencoded", "form", {"a": ["1", "2"], "b": "x y"}),
        ("héllo".encode(), "text/plain; charset=utf-8", "text", "héllo"),
        (b"\x00\x01", "application/octet-stream", "binary", b"\x00\x01"),
    ],
)
def test_parse_body_says_what_the_body_is(body: bytes, content_type: str, kind: str, value: object) -> None:
    parsed = _core.parse_body(body, content_type)
    assert isinstance(parsed, ParsedBody)
    assert (parsed.kind, parsed.value, parsed.note) == (kind, value, None)


def test_text_its_charset_cannot_decode_is_binary_with_a_note() -> None:
    parsed = _core.parse_body(b"caf\xe9", "text/plain; charset=utf-8")
    assert (parsed.kind, parsed.value) == ("binary", b"caf\xe9")
    assert parsed.note is not None and parsed.note.startswith("body.data holds the raw bytes")


def test_multipart_parts_come_as_name_filename_type_json_and_data() -> None:
    body = (
        b'--B\r\nContent-Disposition: form-data; name="doc"\r\n'
        b'Content-Type: application/json\r\n\r\n{"x": 1}\r\n'
        b'--B\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--B--\r\n'
    )
    parsed = _core.parse_body(body, "multipart/form-data; boundary=B")
    assert parsed.kind == "multipart"
    assert parsed.value == [
        ("doc", None, "application/json", True, b'{"x": 1}'),
        ("note", None, None, False, "hi"),
    ]
