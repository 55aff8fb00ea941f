"""Rust signature checks vs the providers' own Python verifiers, on the same signed requests.

Each group is one scheme and body size: ``_core.verify_signature`` (the whole
binding: spec JSON, header list and body in, verdict out) beside the
provider's verifier, built once as a server would build it. Standard
Webhooks' ``verify`` runs with ``json_parse=False`` so that it does the
signature check only, as the Rust side does.

pytest benches/test_verify.py --benchmark-only --benchmark-group-by=group
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks
import stripe
from slack_sdk.signature import SignatureVerifier

from hookcore import _core

NOW = int(time.time())  # the floor's signed bytes only; requests are signed when their bench runs
SW_SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
STRIPE_SECRET = "whsec_" + "5" * 32
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SW_SPEC = b'{"scheme":"standardWebhooks","secret":"signing_secret","tolerance":300}'
STRIPE_SPEC = b'{"scheme":"stripe","secret":"stripe_secret","tolerance":300}'
SLACK_SPEC = b'{"scheme":"slack","secret":"slack_secret","tolerance":300}'


def _json_body(size: int) -> bytes:
    items, out = [], b""
    while len(out) < size:
        items.append({"sku": f"W-{len(items)}", "q": len(items), "d": "x" * 20})
        out = json.dumps({"id": "evt_1", "type": "order.created", "items": items}).encode()
    return out


BODIES = {"1KB": _json_body(1024), "100KB": _json_body(100 * 1024)}
SIZES = pytest.mark.parametrize("size", list(BODIES))


def _sw_headers(body: bytes, now: int) -> dict[str, str]:
    signature = standardwebhooks.Webhook(SW_SECRET).sign(
        msg_id="msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        timestamp=datetime.fromtimestamp(now, tz=UTC),
        data=body.decode(),
    )
    return {
        "webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        "webhook-timestamp": str(now),
        "webhook-signature": signature,
    }


def _stripe_header(body: bytes, now: int) -> str:
    return stripe.WebhookSignature.generate_signature_header(body.decode(), STRIPE_SECRET, timestamp=now)


def _slack_headers(body: bytes, now: int) -> dict[str, str]:
    signature = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=str(now), body=body)
    assert signature is not None
    return {"x-slack-request-timestamp": str(now), "x-slack-signature": signature}


@SIZES
def test_standard_webhooks_rust(benchmark: Any, size: str) -> None:
    benchmark.group = f"verify standard webhooks {size}"
    benchmark.extra_info["subject"] = True  # hookcore's side of the group
    body, now = BODIES[size], int(time.time())  # signed now: load runs go first
    headers = list(_sw_headers(body, now).items())
    assert benchmark(_core.verify_signature, SW_SPEC, [SW_SECRET], headers, body, now) is None


@SIZES
def test_standard_webhooks_python(benchmark: Any, size: str) -> None:
    benchmark.group = f"verify standard webhooks {size}"
    body, now = BODIES[size], int(time.time())  # signed now: load runs go first
    headers = _sw_headers(body, now)
    webhook = standardwebhooks.Webhook(SW_SECRET)
    assert benchmark(webhook.verify, body, headers, json_parse=False) is None


@SIZES
def test_stripe_rust(benchmark: Any, size: str) -> None:
    benchmark.group = f"verify stripe {size}"
    benchmark.extra_info["subject"] = True  # hookcore's side of the group
    body, now = BODIES[size], int(time.time())  # signed now: load runs go first
    headers = [("stripe-signature", _stripe_header(body, now))]
    assert benchmark(_core.verify_signature, STRIPE_SPEC, [STRIPE_SECRET], headers, body, now) is None


@SIZES
def test_stripe_python(benchmark: Any, size: str) -> None:
    benchmark.group = f"verify stripe {size}"
    body, now = BODIES[size], int(time.time())  # signed now: load runs go first
    header = _stripe_header(body, now)
    verify = stripe.WebhookSignature.verify_header
    assert benchmark(verify, body, header, STRIPE_SECRET, 300)


@SIZES
def test_slack_rust(benchmark: Any, size: str) -> None:
    benchmark.group = f"verify slack {size}"
    benchmark.extra_info["subject"] = True  # hookcore's side of the group
    body, now = BODIES[size], int(time.time())  # signed now: load runs go first
    headers = list(_slack_headers(body, now).items())
    assert benchmark(_core.verify_signature, SLACK_SPEC, [SLACK_SECRET], headers, body, now) is None


@SIZES
def test_slack_python(benchmark: Any, size: str) -> None:
    benchmark.group = f"verify slack {size}"
    body, now = BODIES[size], int(time.time())  # signed now: load runs go first
    headers = _slack_headers(body, now)
    verifier = SignatureVerifier(SLACK_SECRET)
    ts, signature = headers["x-slack-request-timestamp"], headers["x-slack-signature"]
    assert benchmark(verifier.is_valid, body, ts, signature)


# The floor: OpenSSL's HMAC alone on the already-joined signed bytes (no
# header parsing, no comparison), which every verifier above, the providers'
# and ours, has to compute. It bounds how much faster any check can be.

FLOOR = {
    "standard webhooks": lambda body: (
        base64.b64decode(SW_SECRET.removeprefix("whsec_")),
        f"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W.{NOW}.".encode() + body,
    ),
    "stripe": lambda body: (STRIPE_SECRET.encode(), f"{NOW}.".encode() + body),
    "slack": lambda body: (SLACK_SECRET.encode(), f"v0:{NOW}:".encode() + body),
}


@SIZES
@pytest.mark.parametrize("scheme", list(FLOOR))
def test_openssl_hmac_only(benchmark: Any, scheme: str, size: str) -> None:
    benchmark.group = f"verify {scheme} {size}"
    key, signed = FLOOR[scheme](BODIES[size])
    assert len(benchmark(hmac.digest, key, signed, "sha256")) == 32
