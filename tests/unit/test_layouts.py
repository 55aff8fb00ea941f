"""Each storage layout has one owner (docs/architecture.md, "Storage layouts"): no other module of
the package names a stream, a bucket, a consumer, a ``$KV.``/``$O.`` subject, a hookcore subject
prefix or a catalog key prefix, whether in a string or by using the owner's constant. Two
modules need every layout's names and may use the owners' constants (never literals):
`hookcore.jetstream`, which creates the streams and buckets, and `hookcore.nats_roles`, which grants
their subjects.

The source is read with `ast`: docstrings and logger names (``hookcore.index`` is a module
too) are not storage."""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass
from pathlib import Path

from hookcore import catalog
from support import ROOT

PACKAGE = ROOT / "python" / "hookcore"
OWNERS = (
    "hookcore.records",
    "hookcore.catalog",
    "hookcore.index",
    "hookcore.objects",
    "hookcore.queue",
    "hookcore.jetstream",
)
"""records: records and results buckets; catalog: config, state, nodes and deliveries buckets;
index: the executions index stream; objects: the object store; queue: the executions stream and
its work queues (consumers); jetstream: JetStream's API as a whole."""
USERS_OF_EVERY_LAYOUT = ("hookcore.jetstream", "hookcore.nats_roles")
NAMING = re.compile(r"_(BUCKET|STREAM|SUBJECT_PREFIX|CONSUMER)$")
NATS_PREFIXES = ("$KV.", "$O.")

PENDING = {
    "hookcore.ingress": {"EXECUTIONS_SUBJECT_PREFIX"},
}
"""The executions stream's names used outside `hookcore.queue`: the ingress hands the subject
prefix to the Rust core, which builds the hot path's subjects (rust/shards.rs, kept in step with
`queue.execution_subject`). Exactly these, no new ones."""


@dataclass(frozen=True)
class Layouts:
    constants: dict[str, str]
    """Layout constant -> the owner defining it."""
    literals: dict[str, str]
    """Stream, bucket, consumer name or subject prefix -> its owner."""


def layouts() -> Layouts:
    constants: dict[str, str] = {}
    literals: dict[str, str] = {}
    defined = {owner: _defined(owner) for owner in OWNERS}
    for owner, values in defined.items():
        for name, value in values.items():
            if NAMING.search(name) and isinstance(value, str):
                constants[name] = owner
                literals[value] = owner
                if name.endswith("_BUCKET"):
                    literals[f"KV_{value}"] = owner  # a KV bucket's stream
    for owner, values in defined.items():  # built from those: ``INDEX_ENTRIES``, ``JETSTREAM_API``
        for name, value in values.items():
            texts = [v for v in (value if isinstance(value, tuple) else (value,)) if isinstance(v, str)]
            if name.isupper() and any(_names(t, literals) or t.startswith(NATS_PREFIXES) for t in texts):
                constants.setdefault(name, owner)
    return Layouts(constants, literals)


def _defined(owner: str) -> dict[str, object]:
    """The constants ``owner`` defines itself (not those it imports) and their values."""
    module = importlib.import_module(owner)
    tree = ast.parse(Path(module.__file__ or "").read_text())
    names = [
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    ]
    return {name: getattr(module, name) for name in names}


def _names(text: str, literals: dict[str, str]) -> list[str]:
    """The layout names ``text`` holds, each as a whole (``hookcore.index`` in
    ``hookcore.index.>``, not in ``hookcore.indexes``)."""
    return [
        literal
        for literal in literals
        if re.search(rf"(?<![\w-]){re.escape(literal)}(?![\w-])", text) is not None
    ]


def violations(module: str, source: str, found: Layouts) -> list[str]:
    """What ``module`` (source ``source``) says of layouts it does not own."""
    tree = ast.parse(source)
    skipped = _docstrings(tree) | _logger_names(tree)
    may_use = set(found.constants) if module in USERS_OF_EVERY_LAYOUT else set()
    may_use |= PENDING.get(module, set())
    wrong: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped:
            text = node.value
            for literal in _names(text, found.literals):
                if found.literals[literal] != module:
                    wrong.append(f"{module}:{node.lineno}: {literal!r} in {text!r}")
            if module not in OWNERS and any(p in text for p in NATS_PREFIXES):
                wrong.append(f"{module}:{node.lineno}: a $KV./$O. subject in {text!r}")
            if module != "hookcore.catalog" and text.startswith(catalog.KEY_PREFIXES):
                wrong.append(f"{module}:{node.lineno}: a catalog key in {text!r}")
        names: list[str] = []
        if isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names]
        for name in names:
            owner = found.constants.get(name)
            if owner is not None and owner != module and name not in may_use:
                wrong.append(f"{module}:{node.lineno}: {name} (owned by {owner})")
    return wrong


def _docstrings(tree: ast.Module) -> set[int]:
    """Strings that are statements: docstrings of modules, classes, functions and attributes."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }


def _logger_names(tree: ast.Module) -> set[int]:
    return {
        id(node.args[0])
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "getLogger"
        and node.args
    }


def _modules() -> dict[str, str]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path.read_text()
    return found


def test_only_owners_name_storage_layouts() -> None:
    found = layouts()
    wrong = [v for module, source in _modules().items() for v in violations(module, source, found)]
    assert wrong == [], "\n".join(wrong)


def test_every_pending_use_is_still_there() -> None:
    """A use of the executions stream's names moved to its owner leaves `PENDING` too."""
    for module, names in PENDING.items():
        source = _modules()[module]
        used = {
            n.id if isinstance(n, ast.Name) else n.attr
            for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Name | ast.Attribute)
        }
        assert names <= used, f"{module} no longer uses {sorted(names - used)}: drop them from PENDING"


def test_the_owners_are_found() -> None:
    found = layouts()
    assert found.constants["RECORDS_BUCKET"] == "hookcore.records"
    assert found.constants["CONFIG_BUCKET"] == "hookcore.catalog"
    assert found.constants["INDEX_ENTRIES"] == "hookcore.index"
    assert found.constants["OBJECTS_STREAM"] == "hookcore.objects"
    assert found.constants["JETSTREAM_API"] == "hookcore.jetstream"
    assert found.literals["hookcore.index"] == "hookcore.index"
    assert found.literals["hookcore_deliveries"] == "hookcore.catalog"


def test_a_module_naming_another_owners_layout_is_caught() -> None:
    found = layouts()
    source = '''
"""Reads hookcore_records (a docstring: not storage)."""
import logging
from hookcore.records import RECORDS_BUCKET
from hookcore import index

log = logging.getLogger("hookcore.index")
subject = f"$KV.hookcore_config.{key}"
stream = index.INDEX_STREAM
state = f"flow.{instance}.{flow}"
prefix = "hookcore.executions"
harmless = "hookcore.indexes and HOOKCORE_INDEX_BYTES"
stream_of_a_bucket = "KV_hookcore_state"
'''
    wrong = violations("hookcore.somewhere", source, found)
    assert sorted(w.split(": ", 1)[1] for w in wrong) == sorted(
        [
            "RECORDS_BUCKET (owned by hookcore.records)",
            "'hookcore_config' in '$KV.hookcore_config.'",
            "a $KV./$O. subject in '$KV.hookcore_config.'",
            "INDEX_STREAM (owned by hookcore.index)",
            "a catalog key in 'flow.'",
            "'hookcore.executions' in 'hookcore.executions'",
            "'KV_hookcore_state' in 'KV_hookcore_state'",
        ]
    )
    assert violations("hookcore.jetstream", "from hookcore.records import RECORDS_BUCKET\n", found) == []
    assert violations("hookcore.jetstream", 'name = "hookcore_records"\n', found) != []
