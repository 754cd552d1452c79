"""Spare runtime processes, started ahead of time so that a new worker skips the process start.

A spare runs devd's node or python bootstrap in deferred-init mode. It has started and loaded
the bootstrap, and it long-polls its own Runtime API server for an assignment, but it has no
function yet and none of a function's environment. A worker that takes it over sends the
assignment (see `Worker.start`). The bootstrap then replaces its environment with the
function's, changes to the task root and loads the handler, as a newly started worker would.
That leaves only the handler import before the first response of a new build.
NOTE: /proc/PID/environ of a taken-over spare still shows its start environment, because Linux
records only the environment a process was started with. A handler that reads that file gets
the start environment.

`SpareWorkers` keeps ready spares for each kind that pools ask for, starts a replacement when
one is taken, and replaces a spare that dies after a delay that doubles with each failure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Callable, Mapping

from devd.errors import ConfigError, RuntimeStartError
from devd.logs.records import Level, LogRecord
from devd.runtime.environment import BOOTSTRAP_DIR, spare_environment, startup_variables
from devd.runtime.output import OutputProtocol, describe_exit, line_level
from devd.runtime.runtime_api import RuntimeApiServer
from devd.runtime.launch import runtime_command, spawn_runtime
from devd.runtime.worker import INIT_TIMEOUT_S, STOP_GRACE_S, LogSink
from devd.supervise.backoff import Backoff
from devd.supervise.process_group import stop_process_group

logger = logging.getLogger("devd.runtime.spares")

LOG_SOURCE = "devd"
"""The source of the log records about spares, which belong to no function yet."""

REFILL_DELAY_S = 0.1
"""Time between the end of a taken spare's init and the start of its replacement. The delay
and the wait for the init keep the new process from competing for the CPU with the handler
import and the first invocation, which the first request of a new build waits for."""

LineSink = Callable[[int, str], None]
ExitSink = Callable[[int], None]


@dataclass(frozen=True)
class SpareKind:
    """The bootstrap language, interpreter and startup variables that a spare shares with the
    workers that may take it over."""

    language: str
    interpreter: str
    startup: tuple[tuple[str, str], ...]

    @classmethod
    def for_environment(cls, language: str, interpreter: str, env: Mapping[str, str]) -> SpareKind:
        """Return the kind of spare that a worker with this interpreter and environment can use."""
        return cls(language, interpreter, tuple(sorted(startup_variables(language, env).items())))

    def describe(self) -> str:
        """Describe the kind for log lines, such as "node (/usr/bin/node)"."""
        return f"{self.language} ({self.interpreter})"


class Spare:
    """One spare runtime process and the Runtime API server that only it uses.

    Until a worker takes it over with `hand_over`, its output goes to the log sink under
    "devd", and `on_death` hears of an exit that `close` did not cause.
    """

    def __init__(self, kind: SpareKind, on_log: LogSink) -> None:
        self.kind = kind
        self.pid = 0
        self.env: dict[str, str] = {}
        self.server = RuntimeApiServer()
        self.on_death: Callable[[Spare, int], None] | None = None
        self._on_log = on_log
        self._protocol = OutputProtocol(self._on_line, self._on_exit)
        self._transport: asyncio.SubprocessTransport | None = None
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._line_target: LineSink | None = None
        self._exit_target: ExitSink | None = None
        self._stopping = False

    async def start(self) -> None:
        """Start the server and the process. Raises OSError when the process cannot start, and
        RuntimeStartError for a language that devd has no bootstrap for."""
        await self.server.start()
        self.env = spare_environment(dict(self.kind.startup), self.server.address)
        command = runtime_command(self.kind.language, self.kind.interpreter)

        # The working directory is neutral: the assignment changes it to the task root.
        self._transport = await spawn_runtime(command, cwd=BOOTSTRAP_DIR, env=self.env, protocol=self._protocol)
        self.pid = self._transport.get_pid()
        self.server.set_runtime_pid(self.pid)
        logger.debug("started spare %d: %s", self.pid, command)

    @property
    def ready(self) -> bool:
        """Whether the process polls for its assignment and is neither taken over nor stopped."""
        taken_over = self._exit_target is not None
        stopped = self._exited.done() or self._stopping
        return self.server.assignment_requested.is_set() and not (taken_over or stopped)

    async def wait_ready(self, timeout_s: float) -> bool:
        """Wait until the process polls for its assignment. Returns False when it exited first
        or did not poll within `timeout_s` seconds."""
        polled = asyncio.ensure_future(self.server.assignment_requested.wait())
        try:
            await asyncio.wait([polled, self._exited], timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            polled.cancel()
        return self.ready

    def fits(self, language: str, interpreter: str, env: Mapping[str, str]) -> bool:
        """Return whether a worker with this interpreter and environment can take the spare
        over: it is ready, and its process started with the same startup variables."""
        return self.ready and self.kind == SpareKind.for_environment(language, interpreter, env)

    def hand_over(
        self, on_line: LineSink, on_exit: ExitSink
    ) -> tuple[asyncio.SubprocessTransport, OutputProtocol, int]:
        """Pass the process to a worker: its transport, output protocol and pid.

        From now on `on_line` receives the output lines and `on_exit` the exit status, and the
        worker stops the process. Raises RuntimeStartError when the spare is not `ready`.
        """
        if not self.ready or self._transport is None:
            raise RuntimeStartError(f"spare {self.pid} cannot be taken over: it is not ready")

        self._line_target = on_line
        self._exit_target = on_exit
        return self._transport, self._protocol, self.pid

    async def close(self) -> None:
        """Stop the process group and the server, unless a worker has taken them over."""
        if self._exit_target is not None:
            return

        self._stopping = True
        if self._transport is not None:
            await stop_process_group(self.pid, self._exited, STOP_GRACE_S)
            self._transport.close()
        await self.server.close()

    def _on_line(self, stream: int, text: str) -> None:
        if self._line_target is not None:
            self._line_target(stream, text)
            return
        message = f"spare {self.kind.language} runtime {self.pid}: {text}"
        self._on_log(LogRecord(source=LOG_SOURCE, text=message, level=line_level(text, stream)))

    def _on_exit(self, returncode: int) -> None:
        if self._exit_target is not None:
            self._exit_target(returncode)
            return

        if not self._exited.done():
            self._exited.set_result(returncode)
        if not self._stopping and self.on_death is not None:
            self.on_death(self, returncode)


class SpareWorkers:
    """Ready spares for every kind that pools have asked for, until `close`.

    `per_kind` spares of each kind are kept ready. `backoff` makes the delay policy for
    replacing spares that fail to start or die; tests pass shorter delays. A replacement for
    a taken spare starts `refill_delay_s` seconds after that spare's runtime has loaded its
    handler, failed to, or run out of Lambda's init limit.
    """

    def __init__(
        self,
        on_log: LogSink,
        *,
        per_kind: int = 1,
        backoff: Callable[[], Backoff] = Backoff,
        refill_delay_s: float = REFILL_DELAY_S,
    ) -> None:
        """Raises ConfigError for `per_kind` below 1 or a negative `refill_delay_s`."""
        if per_kind < 1:
            raise ConfigError(f"per_kind must be at least 1, not {per_kind}")
        if refill_delay_s < 0:
            raise ConfigError(f"refill_delay_s must be 0 or more, not {refill_delay_s}")

        self._on_log = on_log
        self._per_kind = per_kind
        self._backoff = backoff
        self._refill_delay_s = refill_delay_s
        self._supplies: dict[SpareKind, _Supply] = {}
        self._closed = False

    def prepare(self, kind: SpareKind) -> None:
        """Keep spares of this kind ready from now on, starting the first in the background."""
        if not self._closed:
            self._supply(kind)

    def take(self, kind: SpareKind) -> Spare | None:
        """Return a ready spare of this kind, whose process the caller then owns, or None.

        A replacement starts in the background. The first call for a kind that was not
        prepared returns None and starts keeping spares of it. After `close`, returns None.
        """
        if self._closed:
            return None
        return self._supply(kind).take()

    def ready_pids(self, kind: SpareKind) -> tuple[int, ...]:
        """Return the process ids of the ready spares of a kind, in the order `take` uses."""
        supply = self._supplies.get(kind)
        return supply.ready_pids() if supply is not None else ()

    async def close(self) -> None:
        """Stop every spare that no worker has taken, and stop starting new ones."""
        self._closed = True
        supplies = list(self._supplies.values())
        self._supplies.clear()
        await asyncio.gather(*(supply.close() for supply in supplies))

    def _supply(self, kind: SpareKind) -> _Supply:
        supply = self._supplies.get(kind)
        if supply is None:
            supply = _Supply(kind, self._per_kind, self._on_log, self._backoff(), self._refill_delay_s)
            self._supplies[kind] = supply
        return supply


class _Supply:
    """The ready spares of one kind, and the task that starts spares while fewer are ready."""

    def __init__(
        self, kind: SpareKind, count: int, on_log: LogSink, backoff: Backoff, refill_delay_s: float
    ) -> None:
        self.kind = kind
        self._count = count
        self._on_log = on_log
        self._backoff = backoff
        self._refill_delay_s = refill_delay_s
        self._ready: list[Spare] = []
        self._refill_requested = asyncio.Event()
        self._last_taken: Spare | None = None
        self._cleanups: set[asyncio.Task[None]] = set()
        self._keeper = asyncio.get_running_loop().create_task(self._keep())

    def take(self) -> Spare | None:
        while self._ready:
            spare = self._ready.pop(0)
            if spare.ready:
                spare.on_death = None
                self._last_taken = spare
                self._refill_requested.set()
                return spare
        return None

    def ready_pids(self) -> tuple[int, ...]:
        return tuple(spare.pid for spare in self._ready if spare.ready)

    async def close(self) -> None:
        self._keeper.cancel()
        await asyncio.gather(self._keeper, return_exceptions=True)

        spares = list(self._ready)
        self._ready.clear()
        await asyncio.gather(*(spare.close() for spare in spares), *self._cleanups)

    async def _keep(self) -> None:
        while True:
            while len(self._ready) < self._count:
                await asyncio.sleep(self._backoff.next_delay(time.monotonic()))
                spare = await self._start_one()
                if spare is not None:
                    self._ready.append(spare)

            self._refill_requested.clear()
            await self._refill_requested.wait()
            await self._wait_for_taken_init()
            await asyncio.sleep(self._refill_delay_s)

    async def _wait_for_taken_init(self) -> None:
        taken_spare, self._last_taken = self._last_taken, None
        if taken_spare is None:
            return
        # asyncio.timeout passes on the cancel of `close`, which wait_for in Python 3.11 can
        # swallow when the wait ends at the same moment.
        try:
            async with asyncio.timeout(INIT_TIMEOUT_S):
                await taken_spare.server.init_finished.wait()
        except TimeoutError:
            pass

    async def _start_one(self) -> Spare | None:
        """Start one spare and wait until it polls. Returns None when it failed, which is logged."""
        spare = Spare(self.kind, self._on_log)
        self._backoff.record_start(time.monotonic())
        try:
            await spare.start()
            ready = await spare.wait_ready(INIT_TIMEOUT_S)
        except (OSError, RuntimeStartError) as error:
            await spare.close()
            self._record_failure(f"could not start: {error}")
            return None
        except BaseException:
            await spare.close()
            raise

        if not ready:
            await spare.close()
            self._record_failure(f"did not poll for an assignment within {INIT_TIMEOUT_S:.0f} s")
            return None

        spare.on_death = self._on_death
        return spare

    def _on_death(self, spare: Spare, returncode: int) -> None:
        if spare in self._ready:
            self._ready.remove(spare)
        self._record_failure(f"(pid {spare.pid}) exited with {describe_exit(returncode)}")

        # The process is gone, but its server and pipes still need closing.
        task = asyncio.get_running_loop().create_task(spare.close())
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
        self._refill_requested.set()

    def _record_failure(self, reason: str) -> None:
        delay_s = self._backoff.record_exit(time.monotonic())
        message = f"a spare {self.kind.describe()} runtime {reason}. The next one starts in {delay_s:.1f} s."
        logger.warning("%s", message)
        self._on_log(LogRecord(source=LOG_SOURCE, text=message, level=Level.WARNING))
