"""Values too large for one message (bodies, results) in the object store, on a real nats-server:
hookcore's writer (every chunk in flight, `hookcore.objects.put_object`) and reader (chunks joined
once, `get_object`) against nats-py's `ObjectStore.put`/`get` (one chunk at a time, each awaited;
the read appends each chunk to a growing bytes). Times are per value, on one event loop; the
nats-server is this module's own (JetStream on disk)."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from hookcore.config import Settings
from hookcore.embedded import EmbeddedNats
from hookcore.jetstream import JetStream, connect
from hookcore.objects import get_object, put_object
from hookcore.publisher import Publisher

MIB = 1024 * 1024
SIZES = {"1MB": MIB, "10MB": 10 * MIB}


class Store:
    """One connection of each kind to the module's nats-server, and a loop to run them on."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        settings = Settings.load(nats_url=url)
        self.jet: JetStream = self.run(connect(settings, name="bench"))
        self.publisher = Publisher(url, 30.0, "bench-publisher")
        self.run(self.publisher.start())
        self._names = itertools.count()

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(coroutine)

    def name(self) -> str:
        return f"bench.{next(self._names)}"

    def close(self) -> None:
        self.run(self.publisher.stop())
        self.run(self.jet.close())
        self.loop.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    nats = EmbeddedNats(Path(tmp_path_factory.mktemp("objects-nats")))
    nats.start()
    try:
        store = Store(nats.url)
        try:
            yield store
        finally:
            store.close()
    finally:
        nats.stop()


def _bench(benchmark: Any, store: Store, call: Callable[[], Coroutine[Any, Any, Any]]) -> None:
    benchmark.pedantic(lambda: store.run(call()), rounds=5, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_put_hookcore(benchmark: Any, store: Store, size: int) -> None:
    benchmark.group = f"object store put {size // MIB} MB"
    benchmark.extra_info["subject"] = True
    data = os.urandom(size)
    _bench(benchmark, store, lambda: put_object(store.jet, store.publisher, store.name(), data))


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_put_nats_py(benchmark: Any, store: Store, size: int) -> None:
    benchmark.group = f"object store put {size // MIB} MB"
    data = os.urandom(size)
    _bench(benchmark, store, lambda: store.jet.objects.put(store.name(), data))


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_get_hookcore(benchmark: Any, store: Store, size: int) -> None:
    benchmark.group = f"object store get {size // MIB} MB"
    benchmark.extra_info["subject"] = True
    name = store.name()
    store.run(put_object(store.jet, store.publisher, name, os.urandom(size)))
    _bench(benchmark, store, lambda: get_object(store.jet, name))


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_get_nats_py(benchmark: Any, store: Store, size: int) -> None:
    benchmark.group = f"object store get {size // MIB} MB"
    name = store.name()
    store.run(store.jet.objects.put(name, os.urandom(size)))
    _bench(benchmark, store, lambda: store.jet.objects.get(name))
