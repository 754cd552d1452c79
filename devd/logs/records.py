"""Log and request records that flow from workers, builds and processes to the views."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum


class Level(str, Enum):
    """Severity of a log record, as the views filter and colour it."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class LogRecord:
    """One line of output: from a handler, a build, a side process or devd itself.

    `source` is a function name, a process name, or "devd".
    """

    source: str
    text: str
    level: Level = Level.INFO
    request_id: str | None = None
    time: float = field(default_factory=time.time)


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP request that the local gateway responded to."""

    method: str
    path: str
    status: int
    duration_ms: float
    function: str | None
    request_id: str | None = None
    time: float = field(default_factory=time.time)
