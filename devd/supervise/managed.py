"""A named child process that devd keeps running: restarted with backoff, stopped with its group.

The process runs under the group guard (see `group_guard.py`) in a process group of its own,
so stopping it, or a `kill -9` of devd, also ends the processes it started. Each line it
writes becomes a LogRecord with the process's name as source. When it exits on its own, with
any status including 0, the rest of its group is stopped too, and it starts again after the
delay that `Backoff` gives.

Output lines, exits and start failures go to `on_log`. The `devd.supervise` logger records
the same events at INFO, below the WARNING level that the views show, so they appear once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from devd.errors import ConfigError
from devd.logs.records import Level, LogRecord
from devd.runtime.output import OutputProtocol, describe_exit, line_level
from devd.supervise.backoff import Backoff
from devd.supervise.group_guard import guarded_command
from devd.supervise.process_group import (
    die_with_parent,
    signal_group,
    stop_process_group,
)
from devd.supervise.status import ProcessState, ProcessStatus

logger = logging.getLogger("devd.supervise")

LogSink = Callable[[LogRecord], None]
StatusSink = Callable[[ProcessStatus], None]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_GRACE_S = 5.0
"""Time between SIGTERM and SIGKILL when a process is stopped."""

_PIPE_DRAIN_S = 1.0
"""Time to wait for the last output lines after a process group has ended."""


def find_program(program: str, cwd: Path | None, env: Mapping[str, str]) -> str | None:
    """Return the path of the executable that `program` names, or None when there is none.

    A name without a slash is looked up on the PATH of `env`. A relative path is taken from
    `cwd`, as the process will see it.
    """
    if os.sep not in program:
        return shutil.which(program, path=env.get("PATH", os.defpath))

    candidate = Path(program)
    if not candidate.is_absolute() and cwd is not None:
        candidate = cwd / candidate
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return None


class ManagedProcess:
    """One supervised command: `start()` it, read `status()`, `restart()` or `stop()` it.

    `env` is the whole environment of the process (devd's own when None). `clock` and
    `sleep` time the backoff and exist so that tests can pass their own.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        on_log: LogSink,
        on_status: StatusSink | None = None,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        grace: float = DEFAULT_GRACE_S,
        backoff: Backoff | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not argv:
            raise ConfigError(f"process {name!r} has an empty command. Give it a program to run.")
        self.name = name
        self.argv = tuple(argv)
        self.cwd = cwd
        self.env = dict(os.environ if env is None else env)
        self.grace = grace
        self._on_log = on_log
        self._on_status = on_status
        self._backoff = backoff if backoff is not None else Backoff()
        self._clock = clock
        self._sleep = sleep

        self._state = ProcessState.STOPPED
        self._pid: int | None = None
        self._restarts = 0
        self._last_exit_code: int | None = None
        self._detail = ""
        self._transport: asyncio.SubprocessTransport | None = None
        self._protocol: OutputProtocol | None = None
        self._exited: asyncio.Future[int] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop_requested = asyncio.Event()

    def status(self) -> ProcessStatus:
        """Return a snapshot of the process's state."""
        in_backoff = self._state is ProcessState.BACKOFF
        return ProcessStatus(
            name=self.name,
            state=self._state,
            pid=self._pid,
            restarts=self._restarts,
            last_exit_code=self._last_exit_code,
            next_attempt_at=self._backoff.next_attempt_at if in_backoff else None,
            consecutive_failures=self._backoff.failures,
            detail=self._detail,
        )

    async def start(self) -> None:
        """Start the process, unless it is already supervised.

        Returns once the process runs, or in FAILED state when it could not be started (the
        reason goes to `on_log` and `status().detail`). Nothing is raised for that.
        """
        if self._task is not None and not self._task.done():
            return

        self._stopping = False
        self._stop_requested = asyncio.Event()
        self._backoff.reset()
        attempted = asyncio.Event()
        self._task = asyncio.create_task(self._supervise(attempted), name=f"supervise {self.name}")

        # The task owns the process from the first start on, so a stop() that comes while
        # the process is still starting finds the task and waits for it.
        attempt_wait = asyncio.ensure_future(attempted.wait())
        try:
            await asyncio.wait({self._task, attempt_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            attempt_wait.cancel()
        if self._task.done():
            self._task.result()

    async def stop(self) -> None:
        """Stop the process group: SIGTERM, then SIGKILL after `grace` seconds.

        Returns when every process of the group has exited. A process waiting in BACKOFF is
        not started again.
        """
        task = self._task
        if task is None:
            return

        self._stopping = True
        self._stop_requested.set()
        try:
            await asyncio.shield(task)
        finally:
            self._task = None
            self._set_state(ProcessState.STOPPED)

    async def restart(self) -> None:
        """Stop the process and start it again at once, forgetting the backoff."""
        await self.stop()
        self._restarts += 1
        await self.start()

    async def _spawn(self) -> bool:
        """Start one run of the process; return False, in FAILED state, when it cannot start."""
        self._pid = None
        self._set_state(ProcessState.STARTING)

        if find_program(self.argv[0], self.cwd, self.env) is None:
            self._fail(
                f"program {self.argv[0]!r} not found (PATH is {self.env.get('PATH', '')!r}). "
                "Install it, or fix the command."
            )
            return False

        loop = asyncio.get_running_loop()
        exited: asyncio.Future[int] = loop.create_future()
        protocol = OutputProtocol(self._emit_line, lambda code: exited.done() or exited.set_result(code))
        try:
            transport, _ = await loop.subprocess_exec(
                lambda: protocol,
                *guarded_command(self.argv),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        except OSError as error:
            directory = self.cwd or Path.cwd()
            self._fail(f"cannot start {list(self.argv)} in {directory}: {error}. Fix the command or its directory.")
            return False

        self._transport, self._protocol, self._exited = transport, protocol, exited
        self._pid = transport.get_pid()
        self._detail = ""
        self._backoff.record_start(self._clock())
        self._set_state(ProcessState.RUNNING)
        logger.info("started %s: pid %d, command %s", self.name, self._pid, list(self.argv))
        return True

    async def _supervise(self, attempted: asyncio.Event) -> None:
        """Start the process, then start it again after each exit and backoff delay."""
        try:
            started = await self._spawn()
            attempted.set()
            while started:
                await self._wait_for_exit()
                if self._stopping or not await self._wait_backoff():
                    return

                self._restarts += 1
                started = await self._spawn()
        finally:
            self._kill_leftover_group()

    async def _wait_for_exit(self) -> None:
        """Wait until the process exits or a stop is requested, then end its whole group."""
        assert self._exited is not None
        assert self._transport is not None
        assert self._protocol is not None
        stop_wait = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait({self._exited, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_wait.cancel()

        if not self._exited.done():
            self._set_state(ProcessState.STOPPING)
        await stop_process_group(self._pid, self._exited, self.grace)
        await self._protocol.wait_closed(_PIPE_DRAIN_S)
        self._transport.close()

        returncode = self._exited.result()
        self._last_exit_code = returncode
        if self._stopping:
            logger.info("stopped %s (pid %s): %s", self.name, self._pid, describe_exit(returncode))
            self._pid = None
            return

        delay = self._backoff.record_exit(self._clock())
        message = f"exited with {describe_exit(returncode)}, next attempt in {delay:g} s"
        logger.info("%s (pid %s) %s", self.name, self._pid, message)
        self._on_log(LogRecord(self.name, message, Level.WARNING))
        self._pid = None

    async def _wait_backoff(self) -> bool:
        """Wait out the backoff delay; return False when a stop was requested meanwhile."""
        delay = self._backoff.next_delay(self._clock())
        if delay <= 0:
            return not self._stopping

        self._set_state(ProcessState.BACKOFF)
        pause = asyncio.ensure_future(self._sleep(delay))
        stop_wait = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait({pause, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            pause.cancel()
            stop_wait.cancel()
        return not self._stopping

    def _kill_leftover_group(self) -> None:
        """Send SIGKILL to a group that still runs because supervision ended abnormally."""
        if self._exited is not None and not self._exited.done() and self._pid is not None:
            logger.warning(
                "supervision of %s ended while pid %d ran: sending SIGKILL to its group", self.name, self._pid
            )
            signal_group(self._pid, signal.SIGKILL)

    def _fail(self, reason: str) -> None:
        self._detail = reason
        self._set_state(ProcessState.FAILED)
        logger.info("%s failed to start: %s", self.name, reason)
        self._on_log(LogRecord(self.name, reason, Level.ERROR))

    def _emit_line(self, stream: int, text: str) -> None:
        self._on_log(LogRecord(self.name, text, line_level(text, stream)))

    def _set_state(self, state: ProcessState) -> None:
        self._state = state
        if self._on_status is not None:
            self._on_status(self.status())
