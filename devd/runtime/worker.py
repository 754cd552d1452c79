"""One warm worker: a runtime process with its own Runtime API server.

The process runs devd's bootstrap for the function's language in its own process group. Each
line it writes to stdout or stderr goes to the log sink, tagged with the request id of the
invocation in flight. A worker serves one invocation at a time, enforces the function's
timeout, and turns a crash, a timeout or a failed handler import into the result that Lambda
would return. A worker that timed out, crashed or failed to load its handler is no longer
`alive`, and its pool replaces it.

A worker either starts its own process, or takes over a spare: a process that already runs
the bootstrap and waits for the function it will be (see `devd.runtime.spares`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from devd.errors import RuntimeStartError
from devd.inventory import Function
from devd.logs.masking import mask_environment
from devd.logs.records import Level, LogRecord
from devd.runtime.environment import log_stream_name, worker_environment
from devd.runtime.invoke import InvokeResult
from devd.runtime.launch import bootstrap_command, function_arn, spawn_runtime
from devd.runtime.output import OutputProtocol, describe_exit, drain_pipes, line_level
from devd.runtime.report import (
    PeakMemoryReader,
    Report,
    end_line,
    report_line,
    start_line,
)
from devd.runtime.resource_limits import limit_worker
from devd.runtime.runtime_api import (
    Assignment,
    Invocation,
    PendingInvocation,
    Reply,
    RuntimeApiServer,
    new_trace_id,
)
from devd.runtime.runtime_errors import ErrorDocument, error_log_lines
from devd.runtime.waits import first_done
from devd.supervise.process_group import stop_process_group

if TYPE_CHECKING:
    from devd.runtime.spares import Spare

logger = logging.getLogger("devd.runtime.worker")

LogSink = Callable[[LogRecord], None]

INIT_TIMEOUT_S = 10.0
"""Time a runtime gets to load its handler before its first event: Lambda's init limit."""

STOP_GRACE_S = 2.0
"""Time between SIGTERM and SIGKILL when a worker is stopped."""

LIFTED_TIMEOUT_S = 12 * 3600.0
"""Init and invocation limit of a worker whose timeouts are lifted for a debugger: long enough
for a debugging session, short enough that a forgotten breakpoint does not hold a request
forever."""

class Worker:
    """One runtime process and the Runtime API server that only it uses.

    Create it with `await Worker.start(...)`, run invocations one at a time with `invoke`,
    and end it with `close`.
    """

    def __init__(
        self,
        function: Function,
        on_log: LogSink,
        arn: str,
        server: RuntimeApiServer | None = None,
        *,
        lift_timeouts: bool = False,
    ) -> None:
        self.function = function
        self.pid = 0
        self.from_spare = False
        self._on_log = on_log
        self._arn = arn
        self._timeout_s = LIFTED_TIMEOUT_S if lift_timeouts else float(function.timeout)
        self._init_limit_s = LIFTED_TIMEOUT_S if lift_timeouts else INIT_TIMEOUT_S
        self._init_reported = False
        self._peak_memory_mb: int | None = None
        self._memory: PeakMemoryReader | None = None
        self._server = server or RuntimeApiServer()
        self._server.on_init_error = self._log_init_error
        self._init_started = time.monotonic()
        self._transport: asyncio.SubprocessTransport | None = None
        self._protocol: OutputProtocol | None = None
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._exit_task: asyncio.Task | None = None
        self._request_id: str | None = None
        self._busy = False
        self._broken = False
        self._stopping = False

    @classmethod
    async def start(
        cls,
        function: Function,
        *,
        task_root: Path,
        handler: str,
        on_log: LogSink,
        interpreter: str,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        passthrough: Sequence[str] = (),
        host_env: Mapping[str, str] | None = None,
        spare: Spare | None = None,
        interpreter_args: Sequence[str] = (),
        extra_env: Mapping[str, str] | None = None,
        lift_timeouts: bool = False,
    ) -> Worker:
        """Start the Runtime API server and the runtime process, which loads the handler.

        `interpreter` is the `node` or `python` executable that runs the bootstrap, with
        `interpreter_args` before the bootstrap script (a debugger's options). A custom
        runtime runs `task_root/bootstrap` instead. `extra_env` is added last, over Lambda's
        variables. `lift_timeouts` replaces the init limit and the function's timeout with
        `LIFTED_TIMEOUT_S`, for a debugger that stops at breakpoints. With a `spare`, the
        worker takes over that waiting process and its server and sends it the function's
        environment, instead of starting a process. A spare whose kind does not fit this
        worker's interpreter and environment is stopped, and a process starts as without one.
        A failed handler import is not raised here: it becomes the result of the first
        invocation. Raises RuntimeStartError when the process cannot be started.
        """
        command = bootstrap_command(function, interpreter, task_root, interpreter_args)
        arn = function_arn(region, account_id, function.name)
        host = os.environ if host_env is None else host_env

        def environment(runtime_api: str) -> dict[str, str]:
            stream = log_stream_name(datetime.now(timezone.utc).date(), uuid.uuid4().hex)
            env = worker_environment(
                function,
                task_root=task_root,
                handler=handler,
                region=region,
                runtime_api=runtime_api,
                log_stream_name=stream,
                host_env=host,
                passthrough=passthrough,
            )
            return {**env, **(extra_env or {})}

        if spare is not None:
            env = environment(spare.server.address)
            if spare.fits(function.language, interpreter, env):
                worker = cls(function, on_log, arn, spare.server, lift_timeouts=lift_timeouts)
                worker._adopt(spare, task_root, env)
                return worker
            logger.debug("spare %d does not fit %s: stopping it and starting a process", spare.pid, function.name)
            await spare.close()

        worker = cls(function, on_log, arn, lift_timeouts=lift_timeouts)
        await worker._server.start()
        env = environment(worker._server.address)
        try:
            await worker._spawn(command, task_root, env)
        except BaseException:
            await worker._server.close()
            raise

        logger.debug(
            "started worker %d for %s: %s, environment %s",
            worker.pid,
            function.name,
            command,
            mask_environment(env),
        )
        return worker

    def _adopt(self, spare: Spare, task_root: Path, env: dict[str, str]) -> None:
        """Take over a ready spare and send it the function. Nothing here awaits, so no exit
        or output of the spare can slip between the take and the hand-over."""
        self._transport, self._protocol, self.pid = spare.hand_over(self._log_line, self._on_process_exit)
        limit_worker(self.pid, self.function)
        self.from_spare = True
        self._init_started = time.monotonic()
        self._server.assign(Assignment(env, str(task_root), spare.env))
        logger.debug(
            "worker %d for %s started from a spare, environment %s",
            self.pid,
            self.function.name,
            mask_environment(env),
        )

    async def _spawn(self, command: list[str], task_root: Path, env: dict[str, str]) -> None:
        protocol = OutputProtocol(self._log_line, self._on_process_exit)
        self._protocol = protocol
        try:
            transport = await spawn_runtime(command, cwd=task_root, env=env, protocol=protocol)
        except OSError as error:
            raise RuntimeStartError(
                f"cannot start the {self.function.language} runtime for {self.function.name} "
                f"with {command[0]!r} in {task_root}: {error}. Install it or choose another "
                "executable."
            ) from error

        self._transport = transport
        self.pid = transport.get_pid()
        self._server.set_runtime_pid(self.pid)
        limit_worker(self.pid, self.function)
        self._init_started = time.monotonic()

    @property
    def alive(self) -> bool:
        """Whether the worker can take another invocation: its process runs and is healthy."""
        return not (self._exited.done() or self._broken or self._stopping)

    @property
    def busy(self) -> bool:
        """Whether an invocation is in flight."""
        return self._busy

    async def wait_initialized(self) -> None:
        """Wait until the runtime has loaded its handler, reported that it cannot, or exited.

        Returns at the end of the init limit at the latest. The next invocation reports
        an init phase that ran out of time.
        """
        finished = asyncio.ensure_future(self._server.init_finished.wait())
        try:
            await asyncio.wait(
                [finished, self._exited], timeout=self._init_wait_s(), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            finished.cancel()

    async def invoke(self, event: bytes, request_id: str) -> InvokeResult:
        """Deliver one JSON event to the handler and return the result Lambda would return.

        A thrown error, a crash and a timeout are results with `function_error` "Unhandled",
        not exceptions. Cancelling the call leaves the worker not `alive`, because its handler
        may still be running.
        """
        if self._busy or not self.alive:
            raise RuntimeStartError(f"worker {self.pid} of {self.function.name} cannot take an invocation")

        self._busy = True
        self._request_id = request_id
        invocation = Invocation(request_id, event, self._arn, self._timeout_s, new_trace_id())
        pending = self._server.submit(invocation)
        pending.delivered.add_done_callback(self._log_start)
        try:
            result = await self._run(pending)
            self._emit_end_and_report(result, pending)
            return result
        except asyncio.CancelledError:
            self._broken = True
            logger.debug("invocation %s on worker %d was cancelled", request_id, self.pid)
            raise
        finally:
            self._server.discard(request_id)
            self._request_id = None
            self._busy = False

    async def _run(self, pending: PendingInvocation) -> InvokeResult:
        request_id = pending.invocation.request_id

        # A cold worker must load its handler before it fetches the event, within Lambda's
        # init limit. A warm worker's poll already waits, and `submit` delivered the event.
        if not pending.delivered.done():
            await first_done((pending.delivered, pending.reply, self._exited), self._init_wait_s())
        if pending.reply.done() and not pending.delivered.done():
            return self._reply_result(request_id, pending.reply.result(), 0.0)
        if not pending.delivered.done():
            if self._exited.done():
                return self._exit_result(request_id, 0.0)
            return await self._timeout_result(request_id, "Init phase", self._init_limit_s)

        delivered_at = pending.delivered.result()
        timeout_s = self._timeout_s
        remaining_s = delivered_at + timeout_s - time.monotonic()
        await first_done((pending.reply, self._exited), max(0.0, remaining_s))

        duration_ms = (time.monotonic() - delivered_at) * 1000
        if pending.reply.done():
            reply = pending.reply.result()
            await self._drain_output()
            return self._reply_result(request_id, reply, (reply.received_at - delivered_at) * 1000)
        if self._exited.done():
            return self._exit_result(request_id, duration_ms)
        return await self._timeout_result(request_id, "Task", timeout_s)

    def _init_wait_s(self) -> float:
        """Return how long the runtime may take to fetch the next event.

        While it loads its handler, that is what is left of the init limit, which runs from
        the process start or the spare's assignment. Once it polls, the whole limit applies,
        although a warm runtime fetches at once.
        """
        if self._server.init_finished.is_set():
            return self._init_limit_s
        return max(0.0, self._init_started + self._init_limit_s - time.monotonic())

    def _log_start(self, delivered: asyncio.Future[float]) -> None:
        # Runs before the event reaches the runtime, so START precedes the handler's output.
        if not delivered.cancelled():
            request_id = self._request_id
            self._emit(Level.INFO, start_line(request_id or ""), request_id, secret_free=True)

    def _emit_end_and_report(self, result: InvokeResult, pending: PendingInvocation) -> None:
        """Log END and REPORT, after START when the runtime never fetched the event."""
        request_id = result.request_id
        if not pending.delivered.done():
            pending.delivered.cancel()
            self._emit(Level.INFO, start_line(request_id), request_id, secret_free=True)

        # A handler's own error leaves the environment usable. A timeout, a crash or a failed
        # init ends it, and Lambda's REPORT line then carries a status and the error type.
        status, error_type = None, None
        if result.function_error and not self.alive:
            status = "timeout" if result.error_type == "Sandbox.Timedout" else "error"
            error_type = result.error_type
        report = Report(
            request_id,
            result.duration_ms,
            self.function.memory,
            self._memory_reader().read() or self._peak_memory_mb,
            init_duration_ms=self._take_init_duration_ms(),
            status=status,
            error_type=error_type,
        )
        self._emit(Level.INFO, end_line(request_id), request_id, secret_free=True)
        # The error type comes from the function, so a failure's REPORT line is masked.
        self._emit(Level.INFO, report_line(report), request_id, secret_free=error_type is None)

    def _take_init_duration_ms(self) -> float | None:
        """Return the init duration on the worker's first report, and None afterwards."""
        finished_at = self._server.init_finished_at
        if self._init_reported or finished_at is None:
            return None
        self._init_reported = True
        return (finished_at - self._init_started) * 1000

    def _reply_result(self, request_id: str, reply: Reply, duration_ms: float) -> InvokeResult:
        if reply.error is None:
            return InvokeResult(request_id, reply.payload, None, duration_ms)

        if reply.during_init:
            self._broken = True
        else:
            self._log_error_document(reply.error, request_id)
        return InvokeResult(request_id, reply.payload, "Unhandled", duration_ms, reply.error.error_type)

    def _exit_result(self, request_id: str, duration_ms: float) -> InvokeResult:
        reason = describe_exit(self._exited.result())
        error = ErrorDocument("Runtime.ExitError", f"RequestId: {request_id} Error: Runtime exited with {reason}")
        return InvokeResult(request_id, error.to_json(), "Unhandled", duration_ms, error.error_type)

    async def _timeout_result(self, request_id: str, phase: str, timeout_s: float) -> InvokeResult:
        message = f"{phase} timed out after {timeout_s:.2f} seconds"
        self._emit(Level.ERROR, message, request_id)
        self._peak_memory_mb = self._memory_reader().read()
        await self.close()

        error = ErrorDocument("Sandbox.Timedout", f"RequestId: {request_id} Error: {message}")
        return InvokeResult(request_id, error.to_json(), "Unhandled", timeout_s * 1000, error.error_type)

    def _memory_reader(self) -> PeakMemoryReader:
        if self._memory is None:
            self._memory = PeakMemoryReader(self.pid)
        return self._memory

    async def close(self) -> None:
        """Stop the process group (SIGTERM, then SIGKILL after a grace period) and the server.

        Returns when the process has exited and been reaped.
        """
        self._stopping = True
        if self._transport is not None:
            await stop_process_group(self.pid, self._exited, STOP_GRACE_S)
            self._transport.close()
        if self._exit_task is not None:
            await self._exit_task
        await self._server.close()
        if self._memory is not None:
            self._memory.close()

    async def _drain_output(self) -> None:
        # The runtime writes its output before it posts the response, so this keeps the
        # handler's last lines tagged with the request id of the invocation that wrote them.
        if self._transport is not None:
            await drain_pipes(self._transport)

    def _on_process_exit(self, returncode: int) -> None:
        self._exit_task = asyncio.get_running_loop().create_task(self._finish_exit(returncode))

    async def _finish_exit(self, returncode: int) -> None:
        # The exit is reported after the process's last output lines.
        if self._protocol is not None:
            await self._protocol.wait_closed(timeout_s=1.0)

        expected = self._stopping or self._broken
        if expected:
            logger.debug("worker %d of %s exited: %s", self.pid, self.function.name, describe_exit(returncode))
        else:
            self._emit(Level.ERROR, f"Runtime exited with {describe_exit(returncode)}", self._request_id)

        if not self._exited.done():
            self._exited.set_result(returncode)

    def _log_line(self, stream: int, text: str) -> None:
        self._emit(line_level(text, stream), text, self._request_id)

    def _log_init_error(self, error: ErrorDocument) -> None:
        self._broken = True
        self._log_error_document(error, self._request_id)

    def _log_error_document(self, error: ErrorDocument, request_id: str | None) -> None:
        for line in error_log_lines(error):
            self._emit(Level.ERROR, line, request_id)

    def _emit(self, level: Level, text: str, request_id: str | None, secret_free: bool = False) -> None:
        record = LogRecord(self.function.name, text, level, request_id, secret_free=secret_free)
        try:
            self._on_log(record)
        except Exception:
            # A failing sink must not close the pipes that feed it.
            logger.exception("the log sink failed on a line of %s", self.function.name)

