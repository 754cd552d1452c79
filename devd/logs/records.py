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

    `source` is a function name, a process name, or "devd". `secret_free` marks a line that
    devd wrote from values of its own, such as Lambda's START line, which masking may skip.
    """

    source: str
    text: str
    level: Level = Level.INFO
    request_id: str | None = None
    time: float = field(default_factory=time.time)
    secret_free: bool = False


INSPECT_MAX_BYTES = 256 * 1024
"""Largest event or response that a request record keeps for the inspector. Records are kept
by the hundred, and request bodies may be megabytes."""


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP request that the local gateway responded to.

    `event` is the JSON event sent to the handler and `response` the JSON the handler returned
    (or its error document). Both are None when no function ran or when they were larger than
    INSPECT_MAX_BYTES, and neither is masked: views mask them before they show them.
    """

    method: str
    path: str
    status: int
    duration_ms: float
    function: str | None
    request_id: str | None = None
    time: float = field(default_factory=time.time)
    event: str | None = None
    response: str | None = None


def inspect_text(data: bytes | None) -> str | None:
    """Return JSON bytes as text for a request record, or None when they exceed INSPECT_MAX_BYTES."""
    if data is None or len(data) > INSPECT_MAX_BYTES:
        return None
    return data.decode("utf-8", errors="replace")
