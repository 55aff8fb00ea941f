"""`Later`: a coroutine started some time from now unless cancelled first.

The worker defers two things per run that most runs never need: the record that says an
execution is running (`store.RecordWriter.put_later`) and the heartbeats that keep a long
delivery from being redelivered. Until its moment a `Later` is only a timer; the task is made
when the moment comes, so work that ends first never pays for one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Later(Generic[T]):
    """``start()`` run as a task ``delay`` seconds from now, unless `cancel` comes first."""

    def __init__(self, delay: float, start: Callable[[], Coroutine[Any, Any, T]]) -> None:
        self._task: asyncio.Task[T] | None = None
        self._timer = asyncio.get_running_loop().call_later(delay, self._begin, start)

    def _begin(self, start: Callable[[], Coroutine[Any, Any, T]]) -> None:
        self._task = asyncio.ensure_future(start())

    @property
    def task(self) -> asyncio.Task[T] | None:
        """The task, once its moment has come (None before: it may never come)."""
        return self._task

    def cancel(self) -> None:
        """Stop the timer, and the task when it has begun."""
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
