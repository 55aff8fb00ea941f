"""What flows and lifecycle hooks get as ``ctx``."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, overload

from hookcore.bounds import dropped_lines, truncated
from hookcore.integration import InstanceConfig
from hookcore.state import State
from hookcore.steps import LogLine, StepRecord

if TYPE_CHECKING:
    from hookcore.envelope import Envelope
    from hookcore.payload import InstanceLinks

_logger = logging.getLogger("hookcore.flow")

T = TypeVar("T")


class FlowLog:
    """``ctx.log``: `logging`-style methods whose lines are kept with the execution.

    At most ``max_lines`` are kept, the first and the last halves (a marker line
    counts those dropped between), each cut to ``max_line_bytes``: a flow that
    logs without end neither fills the worker's memory nor makes its record too big.
    """

    def __init__(self, execution_id: str, max_lines: int = 1000, max_line_bytes: int = 16 * 1024) -> None:
        self._execution_id = execution_id
        self._max_line_bytes = max_line_bytes
        self._head: list[LogLine] = []
        self._head_size = max_lines // 2
        self._tail: deque[LogLine] = deque(maxlen=max_lines - self._head_size)
        self._dropped = 0
        self._first_dropped_at: datetime | None = None

    @property
    def lines(self) -> list[LogLine]:
        """The lines kept, in order."""
        if self._first_dropped_at is None:
            return [*self._head, *self._tail]
        marker = LogLine(at=self._first_dropped_at, level="warning", message=dropped_lines(self._dropped))
        return [*self._head, marker, *self._tail]

    def _record(self, level: int, msg: str, args: tuple[Any, ...]) -> None:
        text = truncated(str(msg) % args if args else str(msg), self._max_line_bytes)
        line = LogLine(at=datetime.now(UTC), level=logging.getLevelName(level).lower(), message=text)
        if len(self._head) < self._head_size:
            self._head.append(line)
        else:
            if len(self._tail) == self._tail.maxlen:
                self._dropped += 1
                if self._first_dropped_at is None:
                    self._first_dropped_at = self._tail[0].at
            self._tail.append(line)
        _logger.log(level, "[%s] %s", self._execution_id, text)

    def debug(self, msg: str, *args: Any) -> None:
        self._record(logging.DEBUG, msg, args)

    def info(self, msg: str, *args: Any) -> None:
        self._record(logging.INFO, msg, args)

    def warning(self, msg: str, *args: Any) -> None:
        self._record(logging.WARNING, msg, args)

    def error(self, msg: str, *args: Any) -> None:
        self._record(logging.ERROR, msg, args)


class FlowContext:
    """``ctx`` of a flow run: identity, the instance's configuration and URLs, log and steps."""

    def __init__(
        self,
        *,
        execution_id: str,
        customer: str,
        instance: str,
        flow: str,
        config: InstanceConfig,
        webhook_urls: dict[str, str],
        webhook_api_keys: dict[str, list[str]],
        instance_state: State | None = None,
        flow_state: State | None = None,
        log: FlowLog | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.customer = customer
        self.instance = instance
        self.flow = flow
        self.config = config
        self.webhook_urls = webhook_urls
        self.webhook_api_keys = webhook_api_keys
        self.log = log or FlowLog(execution_id)
        self.steps: list[StepRecord] = []
        self._unawaited: dict[int, tuple[str, Coroutine[Any, Any, Any], Awaitable[Any]]] = {}
        self._instance_state = instance_state
        self._flow_state = flow_state

    @classmethod
    def of(
        cls,
        envelope: Envelope,
        flow: str,
        config: InstanceConfig,
        links: InstanceLinks,
        instance_state: State | None = None,
        flow_state: State | None = None,
        log: FlowLog | None = None,
    ) -> FlowContext:
        """The context of running ``flow`` for the request in ``envelope``."""
        return cls(
            execution_id=envelope.id,
            customer=envelope.customer,
            instance=envelope.instance,
            flow=flow,
            config=config,
            webhook_urls=links.webhook_urls,
            webhook_api_keys=links.webhook_api_keys,
            instance_state=instance_state,
            flow_state=flow_state,
            log=log,
        )

    @property
    def instance_state(self) -> State:
        """The instance's persisted state (compare-and-set ``update``); shared by all its flows."""
        if self._instance_state is None:
            raise RuntimeError("instance_state is available in flows run by a worker, not in the ingress")
        return self._instance_state

    @property
    def flow_state(self) -> State:
        """This flow's persisted state for this instance (compare-and-set ``update``)."""
        if self._flow_state is None:
            raise RuntimeError("flow_state is available in flows run by a worker, not in the ingress")
        return self._flow_state

    @overload
    def step(self, name: str, fn: Callable[..., Awaitable[T]], *args: Any) -> Awaitable[T]: ...
    @overload
    def step(self, name: str, fn: Callable[..., T], *args: Any) -> T: ...
    def step(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` as a named step and record its result and timings.

        A plain function's value is returned (and recorded) at once. An ``async def``
        function (anything returning an awaitable) gives an awaitable instead:
        ``await ctx.step(name, fn)`` runs it and records the value it ends with. A
        step that is never awaited fails the run. Plain ``def`` flows run in a thread,
        without an event loop: they take plain functions only.
        """
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        result = fn(*args)
        if inspect.isawaitable(result):
            return self._awaited_step(str(name), result, started, t0)
        self._record_step(str(name), result, started, t0)
        return result

    def _awaited_step(self, name: str, pending: Awaitable[Any], started: datetime, t0: float) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if inspect.iscoroutine(pending):
                pending.close()
            raise TypeError(
                f"step {name!r} is async, and this flow is a plain def (run in a thread, without an "
                "event loop): pass a plain function, or make the flow async def and "
                f"`await ctx.step({name!r}, ...)`"
            ) from None

        async def run() -> Any:
            del self._unawaited[key]
            value = await pending
            self._record_step(name, value, started, t0)
            return value

        step = run()
        key = id(step)
        self._unawaited[key] = (name, step, pending)
        return step

    def _record_step(self, name: str, result: Any, started: datetime, t0: float) -> None:
        finished = started.fromtimestamp(started.timestamp() + time.perf_counter() - t0, UTC)
        self.steps.append(StepRecord(name=name, result=result, started_at=started, finished_at=finished))

    def check_awaited(self) -> None:
        """`TypeError` naming an async step the flow never awaited (the run fails, an attempt)."""
        if not self._unawaited:
            return
        names = [name for name, _, _ in self._unawaited.values()]
        for _, step, pending in self._unawaited.values():
            step.close()  # no "never awaited" warnings: the error says so
            if inspect.iscoroutine(pending):
                pending.close()
        self._unawaited.clear()
        raise TypeError(
            f"step {names[0]!r} is async and was never awaited: write `await ctx.step({names[0]!r}, ...)`"
        )


class DeployContext:
    """``ctx`` of `on_instance_deploy` / `on_instance_remove`."""

    def __init__(
        self,
        *,
        instance: str,
        customer: str,
        config: InstanceConfig,
        webhook_urls: dict[str, str],
        webhook_api_keys: dict[str, list[str]],
        invoke_url: str | None,
    ) -> None:
        self.instance = instance
        self.customer = customer
        self.config = config
        self.webhook_urls = webhook_urls
        self.webhook_api_keys = webhook_api_keys
        self.invoke_url = invoke_url
        self.log = FlowLog(instance)
