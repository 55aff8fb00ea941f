"""The fenced blocks of README.md and docs/*.md, and how the docs check runs each.

A fence names its language: ``sh`` and ``python`` blocks run, ``json`` blocks must parse,
``text`` is for what is not code (diagrams, synopses, HTTP answers). A runnable block runs as
it is unless the line right above its fence says otherwise:

    <!-- docs-check: skip REASON -->          not run; REASON says why (and what covers it)
    <!-- docs-check: signed SCHEME [SECRET] --> run against a live server with URL (a webhook
                                              URL that verifies SCHEME) and SECRET set; it must
                                              create an execution
    <!-- docs-check: server -->               run against a live server: $HOOKCORE_URL,
                                              $HOOKCORE_ADMIN_TOKEN and $TOKEN set,
                                              http://127.0.0.1:8080 pointing at it

tests/unit/test_docs_blocks.py runs the plain ones, tests/integration/test_docs_on_a_server.py the
ones that need a server.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from support import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNABLE = ("sh", "python")
LANGUAGES = (*RUNNABLE, "json", "text")
MODES = ("run", "skip", "signed", "server")

_FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>\S*)\n(?P<code>.*?)^(?P=indent)```$", re.MULTILINE | re.DOTALL
)
_ANNOTATION = re.compile(r"^ *<!-- docs-check: (?P<mode>\S+)(?: (?P<arg>.*?))? -->$")


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    mode: str  # one of MODES ("run" when not annotated)
    arg: str  # what follows the mode in the annotation

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def _blocks(doc: Path) -> list[Block]:
    text = doc.read_text()
    found = []
    for fence in _FENCE.finditer(text):
        above = text[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1]
        annotation = _ANNOTATION.match(above)
        indent = len(fence["indent"])
        code = "".join(line[indent:] for line in fence["code"].splitlines(keepends=True))
        found.append(
            Block(
                doc=doc,
                line=text.count("\n", 0, fence.start()) + 1,
                lang=fence["lang"],
                code=code,
                mode=annotation["mode"] if annotation else "run",
                arg=(annotation["arg"] or "") if annotation else "",
            )
        )
    return found


BLOCKS = [block for doc in DOCS for block in _blocks(doc)]


def python_session(block: Block) -> str:
    """``block`` after the python blocks of its doc above it that run: a doc's examples build
    on each other (imports and the ``app`` of the first)."""
    earlier = [
        b.code
        for b in BLOCKS
        if b.doc == block.doc and b.lang == "python" and b.line < block.line and b.mode == "run"
    ]
    return "\n".join([*earlier, block.code])


def run_block(block: Block, cwd: Path, env: dict[str, str], prelude: str = "") -> None:
    """Run ``block`` (``prelude`` first) in ``cwd``, from which the checkout's deploy/ and
    examples/ are reachable as from the checkout, with the tests' environment first on PATH;
    fail with its output unless it exits 0."""
    for entry in ("deploy", "examples"):
        if not (cwd / entry).exists():
            (cwd / entry).symlink_to(ROOT / entry)
    env = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"}
    if block.lang == "python":
        command = [sys.executable, "-c", prelude + python_session(block)]
    else:
        command = ["bash", "-e", "-o", "pipefail", "-c", prelude + block.code]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (
        f"{block.where} exited {result.returncode} (mark it `<!-- docs-check: skip REASON -->` "
        f"if it cannot run on one machine):\n{block.code}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
