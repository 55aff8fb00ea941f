"""The Rust signature checks (`_core.verify_signature`) against the providers' own SDKs,
published vectors and Python's `hmac`; the handshake answers byte for byte."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks
import stripe
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier

from hookcore import _core
from support import ROOT

NOW = int(time.time())
BODY = json.dumps({"id": "evt_1", "type": "invoice.paid", "data": {"amount": 1200}}).encode()
VECTORS = ROOT / "tests" / "vectors"


def _spec(scheme: str, **fields: Any) -> bytes:
    return json.dumps({"scheme": scheme, **fields}).encode()


SW = _spec("standardWebhooks", secret="signing_secret", tolerance=300)
GITHUB = _spec("github", secret="github_secret")
STRIPE = _spec("stripe", secret="stripe_secret", tolerance=300)
SLACK = _spec("slack", secret="slack_secret", tolerance=300)
SHOPIFY = _spec("shopify", secret="shopify_secret")


def _check(
    spec: bytes, secrets: list[str], headers: dict[str, str], body: bytes, now: int = NOW
) -> str | None:
    """None when the request verifies, else the refusal's code."""
    refusal = _core.verify_signature(spec, secrets, list(headers.items()), body, now)
    return None if refusal is None else refusal.code


def _fields(value: _core.Rejection | _core.Answer | None) -> tuple[Any, ...] | None:
    """A rejection as ``(code, message)``, an answer as ``(status, content type, body, the
    other headers)``."""
    if isinstance(value, _core.Rejection):
        return value.code, value.message
    if isinstance(value, _core.Answer):
        (name, content_type), *others = value.headers
        assert name == "content-type"  # first, as the ingress sends it
        return value.status, content_type, value.body, others
    return value


def _vectors() -> list[Any]:
    cases = []
    for path in sorted(VECTORS.glob("*.json")):
        for v in json.loads(path.read_text())["vectors"]:
            cases.append(pytest.param(v, id=f"{path.stem}: {v['name']}"))
    return cases


@pytest.mark.parametrize("vector", _vectors())
def test_published_vectors(vector: dict[str, Any]) -> None:
    refusal = _core.verify_signature(
        json.dumps(vector["spec"]).encode(),
        vector["secrets"],
        [tuple(h) for h in vector["headers"]],
        vector["body"].encode(),
        vector["now"],
    )
    assert (refusal.code if refusal else "ok") == vector["expect"], refusal


# Requests signed by the providers' own SDKs.


def _standard_webhooks(
    secret: str, body: bytes, ts: int = NOW, msg_id: str = "msg_2KWPBgLlAfxdpx2AI54pPJ"
) -> dict:
    signature = standardwebhooks.Webhook(secret).sign(
        msg_id=msg_id, timestamp=datetime.fromtimestamp(ts, tz=UTC), data=body.decode()
    )
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def _stripe(secret: str, body: bytes, ts: int = NOW) -> dict:
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=ts)
    return {"Stripe-Signature": header}


def _slack(secret: str, body: bytes, ts: int = NOW) -> dict:
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(ts), body=body)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": signature}


SW_SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
SDK_CASES = [
    pytest.param(SW, SW_SECRET, _standard_webhooks, "webhook-signature", id="standard_webhooks"),
    pytest.param(STRIPE, "whsec_" + os.urandom(16).hex(), _stripe, "Stripe-Signature", id="stripe"),
    pytest.param(SLACK, os.urandom(16).hex(), _slack, "X-Slack-Signature", id="slack"),
]


@pytest.mark.parametrize(("spec", "secret", "sign", "signature_header"), SDK_CASES)
def test_sdk_signed_requests(spec: bytes, secret: str, sign: Any, signature_header: str) -> None:
    headers = sign(secret, BODY)
    assert _check(spec, [secret], headers, BODY) is None
    # Rotation: any configured value verifies.
    other = sign("whsec_" + base64.b64encode(b"o" * 32).decode(), BODY)
    assert _check(spec, [secret], other, BODY) == "signature_invalid"
    assert _check(spec, ["whsec_" + base64.b64encode(b"o" * 32).decode(), secret], headers, BODY) is None
    # A flipped byte, a wrong secret, a stale or future timestamp, no header, no secret.
    flipped = bytearray(BODY)
    flipped[len(flipped) // 2] ^= 0x01
    assert _check(spec, [secret], headers, bytes(flipped)) == "signature_invalid"
    assert _check(spec, [secret], sign(secret, BODY, ts=NOW - 301), BODY) == "timestamp_out_of_tolerance"
    assert _check(spec, [secret], sign(secret, BODY, ts=NOW + 301), BODY) == "timestamp_out_of_tolerance"
    assert _check(spec, [secret], sign(secret, BODY, ts=NOW - 300), BODY) is None
    missing = {k: v for k, v in headers.items() if k != signature_header}
    assert _check(spec, [secret], missing, BODY) == "signature_missing"
    assert _check(spec, [], headers, BODY) == "secret_not_configured"


def test_the_sdks_agree_on_what_they_sign() -> None:
    """The SDKs' own verifiers accept the requests the checks above accept."""
    # The SDKs judge timestamps by the clock, and NOW was read when the module was imported
    # (under coverage on two cores, minutes before this test may run).
    now = int(time.time())
    sw = _standard_webhooks(SW_SECRET, BODY, ts=now)
    standardwebhooks.Webhook(SW_SECRET).verify(BODY, sw)
    secret = "whsec_test_secret"
    header = _stripe(secret, BODY, ts=now)["Stripe-Signature"]
    stripe.WebhookSignature.verify_header(BODY, header, secret, 300)
    slack = _slack("s3cr3t", BODY, ts=now)
    assert SignatureVerifier("s3cr3t").is_valid_request(BODY, slack)


def test_messages_name_the_scheme_and_what_failed() -> None:
    refusal = _core.verify_signature(GITHUB, ["s"], [], BODY, NOW)
    assert _fields(refusal) == (
        "signature_missing",
        "GitHub signature check failed: header X-Hub-Signature-256 is missing.",
    )
    refusal = _core.verify_signature(STRIPE, [], [], BODY, NOW)
    assert _fields(refusal) == (
        "secret_not_configured",
        "Stripe signature check failed: no secret 'stripe_secret' is configured for this instance.",
    )
    headers = list(_stripe("k", BODY, ts=NOW - 612).items())
    refusal = _core.verify_signature(STRIPE, ["k"], headers, BODY, NOW)
    assert _fields(refusal) == (
        "timestamp_out_of_tolerance",
        "Stripe signature check failed: the timestamp is 612 s away from now; at most 300 are allowed.",
    )


def test_a_malformed_spec_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="malformed verify spec"):
        _core.verify_signature(b'{"scheme":"gitlab","secret":"s"}', ["s"], [], b"", 0)
    with pytest.raises(ValueError, match="malformed handshake spec"):
        _core.answer_handshake(b'{"kind":"meta"}', [], "GET", "", b"")


def test_large_bodies() -> None:
    body = os.urandom(1 << 20)
    signature = "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert _check(GITHUB, ["k"], {"X-Hub-Signature-256": signature}, body) is None
    assert _check(GITHUB, ["k"], {"X-Hub-Signature-256": signature}, body[:-1]) == "signature_invalid"


# Any body and secret, signed with Python's hmac.

ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def _encode(digest: bytes, encoding: str) -> str:
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


signed_cases = st.tuples(
    st.binary(max_size=2048),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=64),
    st.sampled_from(["github", "shopify", "hmac"]),
    st.sampled_from(sorted(ALGORITHMS)),
    st.sampled_from(["hex", "base64"]),
    st.sampled_from(["", "sha=", "v1="]),
)


def _signed(case: tuple) -> tuple[bytes, str, dict[str, str], bytes, str, str]:
    """(spec, secret, headers, body, header name, encoding) of a request signed with Python's hmac."""
    body, secret, scheme, algorithm, encoding, prefix = case
    if scheme == "github":
        algorithm, encoding, prefix, header = "sha256", "hex", "sha256=", "x-hub-signature-256"
        spec = GITHUB
    elif scheme == "shopify":
        algorithm, encoding, prefix, header = "sha256", "base64", "", "x-shopify-hmac-sha256"
        spec = SHOPIFY
    else:
        header = "x-signature"
        spec = _spec("hmac", secret="n", header=header, algorithm=algorithm, encoding=encoding, prefix=prefix)
    digest = hmac.new(secret.encode(), body, ALGORITHMS[algorithm]).digest()
    return spec, secret, {header: prefix + _encode(digest, encoding)}, body, header, encoding


@given(signed_cases)
def test_python_hmac_signed_always_verifies(case: tuple) -> None:
    spec, secret, headers, body, _, _ = _signed(case)
    assert _check(spec, [secret], headers, body) is None


@given(signed_cases, st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_one_changed_body_byte_never_verifies(case: tuple, where: int, flip: int) -> None:
    spec, secret, headers, body, _, _ = _signed(case)
    if not body:
        body, changed = b"", bytes([flip])
    else:
        changed_array = bytearray(body)
        changed_array[where % len(body)] ^= flip
        changed = bytes(changed_array)
    assert _check(spec, [secret], headers, changed) == "signature_invalid"


@given(signed_cases, st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_one_changed_signature_byte_never_verifies(case: tuple, where: int, flip: int) -> None:
    spec, secret, headers, body, header, encoding = _signed(case)
    value = headers[header]
    prefix = value[: len(value) - len(_encode(b"\0" * len(_decoded(value, encoding)), encoding))]
    digest = bytearray(_decoded(value, encoding))
    digest[where % len(digest)] ^= flip
    changed = {header: prefix + _encode(bytes(digest), encoding)}
    assert _check(spec, [secret], changed, body) == "signature_invalid"


def _decoded(value: str, encoding: str) -> bytes:
    """The digest at the end of a header value (its length tells where it starts)."""
    for length in (64, 32, 20):
        text_len = 2 * length if encoding == "hex" else 4 * ((length + 2) // 3)
        tail = value[-text_len:]
        try:
            raw = bytes.fromhex(tail) if encoding == "hex" else base64.b64decode(tail, validate=True)
        except ValueError:
            continue
        if len(raw) == length and len(value) >= text_len:
            return raw
    raise AssertionError(value)


# Handshakes, byte for byte.

NOSNIFF = [("x-content-type-options", "nosniff")]
TEXT = "text/plain; charset=utf-8"


def test_zoom_handshake() -> None:
    spec = b'{"kind":"zoom","secret":"zoom_secret"}'
    body = (
        b'{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,'
        b'"event":"endpoint.url_validation"}'
    )
    token = hmac.new(b"s3cr3t", b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    expected = f'{{"plainToken":"qgg8vlvZRS6UYooatFL8Aw","encryptedToken":"{token}"}}'.encode()
    answer = _core.answer_handshake(spec, ["s3cr3t"], "POST", "", body)
    assert _fields(answer) == (200, "application/json", expected, [])
    assert _core.answer_handshake(spec, ["s3cr3t"], "POST", "", BODY) is None
    refusal = _core.answer_handshake(spec, [], "POST", "", body)
    assert _fields(refusal) == (
        "secret_not_configured",
        "Zoom handshake refused: no secret 'zoom_secret' is configured for this instance.",
    )


def test_meta_handshake() -> None:
    spec = b'{"kind":"meta","verifyToken":"meta_token"}'
    query = "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatloaf"
    answer = _core.answer_handshake(spec, ["meatloaf"], "GET", query, b"")
    assert _fields(answer) == (200, TEXT, b"1158201444", NOSNIFF)
    assert _fields(_core.answer_handshake(spec, ["other"], "GET", query, b"")) == (
        "handshake_refused",
        "Meta handshake refused: hub.verify_token is not the config value 'meta_token'.",
    )
    assert _core.answer_handshake(spec, ["meatloaf"], "POST", query, b"") is None
    assert _core.answer_handshake(spec, ["meatloaf"], "GET", "a=b", b"") is None


def test_graph_and_dropbox_handshakes() -> None:
    graph = b'{"kind":"graph"}'
    query = "validationToken=Validation%3A+Testing+client+application+reachability"
    expected = (200, TEXT, b"Validation: Testing client application reachability", NOSNIFF)
    assert _fields(_core.answer_handshake(graph, [], "POST", query, b"")) == expected
    assert _core.answer_handshake(graph, [], "POST", "", BODY) is None
    dropbox = b'{"kind":"dropbox"}'
    answer = _core.answer_handshake(dropbox, [], "GET", "challenge=JK%2Fx", b"")
    assert _fields(answer) == (200, TEXT, b"JK/x", NOSNIFF)
    assert _core.answer_handshake(dropbox, [], "POST", "challenge=x", BODY) is None
