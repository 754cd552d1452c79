"""A logging handler that shows devd's own warnings and errors in the views."""

from __future__ import annotations

import logging
from typing import Callable

from devd.logs.records import Level, LogRecord

_LEVELS = {logging.WARNING: Level.WARNING, logging.ERROR: Level.ERROR, logging.CRITICAL: Level.ERROR}


class LogBridge(logging.Handler):
    """Publishes WARNING and above as LogRecords with source "devd".

    Records of `devd.engine` are skipped because the engine publishes its own messages.
    """

    def __init__(self, publish: Callable[[LogRecord], None]) -> None:
        super().__init__(logging.WARNING)
        self.publish = publish

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("devd.engine"):
            return
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text = f"{text}: {record.exc_info[1]}"
            self.publish(LogRecord("devd", text, _LEVELS.get(record.levelno, Level.WARNING)))
        except Exception:
            self.handleError(record)
