"""The code blocks of README.md and docs/*.md run as written (tests/docs_blocks.py: how a
block that cannot run here is marked); the ones that need a live server run in
tests/integration/test_docs_on_a_server.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from docs_blocks import BLOCKS, DOCS, LANGUAGES, MODES, RUNNABLE, Block, run_block

RUN = [b for b in BLOCKS if b.lang in RUNNABLE and b.mode == "run"]
JSON = [b for b in BLOCKS if b.lang == "json"]


def test_every_block_says_what_it_is() -> None:
    wrong = [f"{b.where}: ```{b.lang}" for b in BLOCKS if b.lang not in LANGUAGES]
    assert not wrong, f"fences must name one of {LANGUAGES} (text: what is not code): {wrong}"
    wrong = [f"{b.where}: {b.mode}" for b in BLOCKS if b.mode not in MODES]
    assert not wrong, f"unknown docs-check annotations (one of {MODES[1:]}): {wrong}"
    wrong = [b.where for b in BLOCKS if b.mode in ("skip", "signed") and not b.arg]
    assert not wrong, f"`skip` needs a reason, `signed` a scheme: {wrong}"
    wrong = [b.where for b in BLOCKS if b.mode != "run" and b.lang not in RUNNABLE]
    assert not wrong, f"docs-check annotations on blocks that never run: {wrong}"


def test_every_fence_is_found() -> None:
    fences = sum(
        1 for doc in DOCS for line in doc.read_text().splitlines() if line.lstrip().startswith("```")
    )
    assert fences == 2 * len(BLOCKS), (
        "a fence the extraction missed (unclosed, or indented unlike its opening)"
    )
    assert RUN, "no block runs"


@pytest.mark.parametrize("block", RUN, ids=[b.where for b in RUN])
def test_block_runs(block: Block, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKCORE_")}
    run_block(block, tmp_path, env)


@pytest.mark.parametrize("block", JSON, ids=[b.where for b in JSON])
def test_json_block_parses(block: Block) -> None:
    json.loads(block.code)
