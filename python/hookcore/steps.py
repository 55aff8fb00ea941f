"""What a run leaves for its execution record: the steps it took and the lines it logged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class LogLine(msgspec.Struct, rename="camel"):
    at: datetime
    level: str
    message: str


class StepRecord(msgspec.Struct, rename="camel"):
    name: str
    result: Any
    started_at: datetime
    finished_at: datetime
