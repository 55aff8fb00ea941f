from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from hookcore.embedded import EmbeddedNats
from support import Hookcore, running_hookcore, running_nats

settings.register_profile("fast", max_examples=100, deadline=None)
settings.register_profile("slow", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


@pytest.fixture(scope="module")
def nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    """A real nats-server with JetStream on a free loopback port, one per test module."""
    with running_nats(tmp_path_factory.mktemp("nats")) as server:
        yield server


@pytest.fixture(scope="module")
def hookcore(nats: EmbeddedNats, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hookcore]:
    """`hookcore serve` + one `hookcore worker` against the module's nats-server."""
    markers = tmp_path_factory.mktemp("markers")
    with running_hookcore(
        nats, tmp_path_factory.mktemp("logs"), env={"HOOKCORE_TEST_MARKER_DIR": str(markers)}
    ) as hc:
        hc.markers = markers
        yield hc


@pytest.fixture(scope="module")
def instance(hookcore: Hookcore) -> dict:
    return hookcore.deploy("acme", {"region": "eu"})


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path
