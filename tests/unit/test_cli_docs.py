"""Every `hookcore …` command in the README's and docs' shell blocks is one the CLI accepts
(also in blocks the docs check does not run)."""

from __future__ import annotations

import contextlib
import io
import re
import shlex

import pytest

from docs_blocks import BLOCKS
from hookcore.cli import build_parser


def _commands() -> list[tuple[str, str]]:
    found = []
    for block in BLOCKS:  # run or not (tests/unit/test_docs_blocks.py runs those that can)
        if block.lang != "sh":
            continue
        for line in block.code.replace("\\\n", " ").splitlines():
            command = line.split(" #", 1)[0].strip()
            command = re.sub(r"^(\w+=\S+ )+", "", command)  # VAR=value before the command
            command = re.sub(r"^\S*/(?=hookcore )", "", command)  # /opt/hookcore/bin/hookcore
            if command.startswith("hookcore "):
                found.append((block.where, command))
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
    with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
        try:
            build_parser().parse_args(argv)
        except SystemExit as e:  # 0: --version, --help
            if e.code:
                pytest.fail(f"{doc}: `{command}` is refused: {errors.getvalue()}")
