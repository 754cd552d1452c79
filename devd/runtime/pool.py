"""A pool of warm workers for one build of one function.

The pool reuses idle workers, so module-level state survives between requests as it does in a
warm Lambda execution environment. It starts a new worker when all are busy, up to
`max_workers`, and beyond that queues requests in arrival order. A worker that timed out,
crashed or failed to load its handler is dropped and replaced on demand. A worker that stays
idle for `idle_timeout_s` stops, except the most recently used one, which stays warm.

The pool never reloads code: `task_root` is one build's output, and a new build gets a new
pool while the old one closes. With `SpareWorkers`, a new worker takes over a ready spare
process when there is one, so it only has to load the handler, and `prewarm` starts the first
worker before any request arrives.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from devd.errors import ConfigError, RuntimeStartError
from devd.inventory import Function
from devd.logs.records import Level, LogRecord
from devd.runtime.environment import overridden_reserved_names, worker_environment
from devd.runtime.invoke import InvokeResult
from devd.runtime.spares import SpareKind, SpareWorkers
from devd.runtime.launch import bootstrap_command, is_custom_runtime, wait_for_free_port
from devd.runtime.options import DEFAULT_IDLE_TIMEOUT_S, Debugger
from devd.runtime.worker import INIT_TIMEOUT_S, STOP_GRACE_S, LogSink, Worker
from devd.runtime.waits import new_request_id

logger = logging.getLogger("devd.runtime.pool")


@dataclass(frozen=True)
class PoolStats:
    """Counts for the views: live workers, workers running an invocation, invocations started,
    and workers that started from a spare process."""

    workers: int
    busy: int
    invocations: int
    spare_starts: int = 0


class _Slot:
    """Permission to start a worker, handed to the first queued request when a worker goes away."""


_SLOT = _Slot()


class FunctionPool:
    """The workers that serve one function from one build output directory."""

    def __init__(
        self,
        function: Function,
        task_root: Path,
        handler: str,
        on_log: LogSink,
        *,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        max_workers: int = 4,
        node: str = "node",
        python: str = sys.executable,
        passthrough: Sequence[str] = (),
        host_env: Mapping[str, str] | None = None,
        spares: SpareWorkers | None = None,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        debugger: Debugger | None = None,
    ) -> None:
        """Prepare the pool. Workers start on the first requests or `prewarm`, not here.

        `node` and `python` are the executables that run the bootstraps. `passthrough` names
        host environment variables that workers inherit. `host_env` defaults to `os.environ`.
        With `spares`, new workers take over ready spares of the pool's `spare_kind`, which
        the spares start keeping from here on. With a `debugger`, the pool has one worker,
        started at once under that debugger with its timeouts lifted, and uses no spares.
        Raises ConfigError for `max_workers` below 1, and RuntimeStartError for a runtime that
        devd cannot run.
        """
        if max_workers < 1:
            raise ConfigError(f"max_workers must be at least 1, not {max_workers}")

        self.function = function
        self._interpreter = node if function.language == "node" else python
        bootstrap_command(function, self._interpreter, task_root)
        if debugger is not None:
            max_workers, spares = 1, None
        if is_custom_runtime(function.runtime):
            # A spare runs devd's own bootstrap, which a custom runtime replaces.
            spares = None
        self._task_root = task_root
        self._handler = handler
        self._on_log = on_log
        self._region = region
        self._account_id = account_id
        self._max_workers = max_workers
        self._passthrough = tuple(passthrough)
        self._host_env = host_env
        self._spares = spares
        self._idle_timeout_s = idle_timeout_s
        self._debugger = debugger
        self._idle_since: dict[Worker, float] = {}
        self._reaper: asyncio.TimerHandle | None = None
        self._prewarm_task: asyncio.Task[None] | None = None

        self._workers: set[Worker] = set()
        self._idle: list[Worker] = []
        self._waiters: deque[asyncio.Future[Worker | _Slot]] = deque()
        self._starting = 0
        self._active = 0
        self._invocations = 0
        self._spare_starts = 0
        self._closing = False
        self._stopping_workers: set[asyncio.Task[None]] = set()
        self._drained = asyncio.Event()
        self._drained.set()

        self._warn_reserved_names()
        if spares is not None:
            spares.prepare(self.spare_kind)
        if debugger is not None:
            self._prewarm_task = asyncio.get_running_loop().create_task(self._prewarm_for_debugger(debugger))

    @property
    def stats(self) -> PoolStats:
        """The current counts. A worker whose process exited while idle no longer counts."""
        workers = sum(1 for worker in self._workers if worker.alive or worker.busy)
        busy = sum(1 for worker in self._workers if worker.busy)
        return PoolStats(workers, busy, self._invocations, self._spare_starts)

    @property
    def spare_kind(self) -> SpareKind:
        """The kind of spare that this pool's workers can take over."""
        env = worker_environment(
            self.function,
            task_root=self._task_root,
            handler=self._handler,
            region=self._region,
            runtime_api="",
            log_stream_name="",
            host_env=os.environ if self._host_env is None else self._host_env,
            passthrough=self._passthrough,
        )
        return SpareKind.for_environment(self.function.language, self._interpreter, env)

    async def prewarm(self) -> None:
        """Start the first worker now and return once it has loaded the handler.

        Once its process runs, the worker is idle, so a request that arrives while it loads
        the handler waits for it instead of starting another. Returns at once when the pool
        already has a worker. A failed handler import or a crash is logged, and the next
        request starts a new worker, as Lambda retries an init that failed. Raises
        RuntimeStartError when the pool is closed or the process cannot be started.
        """
        if self._closing:
            raise RuntimeStartError(f"the worker pool of {self.function.name} is closed")
        if self._workers or self._starting:
            return

        self._starting += 1
        worker = await self._start_reserved()
        self._release(worker)
        await worker.wait_initialized()

    async def invoke(self, event: bytes, *, request_id: str | None = None) -> InvokeResult:
        """Run one invocation with a JSON event on a warm or new worker.

        `request_id` defaults to a new UUID. Handler errors, crashes and timeouts are results,
        not exceptions. Raises RuntimeStartError when the pool is closed or a worker process
        cannot be started.
        """
        if self._closing:
            raise RuntimeStartError(f"the worker pool of {self.function.name} is closed")

        request_id = request_id or new_request_id()
        self._active += 1
        self._drained.clear()
        try:
            worker = await self._acquire()
            try:
                self._invocations += 1
                return await worker.invoke(event, request_id)
            finally:
                self._release(worker)
        finally:
            self._active -= 1
            if self._active == 0:
                self._drained.set()

    async def close(self) -> None:
        """Finish the accepted requests, then stop every worker and return when all are gone.

        New calls to `invoke` fail at once. Requests that already run, or wait for a worker,
        are served by the workers the pool has, and no new worker starts. The wait is bounded
        by the init limit plus the function's timeout. After that, or when no worker is left
        to serve them, waiting requests fail with RuntimeStartError.
        """
        self._closing = True
        self._cancel_reaper()
        if self._prewarm_task is not None:
            self._prewarm_task.cancel()
        bound_s = INIT_TIMEOUT_S + self.function.timeout + STOP_GRACE_S + 1.0
        try:
            await asyncio.wait_for(self._drained.wait(), bound_s)
        except TimeoutError:
            logger.warning("%s: requests still running after %.0f s, stopping the workers", self.function.name, bound_s)

        self._reject_waiters()
        while True:
            workers = list(self._workers)
            self._workers.clear()
            self._idle.clear()
            stopping = [task for task in self._stopping_workers if not task.done()]
            if not workers and not stopping:
                return
            await asyncio.gather(*(worker.close() for worker in workers), *stopping)

    async def _acquire(self) -> Worker:
        worker = self._take_idle()
        if worker is not None:
            return worker

        if len(self._workers) + self._starting < self._max_workers:
            self._starting += 1
            return await self._start_reserved()

        waiter: asyncio.Future[Worker | _Slot] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            handed = await waiter
        except asyncio.CancelledError:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # The worker or slot arrived just before the cancellation: pass it on.
                self._pass_on(waiter.result())
            raise

        if isinstance(handed, _Slot):
            return await self._start_reserved()
        return handed

    async def _start_reserved(self) -> Worker:
        """Start a worker in a slot that the caller already counted in `_starting`."""
        spare = self._spares.take(self.spare_kind) if self._spares is not None else None
        debugger = self._debugger
        try:
            if debugger is not None:
                # The worker of the previous build may still hold the port while it stops.
                await wait_for_free_port(debugger.port, STOP_GRACE_S + 1.0)
            worker = await Worker.start(
                self.function,
                task_root=self._task_root,
                handler=self._handler,
                on_log=self._on_log,
                interpreter=self._interpreter,
                region=self._region,
                account_id=self._account_id,
                passthrough=self._passthrough,
                host_env=self._host_env,
                spare=spare,
                interpreter_args=debugger.interpreter_args if debugger else (),
                lift_timeouts=debugger is not None,
            )
        except BaseException:
            self._starting -= 1
            self._offer_slot()
            raise

        self._starting -= 1
        self._workers.add(worker)
        if worker.from_spare:
            self._spare_starts += 1
        logger.debug("%s: started worker %d (%d running)", self.function.name, worker.pid, len(self._workers))
        return worker

    def _take_idle(self) -> Worker | None:
        # The most recently used worker first, so the others can stay idle.
        while self._idle:
            worker = self._idle.pop()
            self._idle_since.pop(worker, None)
            if worker.alive:
                return worker
            self._discard(worker)
        return None

    def _release(self, worker: Worker) -> None:
        if not worker.alive:
            self._discard(worker)
        elif self._hand_to_waiter(worker):
            return
        elif self._closing:
            self._discard(worker)
        else:
            self._idle.append(worker)
            self._idle_since[worker] = time.monotonic()
            self._arm_reaper(self._idle_timeout_s)

    def _arm_reaper(self, delay_s: float) -> None:
        if self._reaper is None and len(self._idle) > 1:
            self._reaper = asyncio.get_running_loop().call_later(delay_s, self._reap_idle)

    def _cancel_reaper(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None

    def _reap_idle(self) -> None:
        """Stop the workers idle for `idle_timeout_s`, except the most recently used one."""
        self._reaper = None
        now = time.monotonic()
        for worker in self._idle[:-1]:
            idle_s = now - self._idle_since.get(worker, now)
            if idle_s >= self._idle_timeout_s:
                self._idle.remove(worker)
                self._idle_since.pop(worker, None)
                logger.debug("%s: stopping worker %d, idle for %.0f s", self.function.name, worker.pid, idle_s)
                self._discard(worker)

        waiting = [self._idle_since.get(worker, now) for worker in self._idle[:-1]]
        if waiting:
            self._arm_reaper(max(0.0, min(waiting) + self._idle_timeout_s - now))

    def _hand_to_waiter(self, worker: Worker) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return True
        return False

    def _offer_slot(self) -> None:
        """Let the first queued request start a worker in capacity that just became free."""
        if self._closing:
            if not self._workers and self._starting == 0:
                self._reject_waiters()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._starting += 1
                waiter.set_result(_SLOT)
                return

    def _pass_on(self, handed: Worker | _Slot) -> None:
        if isinstance(handed, _Slot):
            self._starting -= 1
            self._offer_slot()
        else:
            self._release(handed)

    def _discard(self, worker: Worker) -> None:
        """Drop a worker that cannot serve again, stop it in the background, and free its slot.

        While the pool closes, the slot stays unused (see `_offer_slot`).
        """
        self._workers.discard(worker)
        task = asyncio.get_running_loop().create_task(worker.close())
        self._stopping_workers.add(task)
        task.add_done_callback(self._stopping_workers.discard)

        self._offer_slot()

    def _reject_waiters(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(RuntimeStartError(f"the worker pool of {self.function.name} closed"))

    async def _prewarm_for_debugger(self, debugger: Debugger) -> None:
        self._on_log(LogRecord(source=self.function.name, text=f"debugging: {debugger.attach_hint()}"))
        try:
            await self.prewarm()
        except RuntimeStartError as error:
            self._on_log(LogRecord(source=self.function.name, text=f"debugger did not start: {error}", level=Level.ERROR))

    def _warn_reserved_names(self) -> None:
        for name in overridden_reserved_names(self.function):
            message = (
                f"The Terraform environment sets {name}, which Lambda reserves and rejects on "
                "deploy. devd ignores that value."
            )
            self._on_log(LogRecord(source=self.function.name, text=message, level=Level.WARNING))

