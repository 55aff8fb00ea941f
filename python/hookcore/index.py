"""The executions index: which execution is in which status, by the minute it was received,
its customer and its flow. This module is the only one that knows the index's subjects.

One stream, `INDEX_STREAM`, holds one message per execution with a record, on

    hookcore.index.{day}.{hour}.{minute}.{customer}.{flow}.{status}.{id}

``day`` (``YYYYMMDD``), ``hour`` (``HH``) and ``minute`` (``MM``) are UTC, from the execution
id (a UUIDv7: the time the request was received); ``customer`` and ``flow`` are `token`\\ s.
Everything is in the subject (the stream keeps one message per subject); the data is empty. The
record says which status its entry is filed under (``indexedStatus``), so its subject is known:
a write that changes the status publishes the new entry beside the record, then purges the old
entry's subject (`hookcore.store.RecordWriter`). An execution with a record so always has an
entry, for a moment two; a listing reads the records it lists anyway and keeps an id once,
with the status its record has.

What JetStream filters for us:

- a page walks days and hours newest first. A day: one direct get of the last entry on
  ``hookcore.index.{day}.*.*.{customer|*}.{flow|*}.{status|*}.*`` says whether it holds any. An
  hour: one stream-info request with that ``subjects_filter`` (the hour fixed) names the
  matching entries, ids included, without reading a message; they are sorted newest first.
- counts per status: days and hours wholly within the since/until bounds are counted by
  JetStream itself (the pending count of a consumer filtered on their subjects); an hour a
  bound cuts is counted from its subjects.

The stream keeps entries as long as records (``max_age`` = retention): an entry rewritten with
its record's last write expires with it.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import msgspec
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import APIError

if TYPE_CHECKING:
    from hookcore.jetstream import JetStream

log = logging.getLogger("hookcore.index")

INDEX_STREAM = "HOOKCORE_INDEX"
INDEX_SUBJECT_PREFIX = "hookcore.index"
INDEX_ENTRIES = f"{INDEX_SUBJECT_PREFIX}.>"
"""Every entry's subject: the stream's (`hookcore.jetstream.ensure_resources` makes it), and what
record writers may publish (`hookcore.nats_roles`)."""

STATUSES = ("queued", "running", "succeeded", "failed", "dead")
CLOCK_SKEW = 3600.0
"""Seconds past this machine's clock a listing starts at: ids made by an ingress whose clock
runs ahead are listed all the same."""

CONSUMER_IDLE = 30.0
"""Seconds a counting consumer outlives a process that died before deleting it."""
STATUS, ID = 7, 8
"""Positions of the status and the execution id among an entry subject's tokens."""

_DAY = timedelta(days=1)


@functools.lru_cache(maxsize=65_536)  # every record write names its customer's and flow's
def token(value: str) -> str:
    """A subject token for any string (customer external ids and flow names hold any character):
    URL-safe base64 without padding, ``_`` for the empty string."""
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=") or "_"


def entry_subject(execution_id: str, received_at: datetime, customer: str, flow: str, status: str) -> str:
    """The subject of an execution's entry while it has ``status``."""
    moment = _moment(execution_id) or received_at
    where = f"{moment:%Y%m%d.%H.%M}.{token(customer)}.{token(flow)}"
    return f"{INDEX_SUBJECT_PREFIX}.{where}.{status}.{execution_id}"


async def remove_entry(jet: JetStream, subject: str) -> None:
    """Purge the entry on ``subject`` (nothing when there is none). A purge that fails is logged,
    not raised: the record it followed is written, and listings go by records."""
    request = json.dumps({"filter": subject}).encode()
    try:
        reply = await jet.nc.request(f"$JS.API.STREAM.PURGE.{INDEX_STREAM}", request, timeout=10)
        error = json.loads(reply.data).get("error")
    except (TimeoutError, NatsError, ValueError) as e:
        error = {"description": str(e) or type(e).__name__}
    if error:
        log.warning("index entry %s stays until it expires (its purge failed: %s)", subject, error)


class IndexFilter(msgspec.Struct, frozen=True):
    """Which entries a listing or a count wants (None: any)."""

    customer: str | None = None
    flow: str | None = None
    status: str | None = None

    def subjects(self, day: str = "*", hour: str = "*", minute: str = "*") -> str:
        def part(value: str | None) -> str:
            return "*" if value is None else token(value)

        who = f"{part(self.customer)}.{part(self.flow)}.{self.status or '*'}"
        return f"{INDEX_SUBJECT_PREFIX}.{day}.{hour}.{minute}.{who}.*"


class Bounds:
    """Ids strictly between ``after`` and ``before`` (None: unbounded), and the spans of time
    (a day ``YYYYMMDD``, an hour ``YYYYMMDDHH``, a minute ``YYYYMMDDHHMM``) they cut."""

    def __init__(self, before: str | None, after: str | None) -> None:
        self.before, self.after = before, after
        # an id that is no UUIDv7 cuts no span: `holds` alone applies it
        self._top = None if before is None else _minute_key(before)
        self._bottom = None if after is None else _minute_key(after)

    @property
    def unbounded(self) -> bool:
        return self._top is None and self._bottom is None

    def holds(self, execution_id: str) -> bool:
        return (self.before is None or execution_id < self.before) and (
            self.after is None or execution_id > self.after
        )

    def cut(self, span: str) -> str:
        """``all`` (every id of ``span`` is within), ``none`` or ``some``."""
        top = None if self._top is None else self._top[: len(span)]
        bottom = None if self._bottom is None else self._bottom[: len(span)]
        if (top is not None and span > top) or (bottom is not None and span < bottom):
            return "none"
        if span in (top, bottom):
            return "some"
        return "all"

    def days(self, horizon: float) -> Iterable[str]:
        """The days that may hold ids within, newest first, back to ``horizon`` seconds ago."""
        now = time.time()
        top = _moment(self.before) if self.before else None
        bottom = _moment(self.after) if self.after else None
        latest = datetime.fromtimestamp(now + CLOCK_SKEW, UTC)  # a cursor from the future starts now
        day = (latest if top is None else min(top, latest)).date()
        oldest = datetime.fromtimestamp(now - horizon, UTC).date()
        if bottom is not None:
            oldest = max(oldest, bottom.date())
        while day >= oldest:
            yield f"{day:%Y%m%d}"
            day -= _DAY


class ExecutionIndex:
    """Reads the index: ids newest first, and counts per status."""

    def __init__(self, jet: JetStream, horizon: float) -> None:
        self._jet = jet
        self._horizon = horizon
        """Seconds back a walk goes: the records' retention, beyond which nothing is kept."""

    async def newest(self, wanted: IndexFilter, bounds: Bounds) -> AsyncIterator[list[str]]:
        """Ids of entries ``wanted`` within ``bounds``, newest first, in batches: one per hour
        holding any, each id once (an id's entries all fall in its one minute).

        Per day: one direct get says whether it holds any; per hour of a day that does, the
        stream-info subjects name its entries."""
        for day in bounds.days(self._horizon):
            if bounds.cut(day) == "none" or not await self._any(wanted.subjects(day)):
                continue
            for hour in (f"{h:02d}" for h in range(23, -1, -1)):
                if bounds.cut(day + hour) == "none":
                    continue
                subjects = await self._subjects(wanted.subjects(day, hour))
                ids = {_token(s, ID) for s in subjects}
                within = sorted((i for i in ids if bounds.holds(i)), reverse=True)
                if within:
                    yield within

    async def counts(self, wanted: IndexFilter, bounds: Bounds) -> dict[str, int]:
        """How many entries of each status ``wanted`` holds within ``bounds``.

        The days and hours wholly within are counted by JetStream (a consumer's pending count
        over their subjects, one consumer per status); an hour a bound cuts from its subjects."""
        counts = dict.fromkeys(STATUSES, 0)
        whole: list[tuple[str, str]] = []  # (day, hour): hour "*" for the whole day
        cut_hours: list[tuple[str, str]] = []
        if bounds.unbounded:
            whole.append(("*", "*"))
        else:
            for day in bounds.days(self._horizon):
                held = bounds.cut(day)
                if held == "all":
                    whole.append((day, "*"))
                elif held == "some":
                    for hour in (f"{h:02d}" for h in range(24)):
                        held = bounds.cut(day + hour)
                        if held == "all":
                            whole.append((day, hour))
                        elif held == "some":
                            cut_hours.append((day, hour))
        for status in STATUSES:
            one = msgspec.structs.replace(wanted, status=status)
            counts[status] += await self._pending([one.subjects(day, hour) for day, hour in whole])
        for day, hour in cut_hours:
            for subject in await self._subjects(wanted.subjects(day, hour)):
                status = _token(subject, STATUS)
                if status in counts and bounds.holds(_token(subject, ID)):
                    counts[status] += 1
        return counts

    async def _pending(self, filters: list[str]) -> int:
        """How many entries ``filters`` match: the pending count of a consumer made for it."""
        if not filters:
            return 0
        info = await self._jet.js.add_consumer(
            INDEX_STREAM,
            ConsumerConfig(
                filter_subjects=filters,
                ack_policy=AckPolicy.NONE,
                mem_storage=True,
                inactive_threshold=CONSUMER_IDLE,
            ),
        )
        await self._jet.js.delete_consumer(INDEX_STREAM, info.name)
        return info.num_pending or 0

    async def _any(self, subjects: str) -> bool:
        """Whether any entry is on ``subjects`` (one direct get of the last)."""
        reply = await self._jet.nc.request(
            f"$JS.API.DIRECT.GET.{INDEX_STREAM}", json.dumps({"last_by_subj": subjects}).encode(), timeout=10
        )
        status = (reply.headers or {}).get("Status")
        if status == "404":
            return False
        if status is not None:
            APIError.from_msg(reply)
        return True

    async def _subjects(self, subjects: str) -> dict[str, int]:
        """The entries (subjects) matching ``subjects``: the stream-info's ``subjects_filter``, paged."""
        found: dict[str, int] = {}
        while True:
            request = {"subjects_filter": subjects, "offset": len(found)}
            reply = await self._jet.nc.request(
                f"$JS.API.STREAM.INFO.{INDEX_STREAM}", json.dumps(request).encode(), timeout=10
            )
            info = json.loads(reply.data)
            if "error" in info:
                APIError.from_error(info["error"])
            page = info["state"].get("subjects") or {}
            found.update(page)
            if not page or len(found) >= info.get("total", 0):
                return found


def _moment(execution_id: str) -> datetime | None:
    """When a UUIDv7 execution id was made (None: not one)."""
    if len(execution_id) != 36 or execution_id[14] != "7":
        return None
    try:
        millis = int(execution_id[:8] + execution_id[9:13], 16)
    except ValueError:
        return None
    return datetime.fromtimestamp(millis / 1000, UTC)


def _minute_key(execution_id: str) -> str | None:
    """``YYYYMMDDHHMM`` of an id used as a bound (None: no UUIDv7)."""
    moment = _moment(execution_id)
    return None if moment is None else f"{moment:%Y%m%d%H%M}"


def _token(subject: str, position: int) -> str:
    return subject.split(".")[position]
