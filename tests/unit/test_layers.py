"""The package's layers: import-linter's contracts (pyproject.toml) hold, and no module
imports one that imports it back, however indirectly, function-level imports included
(imports under ``if TYPE_CHECKING:`` do not run, so they do not count)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import grimp

from support import ROOT


def test_the_import_contracts_hold() -> None:
    tool = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(tool), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_no_import_cycle_between_modules() -> None:
    graph = grimp.build_graph("hookcore", cache_dir=None, exclude_type_checking_imports=True)
    # The package itself is the public façade that re-exports the modules, and
    # `from hookcore import _core` names the compiled module, which grimp sees as the package.
    modules = {m for m in graph.modules if m != "hookcore"}
    edges = {m: {w for w in graph.find_modules_directly_imported_by(m) if w in modules} for m in modules}
    cycles = _cycles(edges)
    assert cycles == [], f"import cycles: {cycles}"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_architecture_page_names_every_module_once() -> None:
    section = (ROOT / "docs" / "architecture.md").read_text().split("\n## Modules\n", 1)[1]
    table = [line for line in section.splitlines() if line.startswith("| `")]
    named = [name for line in table for name in re.findall(r"`([a-z_]+/?)`", line.split("|")[1])]
    package = ROOT / "python" / "hookcore"
    modules = sorted(
        [p.stem for p in package.glob("*.py") if p.stem != "__main__"]
        + [f"{p.name}/" for p in package.iterdir() if (p / "__init__.py").exists()]
    )
    assert sorted(named) == modules
