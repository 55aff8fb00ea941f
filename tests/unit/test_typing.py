"""Type checks: the package passes mypy, and the `_core.pyi` stub matches the compiled module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "hookcore"


def _mypy(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_type_checks() -> None:
    _mypy("mypy", "--cache-dir", os.devnull, str(PACKAGE))


def test_stub_matches_the_rust_module() -> None:
    _mypy("mypy.stubtest", "hookcore._core")
