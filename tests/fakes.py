"""A fake DaemonHandle for tests of the views, driven by the updates that a test pushes."""

from __future__ import annotations

import asyncio

from devd.engine.handle import Update
from devd.engine.view import Snapshot


class FakeDaemon:
    """A DaemonHandle whose updates come from `push()`, and which records rebuilds and stops."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.current = snapshot
        self.queues: list[asyncio.Queue[Update | None]] = []
        self.rebuilds: list[str] = []
        self.stopped = False

    def snapshot(self) -> Snapshot:
        return self.current

    def subscribe(self) -> "asyncio.Queue[Update | None]":
        queue: asyncio.Queue[Update | None] = asyncio.Queue()
        self.queues.append(queue)
        return queue

    def push(self, update: Update) -> None:
        """Send an update to every subscriber. A snapshot also replaces the current one."""
        if isinstance(update, Snapshot):
            self.current = update

        for queue in self.queues:
            queue.put_nowait(update)

    async def rebuild(self, address: str) -> None:
        self.rebuilds.append(address)

    async def stop(self) -> None:
        """Mark the daemon stopped and send the `None` sentinel to every subscriber."""
        self.stopped = True

        for queue in self.queues:
            queue.put_nowait(None)
