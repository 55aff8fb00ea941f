"""API keys derived from the server secret: nothing secret is stored in JetStream.

A key is HMAC-SHA256(secret, instance, flow, key id). The instance record
stores the key ids (to derive the keys again for ``webhook_api_keys``) and the
keys' SHA-256 digests (which the Rust router compares in constant time).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from hookcore import _core

KEY_PREFIX = "hk_"


def new_key_id() -> str:
    return secrets.token_hex(8)


def derive_api_key(signing_key: bytes, instance_id: str, flow: str, key_id: str) -> str:
    message = b"\x00".join([b"api-key", instance_id.encode(), flow.encode(), key_id.encode()])
    mac = hmac.new(signing_key, message, hashlib.sha256).digest()
    return KEY_PREFIX + base64.urlsafe_b64encode(mac[:24]).decode()


def api_key_digest(key: str) -> str:
    """What the instance record stores for ``key`` (computed by the same Rust code that checks it)."""
    return _core.api_key_digest(key)


def api_keys(signing_key: bytes, instance_id: str, key_ids: dict[str, list[str]]) -> dict[str, list[str]]:
    """Flow name -> its API keys, oldest first."""
    return {
        flow: [derive_api_key(signing_key, instance_id, flow, key_id) for key_id in ids]
        for flow, ids in key_ids.items()
    }
