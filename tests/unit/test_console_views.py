"""The console's sessions and how it shows bodies (its pages: tests/integration/test_console.py)."""

from __future__ import annotations

import time
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from hookcore.console.markup import SHOWN_BODY_BYTES, body_view, esc, hex_dump
from hookcore.console.session import COOKIE, SESSION_SECONDS, Sessions
from hookcore.executions import EPOCH, id_at

TOKEN = "an admin token"


def _cookie(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0]


def test_a_session_cookie_is_signed_expiring_and_holds_no_token() -> None:
    sessions = Sessions(TOKEN, secure=True)
    session, set_cookie = sessions.issue()
    assert TOKEN not in set_cookie
    attributes = set(set_cookie.split("; ")[1:])
    assert {
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
        "Path=/console",
        f"Max-Age={SESSION_SECONDS}",
    } == attributes
    assert sessions.check(_cookie(set_cookie)) == session
    assert sessions.check(f"other=1; {_cookie(set_cookie)}; more=2") == session
    assert Sessions(TOKEN, secure=False).check(_cookie(set_cookie)) == session
    assert "Secure" not in Sessions(TOKEN, secure=False).issue()[1]


def test_changed_forged_and_expired_cookies_are_refused() -> None:
    sessions = Sessions(TOKEN, secure=False)
    _, set_cookie = sessions.issue()
    expires, nonce, signature = _cookie(set_cookie).split("=", 1)[1].split(".")
    later = str(int(expires) + 1000)
    for value in (
        f"{later}.{nonce}.{signature}",
        f"{expires}.{nonce}x.{signature}",
        f"{expires}.{nonce}.{signature[:-1]}",
        f"{expires}.{nonce}",
        "",
        "²³.a.b",
    ):
        assert sessions.check(f"{COOKIE}={value}") is None, value
    assert Sessions("another token", secure=False).check(_cookie(set_cookie)) is None
    assert Sessions("", secure=False).check(_cookie(set_cookie)) is None
    _, old = sessions.issue(now=time.time() - SESSION_SECONDS - 1)
    assert sessions.check(_cookie(old)) is None
    assert sessions.check(None) is None


def test_csrf_tokens_belong_to_their_session() -> None:
    sessions = Sessions(TOKEN, secure=False)
    one, _ = sessions.issue()
    two, _ = sessions.issue()
    assert sessions.csrf_matches(one, sessions.csrf_token(one))
    assert not sessions.csrf_matches(one, sessions.csrf_token(two))
    assert not sessions.csrf_matches(one, None)
    assert not sessions.csrf_matches(one, "")


def test_the_password_is_the_admin_token_and_never_empty() -> None:
    assert Sessions(TOKEN, secure=False).password_matches(TOKEN)
    assert not Sessions(TOKEN, secure=False).password_matches(TOKEN + " ")
    assert not Sessions("", secure=False).password_matches("")


def test_bodies_are_shown_as_json_text_or_hex() -> None:
    kind, html = body_view(b'{"a": "<b>"}', "application/vnd.x+json; charset=utf-8")
    assert kind == "json" and "{\n  &quot;a&quot;: &quot;&lt;b&gt;&quot;\n}" in html
    assert body_view(b"{bad", "application/json")[0] == "text"
    assert body_view(b"caf\xc3\xa9 <i>", "text/plain")[1].endswith("café &lt;i&gt;</pre>")
    assert body_view(b"\x89PNG\r\n\x1a\n\x00", "image/png")[0] == "binary"
    assert body_view(b"", None) == ("empty", "<p>No body.</p>")
    kind, html = body_view(b"x" * (SHOWN_BODY_BYTES + 1), "text/plain")
    assert kind == "text" and f"The first {SHOWN_BODY_BYTES} of {SHOWN_BODY_BYTES + 1} bytes" in html


def test_hex_dump_lines() -> None:
    assert hex_dump(b"AB\x00") == "00000000  41 42 00" + " " * 39 + "  AB."
    assert hex_dump(bytes(range(32))).splitlines()[1].startswith("00000010  10 11 12")


@given(st.text())
def test_escaped_text_opens_no_tag_or_attribute(text: str) -> None:
    shown = esc(text)
    assert not set(shown) & set("<>\"'")


@given(st.integers(min_value=0, max_value=2**47).map(lambda ms: ms * 1000))
def test_id_at_sorts_between_the_ids_of_its_millisecond_and_the_one_before(micros: int) -> None:
    moment = EPOCH + timedelta(microseconds=micros)
    bound = id_at(moment)
    assert bound[:13].replace("-", "") == f"{micros // 1000:012x}"
    assert id_at(moment + timedelta(milliseconds=1)) > bound
    assert id_at(moment + timedelta(microseconds=999)) == bound
