"""The interface that views (the TUI, the console) use to read and drive a running daemon."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from devd.engine.deploys import Deploys
from devd.engine.view import Snapshot
from devd.logs.records import LogRecord, RequestRecord
from devd.runtime.invoke import InvokeResult

Update = Snapshot | LogRecord | RequestRecord


class DaemonHandle(Protocol):
    """The part of a running daemon that views use."""

    deploys: Deploys
    """Deploy calls and per-function deploy state; `deploys.configured` is False without a Deployer."""

    def snapshot(self) -> Snapshot:
        """Return the current state."""
        ...

    def subscribe(self) -> asyncio.Queue[Update | None]:
        """Return a queue that receives the current snapshot, recent records, and every later
        snapshot, log record and request record; None follows the last update after a stop."""
        ...

    async def rebuild(self, address: str) -> None:
        """Queue a rebuild of the function with this Terraform address."""
        ...

    async def invoke_function(self, address: str, event: bytes) -> InvokeResult:
        """Invoke the function with this event and publish the exchange as a request record."""
        ...

    def event_for(self, address: str) -> tuple[bytes, str]:
        """Return the saved or sample event to invoke a function with, and where it came from."""
        ...

    def save_event(self, function_name: str, event: bytes) -> Path:
        """Save an event as the one the invoke key sends to this function; return its path."""
        ...

    async def restart_workers(self, address: str) -> None:
        """Replace the function's workers with fresh ones on the same build."""
        ...

    async def restart_process(self, name: str) -> None:
        """Restart a Procfile process, or `sam local` for "sam"; raise DevdError for an unknown name."""
        ...

    async def stop(self) -> None:
        """Stop serving, stop every child process and return when all are gone."""
        ...
