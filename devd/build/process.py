"""Run one build tool (pip, a user's build command) to completion in its own process group.

The child leads a new process group and receives SIGKILL from the kernel if devd dies, so
neither a timeout nor a `kill -9` of devd leaves the tool or its children running. Its stdout
and stderr are read as one stream, and the last lines are kept for error messages.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from devd.errors import BuildError, ToolchainMissing
from devd.supervise.process_group import die_with_parent, stop_process_group

logger = logging.getLogger("devd.build")

STOP_GRACE_SECONDS = 3.0
OUTPUT_TAIL_LINES = 30
_LINE_LIMIT_BYTES = 1024 * 1024
# A process that left the group (with setsid) may keep the output pipe open after the group
# is stopped, so reading its output stops after this many seconds.
_READ_GRACE_SECONDS = 1.0
_EXIT_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class ProcessOutcome:
    """How a finished build tool ended and the end of what it wrote."""

    returncode: int | None
    """The exit code, or None when the tool timed out and was stopped."""
    output_tail: str
    """The last lines of stdout and stderr together, in the order the tool wrote them."""
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """Whether the tool exited with code 0 within its timeout."""
        return self.returncode == 0 and not self.timed_out


async def run_tool(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
    tail_lines: int = OUTPUT_TAIL_LINES,
) -> ProcessOutcome:
    """Run `argv` in `cwd` and wait for it; stop its process group after `timeout` seconds.

    Raises ToolchainMissing when the program is not found or not executable, and BuildError
    when `cwd` does not exist or the program fails to start for another reason. Cancelling
    the caller stops the process group before the cancellation propagates.
    """
    if not cwd.is_dir():
        raise BuildError(
            f"directory {cwd} for running {argv[0]} does not exist: create it or fix the path"
        )
    environment = dict(os.environ if env is None else env)
    # A cancellation that arrives while the child starts must still stop it, so the start
    # runs in its own task and is awaited to its end.
    spawning = asyncio.create_task(_spawn(argv, cwd, environment))
    try:
        process = await asyncio.shield(spawning)
    except asyncio.CancelledError:
        await _stop_spawned(spawning)
        raise

    tail: deque[str] = deque(maxlen=tail_lines)
    reader = asyncio.create_task(_read_lines(process, tail))
    exited = asyncio.create_task(_exit_code(process))
    try:
        await asyncio.wait_for(asyncio.shield(exited), timeout)
    except TimeoutError:
        logger.warning("%s ran longer than %g s: stopping its process group", argv[0], timeout)
        await _stop(process, exited, reader)
        return ProcessOutcome(None, "\n".join(tail), timed_out=True)
    except asyncio.CancelledError:
        await _stop(process, exited, reader)
        raise

    # The tool may leave children behind that still hold its output pipe open.
    await _stop(process, exited, reader)
    return ProcessOutcome(exited.result(), "\n".join(tail))


async def _spawn(
    argv: Sequence[str], cwd: Path, environment: Mapping[str, str]
) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
            limit=_LINE_LIMIT_BYTES,
        )
    except FileNotFoundError as error:
        raise ToolchainMissing(
            f"{argv[0]} not found (running in {cwd}): install it or fix the command"
        ) from error
    except PermissionError as error:
        raise ToolchainMissing(
            f"{argv[0]} is not executable (running in {cwd}): check the path and its permissions"
        ) from error
    except OSError as error:
        raise BuildError(f"starting {argv[0]} in {cwd} failed: {error}") from error


async def _stop_spawned(spawning: asyncio.Task[asyncio.subprocess.Process]) -> None:
    """Wait for a start whose caller was cancelled, then stop the started process group."""
    try:
        process = await spawning
    except BuildError:
        return
    exited = asyncio.create_task(_exit_code(process))
    await stop_process_group(process.pid, exited, STOP_GRACE_SECONDS)
    try:
        await asyncio.wait_for(process.communicate(), _READ_GRACE_SECONDS)
    except TimeoutError:
        logger.warning(
            "the output of pid %d stayed open after its process group stopped", process.pid
        )


async def _exit_code(process: asyncio.subprocess.Process) -> int:
    """Wait until the process has exited and been reaped; return its exit code.

    `Process.wait()` also waits until the output pipe closes (on Python 3.11), which a
    background child of the tool may hold open, so this polls the exit code.
    """
    while process.returncode is None:
        await asyncio.sleep(_EXIT_POLL_SECONDS)
    return process.returncode


async def _stop(
    process: asyncio.subprocess.Process, exited: asyncio.Task[int], reader: asyncio.Task[None]
) -> None:
    """Stop what is left of the process group, then read the output to its end."""
    await stop_process_group(process.pid, exited, STOP_GRACE_SECONDS)
    try:
        await asyncio.wait_for(reader, _READ_GRACE_SECONDS)
    except TimeoutError:
        logger.warning(
            "the output of pid %d stayed open after its process group stopped", process.pid
        )
        reader.cancel()
        return
    await process.wait()


async def _read_lines(process: asyncio.subprocess.Process, tail: deque[str]) -> None:
    assert process.stdout is not None
    while True:
        try:
            line = await process.stdout.readline()
        except ValueError:
            # readline drops a line longer than the stream's limit and raises this.
            tail.append(f"[a line longer than {_LINE_LIMIT_BYTES} bytes was left out]")
            continue
        if not line:
            return
        text = line.decode(errors="replace").rstrip()
        tail.append(text)
        logger.debug("pid %d: %s", process.pid, text)
