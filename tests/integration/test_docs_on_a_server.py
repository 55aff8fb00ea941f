"""The docs' blocks that need a live hookcore run against one (tests/docs_blocks.py): the
signing recipes of docs/verification.md must get their request accepted and executed, and
the `/api` calls must be answered 2xx. The server loads tests/apps/docs_app.py: an
integration per signature scheme, and docs/verification.md's ``acme-github``."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

import pytest

from docs_blocks import BLOCKS, Block, run_block
from support import ADMIN_TOKEN, Hookcore

SIGNED = [b for b in BLOCKS if b.mode == "signed"]
SERVER = [b for b in BLOCKS if b.mode == "server"]
DOCS_ADDRESS = "http://127.0.0.1:8080"  # where the docs' commands expect `hookcore up`


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The tests' environment without HOOKCORE_* settings, and a `curl` that fails on an
    HTTP error (the docs' curl lines print the answer and exit 0 whatever it is)."""
    shims = tmp_path / "shims"
    shims.mkdir()
    curl = shims / "curl"
    curl.write_text(f'#!/bin/sh\nexec {shutil.which("curl")} --fail-with-body --silent --show-error "$@"\n')
    curl.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKCORE_")}
    return {**env, **extra, "PATH": f"{shims}{os.pathsep}{env['PATH']}"}


def test_the_docs_have_blocks_for_a_server() -> None:
    assert {b.arg.split()[0] for b in SIGNED} >= {"standard_webhooks", "github", "stripe", "slack", "shopify"}
    assert SERVER


@pytest.mark.parametrize("block", SIGNED, ids=[b.where for b in SIGNED])
def test_signed_block_is_accepted(block: Block, hookcore: Hookcore, tmp_path: Path) -> None:
    scheme, _, secret = block.arg.partition(" ")
    secret = secret or f"docs-secret-{block.line}"  # the block's own, when it writes one in
    customer = f"docs-{block.doc.stem}-{block.line}"
    instance = hookcore.deploy(customer, {"secret": secret}, integration=f"docs-{scheme}")
    url = instance["webhookUrls"]["Receive"]
    prelude = f"url = {url!r}\n" if block.lang == "python" else ""
    run_block(block, tmp_path, _env(tmp_path, URL=url, SECRET=secret), prelude)

    deadline = time.monotonic() + 60
    while not (items := hookcore.admin.get("/api/executions", params={"customer": customer}).json()["items"]):
        assert time.monotonic() < deadline, f"{block.where}: no execution of its request"
        time.sleep(0.1)
    assert len(items) == 1, items
    assert hookcore.wait_final(items[0]["id"])["status"] == "succeeded"


@pytest.mark.parametrize("block", SERVER, ids=[b.where for b in SERVER])
def test_server_block_is_answered(block: Block, hookcore: Hookcore, tmp_path: Path) -> None:
    here = dataclasses.replace(block, code=block.code.replace(DOCS_ADDRESS, hookcore.base))
    env = _env(tmp_path, HOOKCORE_URL=hookcore.base, HOOKCORE_ADMIN_TOKEN=ADMIN_TOKEN, TOKEN=ADMIN_TOKEN)
    run_block(here, tmp_path, env)
