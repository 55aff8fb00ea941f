"""Every `hookcore …` command in the README's and docs' shell blocks is one the CLI accepts."""

from __future__ import annotations

import contextlib
import io
import re
import shlex

import pytest

from hookcore.cli import build_parser
from support import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _commands() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for block in SHELL_BLOCK.findall(doc.read_text()):
            for line in block.replace("\\\n", " ").splitlines():
                command = line.split(" #", 1)[0].strip()
                command = re.sub(r"^(\w+=\S+ )+", "", command)  # VAR=value before the command
                if command.startswith("hookcore "):
                    found.append((doc.name, command))
    return found


COMMANDS = _commands()


def test_the_docs_show_the_cli() -> None:
    verbs = {shlex.split(c)[1] for _, c in COMMANDS}
    assert {"up", "serve", "worker", "deploy", "instances", "executions"} <= verbs, verbs


@pytest.mark.parametrize(("doc", "command"), COMMANDS, ids=[f"{d}: {c}" for d, c in COMMANDS])
def test_documented_command_parses(doc: str, command: str) -> None:
    # <placeholders> stand for values the reader fills in
    argv = shlex.split(re.sub(r"<[^>]+>", "VALUE", command))[1:]
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        try:
            build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"{doc}: `{command}` is refused: {errors.getvalue()}")
