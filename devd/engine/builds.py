"""Builds of the daemon's functions and the worker pools that serve each successful build.

`Daemon` inherits these methods, which use its inventory, states, pools and build service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from devd.build.service import BuildResult
from devd.engine.plan import BuildFacts
from devd.engine.view import BuildState
from devd.errors import RuntimeStartError
from devd.inventory import Function
from devd.logs.records import Level, LogRecord
from devd.runtime.options import pool_options
from devd.runtime.pool import FunctionPool

if TYPE_CHECKING:
    from devd.engine.daemon import Daemon

log = logging.getLogger("devd.engine")


@dataclass(frozen=True)
class FunctionState:
    """Build state of one function, as the engine tracks it."""

    build_state: BuildState = BuildState.PENDING
    generation: int = 0
    last_build_ms: float | None = None
    last_built_at: float | None = None
    error: str | None = None
    facts: BuildFacts = BuildFacts()


class DaemonBuilds:
    """The methods of `Daemon` that build functions and swap their worker pools."""

    def _request_build(self: Daemon, address: str, urgent: bool = False) -> None:
        function = self.inventory.function(address)
        if function is not None and not function.runnable:
            reason = "a container image function; devd lists it but does not run it locally"
            self.states[address] = FunctionState(BuildState.NOT_RUNNABLE, error=reason)
            return
        if self._scheduler is not None:
            self._scheduler.request(address, urgent)

    async def _build_once(self: Daemon, address: str) -> None:
        function = self.inventory.function(address)
        if function is None:
            return
        state = self.states.get(address, FunctionState())
        generation = state.generation + 1
        self.states[address] = replace(state, build_state=BuildState.BUILDING, generation=generation)
        self._publish_snapshot()
        result = await self.builder.build(function, generation)
        if self.inventory.function(address) is not None:
            await self._apply_build(function, result)

    async def _apply_build(self: Daemon, function: Function, result: BuildResult) -> None:
        state = self.states.get(function.address, FunctionState())
        facts = BuildFacts(result.inputs or state.facts.inputs, result.ok)
        error = result.error
        pool = None
        if result.ok and result.task_root is not None:
            try:
                pool = self._new_pool(function, result)
            except RuntimeStartError as start_error:
                error = str(start_error)

        if pool is not None:
            self._swap_pool(function.address, pool)
            self._results[function.address] = result
            self.states[function.address] = replace(
                state, build_state=BuildState.READY, last_build_ms=result.duration_ms,
                last_built_at=time.time(), error=None, facts=facts)
            log.info("built %s #%d in %.0f ms", function.address, result.generation, result.duration_ms)
            self.publish(LogRecord(function.name, f"built #{result.generation} in {result.duration_ms:.0f} ms"))
            self.deploys.check_later(function.address)
        else:
            self.states[function.address] = replace(state, build_state=BuildState.FAILED, error=error,
                                                    last_build_ms=result.duration_ms, facts=facts)
            serving = " (the last good build keeps serving)" if function.address in self.pools else ""
            self.publish(LogRecord(function.name, f"build failed{serving}: {error}", Level.ERROR))

        ready = self._ready.pop(function.address, None)
        if ready is not None:
            ready.set()
        self._build_waiters.finished(function.address, result.generation, result)
        if pool is not None:
            await self.sam.update(self.inventory, self._results)
        if self._watching:
            self.watcher.update(self._watch_roots())
        self._publish_snapshot()

    def _new_pool(self: Daemon, function: Function, result: BuildResult) -> FunctionPool:
        assert result.task_root is not None
        return FunctionPool(function, result.task_root, result.handler, self._worker_log(function, result),
                            spares=self.spares, **pool_options(self.settings, function))

    def _worker_log(self: Daemon, function: Function, result: BuildResult) -> Callable[[LogRecord], None]:
        """Return the log sink for a pool: Python stack traces name the source files, not the
        build copies (Node traces already do, through source maps)."""
        if function.language != "python" or not function.code_dir or result.task_root is None:
            return self.publish
        build_dir, code_dir = str(result.task_root), function.code_dir

        def publish(record: LogRecord) -> None:
            if build_dir in record.text:
                record = replace(record, text=record.text.replace(build_dir, code_dir))
            self.publish(record)

        return publish

    def _swap_pool(self: Daemon, address: str, pool: FunctionPool) -> None:
        """Serve new requests from pool; the old pool finishes its requests, then stops."""
        old = self.pools.get(address)
        self.pools[address] = pool
        if old is not None:
            self._close_later(old)

    def _close_later(self: Daemon, pool: FunctionPool) -> None:
        self._close_later_coro(pool.close())

    def _close_later_coro(self: Daemon, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
