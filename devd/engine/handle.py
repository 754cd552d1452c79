"""The interface that views (the TUI, the console) use to read and drive a running daemon."""

from __future__ import annotations

import asyncio
from typing import Protocol, Union

from devd.engine.view import Snapshot
from devd.logs.records import LogRecord, RequestRecord

Update = Union[Snapshot, LogRecord, RequestRecord]


class DaemonHandle(Protocol):
    """The part of a running daemon that views use."""

    def snapshot(self) -> Snapshot:
        """Return the current state."""
        ...

    def subscribe(self) -> "asyncio.Queue[Update | None]":
        """Return a queue that receives the current snapshot, recent records, and every later
        snapshot, log record and request record; None follows the last update after a stop."""
        ...

    async def rebuild(self, address: str) -> None:
        """Queue a rebuild of the function with this Terraform address."""
        ...

    async def stop(self) -> None:
        """Stop serving, stop every child process and return when all are gone."""
        ...
