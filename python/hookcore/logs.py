"""How every hookcore process logs: one configuration, text or JSON lines, on stderr.

`configure` sets up the process that runs the CLI (``up``, ``worker``, ``serve``'s
main process); `dict_config` is the same configuration as a `logging.config`
dictionary, which ``serve`` hands Granian (``log_dictconfig``) so its worker
processes, its own messages and its access log are formatted alike.

A record may carry `FIELDS` (``extra={"flow": …}``); `bind` gives them to every
record of the current task instead: the worker binds an execution's fields for
the task that runs it, the ingress a request's endpoint for the task answering it.
"""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Mapping
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import msgspec

FIELDS = ("execution_id", "customer", "flow", "endpoint")
"""What a record is about, as JSON fields where they apply. KEEP IN SYNC with the
"Logs" section of docs/operations.md."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ACCESS_LOGGER = "granian.access"
ACCESS_FORMAT = '%(addr)s - "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).3f'
"""Granian's access line without its own timestamp (every line has one already)."""
TRIGGER_PREFIX = "/trigger/"

_bound: ContextVar[Mapping[str, str]] = ContextVar("hookcore_log_fields", default=MappingProxyType({}))
_encode = msgspec.json.Encoder().encode


class LogFormat(StrEnum):
    """``HOOKCORE_LOG_FORMAT``."""

    TEXT = "text"
    """``time LEVEL logger: message``, for people."""
    JSON = "json"
    """One JSON object per line, for log collectors."""


class LogLevel(StrEnum):
    """``HOOKCORE_LOG_LEVEL``: the least severe level written."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


def bind(**fields: str | None) -> Token[Mapping[str, str]]:
    """Add ``fields`` (of `FIELDS`; None leaves one out) to the records the current task logs
    from now on, and to those of the tasks and threads it starts. Each asyncio task has its
    own copy, so a task's binding ends with it; `unbind` ends it earlier."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"log fields are {', '.join(FIELDS)}; got {', '.join(sorted(unknown))}")
    values = {name: value for name, value in fields.items() if value is not None}
    return _bound.set({**_bound.get(), **values})


def unbind(token: Token[Mapping[str, str]]) -> None:
    """End the `bind` that returned ``token``."""
    _bound.reset(token)


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, the `FIELDS` that apply, ``exception`` (a traceback) when there is one;
    Granian's access records add the request's ``method``, ``path``, ``status``, …"""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        bound = _bound.get()
        for name in FIELDS:
            value = getattr(record, name, None) or bound.get(name)
            if value:
                entry[name] = value
        if record.name == ACCESS_LOGGER and isinstance(record.args, Mapping):
            entry.update(_access_fields(record.args))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return _encode(entry).decode()


def _access_fields(request: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of one of Granian's access records (its own ``time`` is left out)."""
    fields = {name: value for name, value in request.items() if name != "time"}
    path = request.get("path")
    if isinstance(path, str) and path.startswith(TRIGGER_PREFIX):
        fields["endpoint"] = path[len(TRIGGER_PREFIX) :].partition("/")[0]
    return fields


def dict_config(log_format: LogFormat, level: LogLevel) -> dict[str, Any]:
    """The `logging.config.dictConfig` of a hookcore process, Granian's loggers included."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if log_format is LogFormat.JSON else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"hookcore": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "hookcore",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": str(level)},
        "loggers": {
            # Granian's own loggers write through the root's handler; the access log is
            # written whenever it is on (HOOKCORE_ACCESS_LOG), at any level.
            "_granian": {"handlers": [], "propagate": True},
            ACCESS_LOGGER: {"handlers": [], "propagate": True, "level": "INFO"},
        },
    }


def configure(log_format: LogFormat, level: LogLevel) -> None:
    """Set up this process's logging (`dict_config`)."""
    logging.config.dictConfig(dict_config(log_format, level))
