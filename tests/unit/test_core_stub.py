"""The `_core.pyi` stub matches the compiled module (mypy's stubtest)."""

from __future__ import annotations

import subprocess
import sys


def test_stub_matches_the_rust_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "hookcore._core"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
