"""Futures that resolve when a function's build of at least a given generation finishes."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

Result = TypeVar("Result")


class BuildWaiters(Generic[Result]):
    """Callers that wait for a build: each waits for the first finished build whose generation
    is at least the one it requested, so a build that started before the request does not
    count."""

    def __init__(self) -> None:
        self._waiting: dict[str, list[tuple[int, asyncio.Future[Result]]]] = {}

    def wait(self, address: str, generation: int) -> asyncio.Future[Result]:
        """Return a future for the first finished build of address numbered `generation` or later."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(address, []).append((generation, future))
        return future

    def finished(self, address: str, generation: int, result: Result) -> None:
        """Resolve the futures that this build satisfies."""
        remaining = []
        for expected, future in self._waiting.pop(address, []):
            if future.done():
                continue
            if generation >= expected:
                future.set_result(result)
            else:
                remaining.append((expected, future))
        if remaining:
            self._waiting[address] = remaining

    def cancel(self, address: str, reason: Exception) -> None:
        """Fail the futures of a function that left the inventory, or of every function on stop."""
        for _, future in self._waiting.pop(address, []):
            if not future.done():
                future.set_exception(reason)

    def cancel_all(self, reason: Exception) -> None:
        """Fail every waiting future."""
        for address in list(self._waiting):
            self.cancel(address, reason)
