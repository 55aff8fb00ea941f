"""What the docs' signed and server blocks send to (tests/integration/test_docs_on_a_server.py):
one integration per signature scheme, named ``docs-<scheme>``, whose instances keep the
signing secret in config value ``secret``; and docs/verification.md's ``acme-github``."""

from __future__ import annotations

from typing import Any

from hookcore import Integration, verify

SECRET_KEY = "secret"


def _signed(scheme: str, verifier: verify.Verifier) -> Integration:
    integration = Integration(f"docs-{scheme}", verify=verifier)

    @integration.flow("Receive")
    async def receive(ctx: Any, payload: Any) -> Any:
        return payload.body.data

    return integration


standard_webhooks = _signed("standard_webhooks", verify.standard_webhooks(secret=SECRET_KEY))
github = _signed("github", verify.github(secret=SECRET_KEY))
stripe = _signed("stripe", verify.stripe(secret=SECRET_KEY))
slack = _signed("slack", verify.slack(secret=SECRET_KEY))
shopify = _signed("shopify", verify.shopify(secret=SECRET_KEY))

acme_github = Integration("acme-github", verify=verify.github(secret="github_secret"))


@acme_github.flow("Push")
async def push(ctx: Any, payload: Any) -> Any:
    return payload.body.data
