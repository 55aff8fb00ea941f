"""Saved benchmark runs: pytest-benchmark's JSON under benches/.results, and the committed one.

``make bench`` saves each run there (``--benchmark-autosave``, numbered
``0001_…json`` per machine); ``benches/results.json`` is the run that
benches/RESULTS.md shows, committed so that a fresh clone has something to
compare with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BENCHES = Path(__file__).resolve().parent
STORAGE = BENCHES / ".results"
COMMITTED = BENCHES / "results.json"


def runs() -> list[Path]:
    """Saved runs, oldest first (by the time each was written)."""
    return sorted(STORAGE.glob("*/*.json"), key=lambda p: p.stat().st_mtime)


def resolve(ref: str) -> Path:
    """A saved run: a path, ``latest``, ``previous`` (the one before it), ``committed``, or a
    run number or name prefix such as ``0003``."""
    saved = runs()
    if ref == "committed":
        if not COMMITTED.is_file():
            raise SystemExit(f"no {COMMITTED} yet: `make bench` writes it (commit it with RESULTS.md)")
        return COMMITTED
    if ref in ("latest", "previous"):
        wanted = 1 if ref == "latest" else 2
        if len(saved) < wanted:
            raise SystemExit(f"no {ref} run in {STORAGE} ({len(saved)} saved); run `make bench`")
        return saved[-wanted]
    path = Path(ref)
    if path.is_file():
        return path
    matches = [p for p in saved if p.name.startswith(ref)]
    if len(matches) != 1:
        names = ", ".join(p.name for p in saved) or "none"
        raise SystemExit(f"{ref!r} names {len(matches)} saved runs (saved: {names})")
    return matches[0]


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def ratios(run: dict[str, Any]) -> dict[tuple[str, str], float]:
    """(bench fullname, ratio name) -> ratio, for every ratio the run saved (higher is better)."""
    return {
        (bench["fullname"], name): value
        for bench in run["benchmarks"]
        for name, value in bench["extra_info"].get("ratios", {}).items()
    }
