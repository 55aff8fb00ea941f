"""Instance and flow state kept in JetStream KV, updated with compare-and-set.

``await ctx.flow_state.update(lambda count: (count or 0) + 1)`` never loses a
write, however many executions run it at once: a conflicting update is
retried on the new value. The keys are `hookcore.catalog`'s (``instance_state_key``,
``flow_state_key``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

_encode = msgspec.json.encode
_decode = msgspec.json.decode

MAX_ATTEMPTS = 1000


class State:
    """One persisted JSON value. Async methods for flows; ``*_sync`` for plain ``def`` flows."""

    def __init__(self, kv: KeyValue, key: str, loop: asyncio.AbstractEventLoop) -> None:
        self._kv = kv
        self._key = key
        self._loop = loop

    async def get(self) -> Any:
        """The current value (None when never set)."""
        return (await self._read())[0]

    async def set(self, value: Any) -> None:
        """Replace the value unconditionally."""
        await self._kv.put(self._key, _encode(value))

    async def update(self, fn: Callable[[Any], Any]) -> Any:
        """Set the value to ``fn(current)`` atomically; returns the new value."""
        for _ in range(MAX_ATTEMPTS):
            current, revision = await self._read()
            new = fn(current)
            try:
                if revision is None:
                    await self._kv.create(self._key, _encode(new))
                else:
                    await self._kv.update(self._key, _encode(new), last=revision)
            except KeyWrongLastSequenceError:
                continue  # another execution wrote first: retry on its value
            except Exception as e:  # nats-py reports a lost create race as an API error
                if "wrong last sequence" in str(e).lower():
                    continue
                raise
            return new
        raise RuntimeError(f"state {self._key} changed {MAX_ATTEMPTS} times during one update")

    def get_sync(self) -> Any:
        return self._run(self.get())

    def set_sync(self, value: Any) -> None:
        self._run(self.set(value))

    def update_sync(self, fn: Callable[[Any], Any]) -> Any:
        return self._run(self.update(fn))

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _read(self) -> tuple[Any, int | None]:
        try:
            entry = await self._kv.get(self._key)
        except KeyNotFoundError:
            return None, None
        if entry.value is None or entry.operation in ("DEL", "PURGE"):
            return None, entry.revision
        return _decode(entry.value), entry.revision
