"""Schedule builds: a bounded number at a time, requested functions first, one build per
function at a time, and a change during a build queued behind it."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from typing import Awaitable, Callable

log = logging.getLogger("devd.engine")

URGENT = 0
"""Priority of a build that a waiting request needs."""
NORMAL = 1
"""Priority of a build after a change or at start."""


class BuildScheduler:
    """Run `build(address)` for requested functions on a fixed number of tasks.

    A project of 200 functions starts 200 builds. A request for one of them must not wait
    behind the other 199, so `request(address, urgent=True)` moves it to the front.
    """

    def __init__(self, build: Callable[[str], Awaitable[None]], concurrency: int | None = None) -> None:
        self._build = build
        self._queue: asyncio.PriorityQueue[tuple[int, int, str]] = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._queued: dict[str, int] = {}
        self._running: set[str] = set()
        self._again: set[str] = set()
        count = concurrency or os.cpu_count() or 2
        self._tasks = [asyncio.create_task(self._work(), name=f"builder {index}") for index in range(count)]

    def request(self, address: str, urgent: bool = False) -> None:
        """Queue a build of address. While one runs, a change (not urgent) queues one more after
        it; an urgent request only needs the running one."""
        if address in self._running:
            if not urgent:
                self._again.add(address)
            return
        priority = URGENT if urgent else NORMAL
        if self._queued.get(address, NORMAL + 1) <= priority:
            return
        self._queued[address] = priority
        self._queue.put_nowait((priority, next(self._order), address))

    def forget(self, address: str) -> None:
        """Drop queued builds of a function that left the inventory."""
        self._queued.pop(address, None)
        self._again.discard(address)

    def pending(self, address: str) -> bool:
        """Return True while a build of address is queued or running."""
        return address in self._queued or address in self._running

    async def close(self) -> None:
        """Cancel queued and running builds."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            priority, _, address = await self._queue.get()
            if self._queued.get(address) != priority:
                continue
            del self._queued[address]
            self._running.add(address)
            try:
                await self._build(address)
            except Exception:
                log.exception("the build of %s failed unexpectedly", address)
            finally:
                self._running.discard(address)
            if address in self._again:
                self._again.discard(address)
                self.request(address)
