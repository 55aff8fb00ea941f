from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from hookcore.embedded import EmbeddedNats
from support import RUN_MARKER, Hookcore, processes_of_this_run, running_hookcore, running_nats

settings.register_profile("fast", max_examples=100, deadline=None)
settings.register_profile("slow", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A skipped test is a failure: a test that cannot run (a tool missing, e.g. openssl
    or curl, which `make test` installs) must not look like one that passed. Only a test
    marked ``may_skip`` (a case the machine cannot set up, e.g. root only) may skip."""
    report = yield
    allowed = item.get_closest_marker("may_skip") is not None
    if report.skipped and not hasattr(report, "wasxfail") and not allowed:
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped tests fail in this suite: {reason}"
    return report


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Every process the tests start (servers, workers, nats-server, `hookcore up` and what
    they start in turn) inherits a marker in its environment; none may outlive the run. (The
    rate-limit tables their ingresses make in /dev/shm are checked and removed as each test's
    NATS stops: `Hookcore.stop`, `Up`.)"""
    os.environ[RUN_MARKER] = uuid.uuid4().hex
    yield
    deadline = time.monotonic() + 10  # a process being stopped may still be exiting
    while (left := processes_of_this_run()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left behind by the tests (now killed): {left}"


@pytest.fixture(scope="module")
def nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    """A real nats-server with JetStream on a free loopback port, one per test module."""
    with running_nats(tmp_path_factory.mktemp("nats")) as server:
        yield server


@pytest.fixture(scope="module")
def hookcore(
    nats: EmbeddedNats, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Hookcore]:
    """`hookcore serve` + one `hookcore worker` against the module's nats-server
    (not measured by coverage in a module that sets ``MEASURE_COVERAGE = False``)."""
    markers = tmp_path_factory.mktemp("markers")
    with running_hookcore(
        nats,
        tmp_path_factory.mktemp("logs"),
        env={"HOOKCORE_TEST_MARKER_DIR": str(markers)},
        measure=getattr(request.module, "MEASURE_COVERAGE", True),
    ) as hc:
        hc.markers = markers
        yield hc


@pytest.fixture(scope="module")
def instance(hookcore: Hookcore) -> dict:
    return hookcore.deploy("acme", {"region": "eu"})


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path
