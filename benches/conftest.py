"""Benches: micro benches (each Rust function beside its pure-Python baseline) and load runs.

    make bench                      # everything, saved to benches/.results, RESULTS.md regenerated
    pytest benches --benchmark-disable   # every bench once, load runs short (what `make test` does)

The saved JSON carries, beyond pytest-benchmark's machine and commit info, the
versions that matter, the CPU pinning and the command; each group's ratios
(higher is better for hookcore) are in ``extra_info["ratios"]``: load runs
set them, micro benches get them here from the minimum times (see
``pytest_benchmark_update_json``).
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
from dataclasses import replace
from importlib import metadata
from typing import Any

import pytest

from benches.load import pinning
from benches.load.runs import Settings
from hookcore.embedded import nats_server_binary

# pytest-benchmark sizes its rounds from the first call. A cold first call
# (imports, caches) takes longer than the 5 µs target round, so rounds of a
# sub-microsecond function would be one call each and include the ~0.1 µs of
# reading the clock twice. Warmed up first, rounds are sized on warm calls.
WARMUP = pytest.mark.benchmark(warmup=True, warmup_iterations=1000)
LOAD_MODULE = "test_load.py"
PACKAGES = [
    "hookcore",
    "granian",
    "nats-py",
    "msgspec",
    "uvloop",
    "pytest-benchmark",
    "fastapi",
    "uvicorn",
    "httptools",
    "python-multipart",
    "standardwebhooks",
    "stripe",
    "slack_sdk",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hookcore load runs (ignored under --benchmark-disable: short runs)")
    defaults = Settings()
    group.addoption("--load-duration", type=float, default=defaults.duration, help="seconds per measured run")
    group.addoption("--load-warmup", type=float, default=defaults.warmup, help="seconds of warm-up per run")
    group.addoption("--load-rounds", type=int, default=defaults.rounds, help="alternating rounds per target")
    group.addoption("--load-connections", type=int, default=defaults.connections, help="wrk connections")
    group.addoption(
        "--load-customers", type=int, default=defaults.customers, help="shared endpoint customers"
    )
    e2e = defaults.e2e_duration
    group.addoption("--load-e2e-duration", type=float, default=e2e, help="seconds of requests per e2e round")


@pytest.fixture(scope="session")
def load_settings(pytestconfig: pytest.Config) -> Settings:
    if pytestconfig.getoption("benchmark_disable"):
        return Settings.short()
    option = pytestconfig.getoption
    return replace(
        Settings(),
        duration=option("load_duration"),
        warmup=option("load_warmup"),
        rounds=option("load_rounds"),
        connections=option("load_connections"),
        customers=option("load_customers"),
        e2e_duration=option("load_e2e_duration"),
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name != LOAD_MODULE:
            item.add_marker(WARMUP)


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    machine_info["command"] = " ".join(["pytest", *config.invocation_params.args])
    machine_info["cpu_count"] = os.cpu_count()
    machine_info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    machine_info["versions"] = {
        **{name: _version(name) for name in PACKAGES},
        "nats-server": _tool([str(nats_server_binary()), "--version"]),
        "wrk": (_tool(["wrk", "--version"]) or "").split(" Copyright")[0] or None,
        "rustc": _tool(["rustc", "--version"]),
        "openssl (Python's ssl)": ssl.OPENSSL_VERSION,
    }
    machine_info.update(pinning.describe())


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
    """Micro benches: the group's subject (hookcore's function, ``extra_info["subject"]``) gets the
    ratio of every other member's minimum time to its own (how many times faster hookcore is).

    The minimum, not the median: on the shared machine a neighbour's load moves a median by
    2x between runs, while the minimum (the call undisturbed) stays within a few percent."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for bench in output_json["benchmarks"]:
        groups.setdefault(bench["group"], []).append(bench)
    for members in groups.values():
        if any("rows" in b["extra_info"] for b in members):
            continue  # a load run: its ratios come with it
        subjects = [b for b in members if b["extra_info"].get("subject")]
        if len(subjects) != 1:
            continue
        subject = subjects[0]
        subject["extra_info"]["ratios"] = {
            f"{other['name']} / {subject['name']}": other["stats"]["min"] / subject["stats"]["min"]
            for other in members
            if other is not subject
        }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _tool(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None:
        return None
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).splitlines()[0].strip() if (done.stdout or done.stderr) else None
