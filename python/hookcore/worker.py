"""Workers: pull accepted requests from JetStream, run flows, record results, ack.

Delivery is at least once. A redelivered execution whose record is already
final is acknowledged without running again, so a worker that dies between
writing the record and acking causes no second run. While a flow runs, its
worker tells JetStream so every third of ``ack_wait`` (a failed beat is
retried, never the end of the beats). Record writes name the revision they
follow, so a worker that lost its execution to another cannot write over
what the other recorded (`RecordWriter`). An execution delivered more often
than its flow's attempts plus ``max_redeliveries`` (runs that never reported
back: the worker crashed each time, say) ends ``dead`` without running again;
deliveries handed back because a ``max_concurrency`` was reached do not count
(`hookcore.concurrency`).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from nats.aio.msg import Msg

from hookcore import logs
from hookcore.apps import Apps
from hookcore.bounds import truncated, unstorable
from hookcore.catalog import flow_state_key, instance_state_key
from hookcore.completion import Completion, encode_completion
from hookcore.concurrency import Cap, Slots, Waiting, caps_of
from hookcore.config import Settings
from hookcore.context import FlowContext, FlowLog
from hookcore.envelope import Envelope, decode_envelope
from hookcore.errors import ResultError
from hookcore.instances import instance_links
from hookcore.integration import Flow, Integration
from hookcore.jetstream import JetStream, connect
from hookcore.later import Later
from hookcore.metrics import WorkerMetrics
from hookcore.objects import body_object, get_object
from hookcore.payload_codec import build_payload
from hookcore.publisher import Publisher
from hookcore.queue import WorkQueue, ensure_work_queues, execution_id_of
from hookcore.results import encode_result
from hookcore.scheduling import Scheduler
from hookcore.state import State
from hookcore.store import (
    FINAL_STATUSES,
    ConfigView,
    ExecutionRecord,
    Records,
    RecordWriter,
    queued_record,
)
from hookcore.tracing import Execute
from hookcore.tracing import start as start_tracing
from hookcore.worker_http import WorkerHttp

log = logging.getLogger("hookcore.worker")

QueueSource = Callable[[JetStream, Settings], Awaitable[list[WorkQueue]]]

BACKOFF_BASE = 1.0
BACKOFF_MAX = 60.0
# Attempts of an execution whose flow this worker does not have (it ends failed at once).
DEFAULT_ATTEMPTS = 3
WAITING_PER_RUN = 8
"""Executions a worker holds while their max_concurrency is reached, per run slot; it hands
the others back to JetStream for later."""
WAIT_DELAY_MAX = 30.0
"""Longest delay of an execution handed back because its max_concurrency was reached (the
delay doubles from a second with each hand-back)."""


class Worker:
    """Runs flows for one process; ``concurrency`` executions at a time."""

    def __init__(
        self,
        settings: Settings,
        apps: Apps,
        concurrency: int = 16,
        queues: QueueSource = ensure_work_queues,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.settings = settings
        self.apps = apps
        self.concurrency = concurrency
        self.queues = queues
        """Makes sure the work queues exist and names those to read (benches/load measures the
        shards' cost against one first-come-first-served queue with it)."""
        self._running: set[asyncio.Task[None]] = set()
        self.metrics = WorkerMetrics()
        self._run: Execute = self._execute
        """`_execute`, or `_execute` in a span when tracing (chosen in `run`)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then finish the executions in hand."""
        tracing = start_tracing(self.settings, "hookcore-worker")
        if tracing is not None:
            self._run = tracing.execution(self._execute)
        jet = await connect(self.settings, name="hookcore-worker")
        publisher = Publisher(
            self.settings.nats_url,
            self.settings.publish_timeout,
            "hookcore-worker-publisher",
            auth=self.settings.nats_auth,
        )
        await publisher.start()
        view = ConfigView()
        await view.start(jet.config)
        self._jet, self._view, self._records = jet, view, Records(jet)
        self._writer = RecordWriter(jet, publisher, self.settings.max_record_bytes)
        self._slots = Slots(jet.state, lease=self.settings.ack_wait)
        scheduler = Scheduler(
            jet,
            await self.queues(jet, self.settings),
            lookahead=2 * self.concurrency,
            ack_wait=self.settings.ack_wait,
            weights=self.settings.weights,
        )
        self.metrics.watch_backlogs(scheduler.backlogs)
        self._resumed: set[str] = set()
        """Deliveries (their ack subjects) back from waiting for a slot, which they hold (`_resume`)."""
        self._scheduler = scheduler
        self._waiting = Waiting(
            self._slots,
            self._resume,
            limit=WAITING_PER_RUN * self.concurrency,
            ack_wait=self.settings.ack_wait,
        )
        self.metrics.watch_waiting(self._waiting.__len__)
        retries = asyncio.create_task(self._waiting.run())
        http = WorkerHttp(self.metrics, lambda: jet.nc.is_connected)
        if self.settings.worker_port:
            await http.start(self.settings.worker_host, self.settings.worker_port)
        await scheduler.start()
        log.info("worker ready (concurrency %d)", self.concurrency)
        stopping = asyncio.ensure_future(stop.wait())  # wakes a worker whose every slot is busy
        stopping.add_done_callback(lambda _: scheduler.stop_taking())
        try:
            while not stop.is_set():
                if len(self._running) >= self.concurrency:
                    await asyncio.wait({*self._running, stopping}, return_when=asyncio.FIRST_COMPLETED)
                    continue
                msg = await scheduler.next()
                if msg is None:
                    break
                task = asyncio.create_task(self._handle(msg))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            log.info(
                "worker stopping: fetches no more, finishing the %d executions in hand", len(self._running)
            )
        finally:
            stopping.cancel()
            retries.cancel()
            await self._waiting.close()
            await scheduler.close()
            if self._running:
                await asyncio.wait(self._running)
            await http.stop()
            await view.stop()
            await publisher.stop()
            await jet.close()
            if tracing is not None:
                tracing.shutdown()

    async def _handle(self, msg: Msg) -> None:
        try:
            await self._run(msg)
        except Exception:
            # Not the flow's fault (the flow's own errors are recorded): leave the
            # message unacked so it is redelivered after ack_wait.
            log.exception("could not process message %s; it will be redelivered", msg.subject)

    async def _execute(self, msg: Msg) -> ExecutionRecord:
        """Run one delivery (in a task of its own: what it logs carries the execution's fields);
        the record as this delivery left it."""
        delivered = msg.metadata.num_delivered
        try:
            envelope = decode_envelope(msg.data)
        except Exception as e:  # cannot run: say so rather than have it redelivered forever
            return await self._unreadable(msg, e)
        logs.bind(
            execution_id=envelope.id,
            customer=envelope.customer,
            flow=envelope.flow,
            endpoint=envelope.endpoint,
        )
        # Back from waiting for a slot (this delivery): it may have waited long; read what stands.
        resumed = msg.reply in self._resumed
        self._resumed.discard(msg.reply)
        caps = self._caps(envelope)
        holds = bool(caps)
        """Whether this delivery ends by giving slots back: it took them, or may hold them (resumed,
        or delivered again after its worker died)."""
        try:
            previous, last = (None, 0)
            if delivered > 1 or resumed:
                previous, last = await self._records.find_revision(envelope.id)
            if previous is not None and previous.status in FINAL_STATUSES:
                await self._announce(envelope, previous)  # the first announcement may have been lost
                await msg.ack()
                return previous
            record = previous or queued_record(envelope)
            attempts, slack = self._attempts(envelope), self.settings.max_redeliveries
            deliveries = delivered - record.waits  # those handed back for a max_concurrency were no runs
            if deliveries > attempts + slack:
                self._finish(
                    record,
                    "dead",
                    error=f"gave up after {deliveries - 1} deliveries, the most its flow's {attempts} "
                    f"attempts and max_redeliveries={slack} allow: {record.failures} ended in an error, "
                    "the others never reported back (the worker running it crashed, hung past "
                    f"ack_wait={self.settings.ack_wait:g}s or lost its NATS connection)",
                )
                log.error("execution %s (%s) is dead: %s", record.id, record.flow, record.error)
                await self._conclude(msg, envelope, record, last)
                return record
            if caps:
                # Also when resumed: its lease may have ended while it waited for a run slot, and
                # taking it again renews it (or, when another took the slot meanwhile, waits again).
                full = await self._slots.take(caps, envelope.id)
                if full is not None:
                    holds = False
                    await self._wait(msg, record, last, caps, full)
                    return record
            await self._start(msg, envelope, record, last, deliveries, caps)
            return record
        finally:
            if holds:
                await self._give_back(caps, envelope.id)

    async def _start(
        self,
        msg: Msg,
        envelope: Envelope,
        record: ExecutionRecord,
        last: int,
        deliveries: int,
        caps: tuple[Cap, ...],
    ) -> None:
        """Run the flow, then record how the delivery ended and ack (or nak) it."""
        self.metrics.started(msg.metadata.consumer, envelope.customer)
        record.status = "running"
        # Every delivery that gets here is a run, also those whose worker died before recording it.
        record.attempts = max(record.attempts + 1, deliveries)
        record.started_at = datetime.now(UTC)
        record.error = record.error_type = record.traceback = None
        running_write = self._writer.put_later(record, last, self.settings.running_record_after)
        # The beats' task starts with the first beat, a third of ack_wait in: most runs end before.
        interval = self.settings.ack_wait / 3
        heartbeat = Later(interval, lambda: self._keep_alive(msg, record.id, caps, interval))
        try:
            with self.metrics.run(record):
                await self._run_flow(envelope, record)
        finally:
            heartbeat.cancel()
            try:
                written = await running_write.revision()
            except Exception as e:  # the end of this delivery is written all the same
                log.warning("execution %s: could not record it as running (%s)", record.id, e)
                written = None
        await self._conclude(msg, envelope, record, written)

    def _flow_of(self, envelope: Envelope) -> tuple[Integration | None, Flow | None]:
        """The integration and the flow ``envelope`` names, as this worker has them (None: not here)."""
        app = self.apps.get(envelope.integration)
        return app, app.flows.get(envelope.flow or "") if app else None

    def _caps(self, envelope: Envelope) -> tuple[Cap, ...]:
        app, flow = self._flow_of(envelope)
        return caps_of(app, flow, envelope.customer) if app is not None and flow is not None else ()

    async def _wait(
        self, msg: Msg, record: ExecutionRecord, last: int, caps: tuple[Cap, ...], full: Cap
    ) -> None:
        """Hold an execution whose ``full`` cap has no free slot until one is; when this worker
        holds enough such executions already, hand it back to JetStream for a while instead."""
        if await self._waiting.hold(msg, record.id, caps, full):
            return
        record.waits += 1  # written first: the delivery it causes is not a run
        record.status = "queued"  # also when a worker that died left it "running"
        if await self._writer.put(record, last) is None:
            log.info("execution %s: another delivery wrote its record meanwhile; leaving it", record.id)
            return
        await msg.nak(delay=min(2.0 ** min(record.waits - 1, 5), WAIT_DELAY_MAX))

    def _resume(self, msg: Msg) -> None:
        """Start ``msg`` first: it waited for a slot and holds one now."""
        self._resumed.add(msg.reply)
        self._scheduler.resume(msg)

    async def _give_back(self, caps: tuple[Cap, ...], execution_id: str) -> None:
        try:
            await self._slots.give_back(caps, execution_id)
        except Exception as e:  # its lease ends by itself, ack_wait after its last renewal
            log.warning("execution %s: could not give its max_concurrency slot back (%s)", execution_id, e)
        self._waiting.freed(caps)

    async def _conclude(
        self, msg: Msg, envelope: Envelope, record: ExecutionRecord, last: int | None
    ) -> None:
        """Record how this delivery ended, then ack it (or nak it for a retry)."""
        stands = await self._writer.settle(record, last)
        if stands is not record:
            log.info(
                "execution %s: not recording this delivery's %r, another delivery recorded %r meanwhile",
                record.id,
                record.status,
                stands.status,
            )
            if stands.status in FINAL_STATUSES:
                await msg.ack()
                await self._announce(envelope, stands)
            # else the other delivery, still running, has the execution: leave the message to it
            return
        if record.status == "queued":  # failed, will retry
            await msg.nak(delay=min(BACKOFF_BASE * 2 ** (record.failures - 1), BACKOFF_MAX))
            return
        # Not awaited: an ack lost on its way is a delivery again of a final record, acked then.
        await msg.ack()
        await self._announce(envelope, record)

    async def _unreadable(self, msg: Msg, error: Exception) -> ExecutionRecord:
        """End an execution whose stored request cannot be decoded as ``dead``."""
        execution_id = execution_id_of(msg.subject)
        logs.bind(execution_id=execution_id)
        log.error("execution %s: the stored request cannot be read (%s); it is dead", execution_id, error)
        record = ExecutionRecord(
            id=execution_id,
            status="dead",
            integration="",
            flow="",
            instance="",
            customer="",
            received_at=msg.metadata.timestamp,
            finished_at=datetime.now(UTC),
            error=truncated(
                f"the stored request cannot be read: {error}", self._writer.max_record_bytes // 4
            ),
        )
        await self._writer.settle(record, None)  # reads what stands first (its index entry, say)
        await msg.ack()
        return record

    def _attempts(self, envelope: Envelope) -> int:
        _, flow = self._flow_of(envelope)
        return flow.attempts if flow is not None else DEFAULT_ATTEMPTS

    async def _announce(self, envelope: Envelope, record: ExecutionRecord) -> None:
        """Tell the ingress waiting on a synchronous execution that it ended."""
        if envelope.reply:
            completion = Completion(execution_id=record.id, status=record.status, error=record.error)  # type: ignore[arg-type]
            await self._jet.nc.publish(envelope.reply, encode_completion(completion))

    async def _run_flow(self, envelope: Envelope, record: ExecutionRecord) -> None:
        app, flow = self._flow_of(envelope)
        instance = self._view.instances.get(envelope.instance)
        if flow is None or instance is None:
            what = (
                f"integration {envelope.integration!r} has no flow {envelope.flow!r} on this worker"
                if flow is None
                else f"instance {envelope.instance} no longer exists"
            )
            self._finish(record, "failed", error=what)
            return
        body = envelope.body
        if envelope.body_in_object_store:
            body = await get_object(self._jet, body_object(envelope.id))
        body = body or b""
        links = instance_links(instance, app, self.settings)
        loop = asyncio.get_running_loop()
        limit = self._writer.max_record_bytes
        ctx = FlowContext.of(
            envelope,
            flow.name,
            instance.config,
            links,
            instance_state=State(self._jet.state, instance_state_key(instance.id), loop),
            flow_state=State(self._jet.state, flow_state_key(instance.id, flow.name), loop),
            log=FlowLog(envelope.id, self.settings.max_log_lines, limit // 16),
        )
        try:
            payload, note = build_payload(envelope, body, links)
            if note:
                ctx.log.warning("%s", note)
            if flow.is_async:
                value = await flow.fn(ctx, payload)
            else:
                value = await asyncio.to_thread(flow.fn, ctx, payload)
            ctx.check_awaited()
            data, content_type = encode_result(value)
            _check_steps(ctx)
        except Exception as e:
            record.steps, record.logs = ctx.steps, ctx.log.lines
            # Synchronous executions are not retried: the caller is waiting for this answer.
            self._failed(
                record,
                e,
                1 if envelope.reply else flow.attempts,
                final="failed" if envelope.reply else "dead",
            )
            return
        record.steps, record.logs = ctx.steps, ctx.log.lines
        await self._writer.put_result(record, data, content_type)
        self._finish(record, "succeeded")

    def _failed(self, record: ExecutionRecord, error: Exception, attempts: int, final: str) -> None:
        record.failures += 1
        message = truncated(_describe(error), self._writer.max_record_bytes // 4)
        record.error_type = _type_name(error)
        record.traceback = truncated(_flow_traceback(error), self._writer.max_record_bytes // 4)
        log.warning(
            "execution %s (%s) failed on attempt %d/%d: %s\n%s",
            record.id,
            record.flow,
            record.failures,
            attempts,
            message,
            record.traceback,
        )
        if record.failures >= attempts:
            self._finish(record, final, error=message)
        else:
            record.status = "queued"
            record.error = message

    @staticmethod
    def _finish(record: ExecutionRecord, status: str, error: str | None = None) -> None:
        record.status = status  # type: ignore[assignment]
        record.error = error
        record.finished_at = datetime.now(UTC)

    async def _keep_alive(self, msg: Msg, execution_id: str, caps: tuple[Cap, ...], interval: float) -> None:
        """Tell JetStream a long flow is still running, so it is not redelivered meanwhile (and
        renew its max_concurrency leases): a beat now, then every ``interval`` seconds.

        Each beat waits for the server's answer, so a beat lost to a silent
        server or a dropped connection is noticed: it is logged and tried
        again soon. The beats end with the flow, never at a failure.
        """
        failing = False
        while True:
            try:
                await self._jet.nc.request(msg.reply, Msg.Ack.Progress, timeout=interval / 2)
                await self._slots.renew(caps, execution_id)
            except Exception as e:
                if not failing:
                    log.warning(
                        "execution %s: heartbeat failed (%s); retrying (JetStream redelivers the "
                        "execution if it hears none for ack_wait, %gs)",
                        execution_id,
                        str(e) or type(e).__name__,
                        self.settings.ack_wait,
                    )
                failing = True
            else:
                if failing:
                    log.info("execution %s: heartbeats reach JetStream again", execution_id)
                failing = False
            await asyncio.sleep(min(interval / 2, 1.0) if failing else interval)


def _check_steps(ctx: FlowContext) -> None:
    """`ResultError` (the flow's fault, an attempt) when a step's value cannot be stored."""
    if unstorable([step.result for step in ctx.steps]) is None:
        return
    for step in ctx.steps:
        problem = unstorable(step.result)
        if problem is not None:
            raise ResultError(
                f"step {step.name!r} returned a {type(step.result).__name__} that cannot be stored "
                f"as JSON ({problem}); return JSON-compatible data"
            )


def _type_name(error: BaseException) -> str:
    """``KeyError`` for builtins, ``module.Name`` for the others."""
    kind = type(error)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


# Frames of these modules before the flow's own code are left out of a flow's traceback.
_RUNNER_MODULES = ("hookcore.worker", "asyncio.", "concurrent.futures.", "threading")


def _flow_traceback(error: BaseException) -> str:
    """The traceback from the flow's code on: the worker's and the thread pool's frames left out."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if not (module == "hookcore.worker" or module.startswith(_RUNNER_MODULES)):
            break
        tb = tb.tb_next
    try:
        return "".join(traceback.format_exception(type(error), error, tb))
    except Exception:  # a __str__ that raises
        return f"{_type_name(error)} (its message cannot be shown)\n"


def _describe(error: BaseException) -> str:
    """The message of an exception the flow raised (its type when it has none)."""
    try:
        return str(error) or type(error).__name__
    except Exception:  # a __str__ that raises
        return type(error).__name__
