"""Output of a worker process: lines from its pipes, their log levels, and how it exited."""

from __future__ import annotations

import asyncio
import re
import select
import signal
from typing import Callable

from devd.logs.records import Level

STDERR = 2

_MAX_DRAIN_ROUNDS = 100

_MAX_LINE_BYTES = 64 * 1024
"""Maximum line length in bytes. A longer run of bytes without a newline becomes several lines."""

_LEVEL_TAGS = {
    "DEBUG": Level.DEBUG,
    "INFO": Level.INFO,
    "WARN": Level.WARNING,
    "WARNING": Level.WARNING,
    "ERROR": Level.ERROR,
    "CRITICAL": Level.ERROR,
    "FATAL": Level.ERROR,
}
_LEVEL_TAG = re.compile(r"^\[(DEBUG|INFO|WARN|WARNING|ERROR|CRITICAL|FATAL)\]")
_ERROR_START = re.compile(r"^\s*(\w*(Error|Exception)\b|Traceback \(most recent call last\)|Uncaught|Unhandled)")


def line_level(text: str, stream: int) -> Level:
    """Guess the level of one output line.

    A "[LEVEL]" prefix, as Python's logging writes it in the bootstrap, decides. Otherwise
    stdout lines are INFO, and stderr lines are WARNING unless they start like an error.
    """
    tag = _LEVEL_TAG.match(text)
    if tag:
        return _LEVEL_TAGS[tag.group(1)]
    if stream != STDERR:
        return Level.INFO
    return Level.ERROR if _ERROR_START.match(text) else Level.WARNING


def describe_exit(returncode: int) -> str:
    """Describe a process's exit, such as "exit status 3" or "signal SIGKILL"."""
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        return f"signal {signal.Signals(-returncode).name}"
    except ValueError:
        return f"signal {-returncode}"


class OutputProtocol(asyncio.SubprocessProtocol):
    """Splits a process's stdout and stderr into lines as the bytes arrive.

    `on_line(stream, text)` receives each line without its line break, where stream is 1 for
    stdout and 2 for stderr. `on_exit(returncode)` runs when the process has been reaped.
    """

    def __init__(self, on_line: Callable[[int, str], None], on_exit: Callable[[int], None]) -> None:
        self._on_line = on_line
        self._on_exit = on_exit
        self._partial = {1: bytearray(), 2: bytearray()}
        self._open_streams = {1, 2}
        self._closed = asyncio.Event()
        self._transport: asyncio.SubprocessTransport | None = None
        self._exited = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        if self._exited:
            self.process_exited()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        buffer = self._partial[fd]
        buffer.extend(data)

        end = buffer.find(b"\n")
        while end >= 0:
            self._send(fd, bytes(buffer[:end]))
            del buffer[: end + 1]
            end = buffer.find(b"\n")

        if len(buffer) > _MAX_LINE_BYTES:
            self._send(fd, bytes(buffer))
            buffer.clear()

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        buffer = self._partial.get(fd)
        if buffer:
            self._send(fd, bytes(buffer))
            buffer.clear()

        self._open_streams.discard(fd)
        if not self._open_streams:
            self._closed.set()

    def process_exited(self) -> None:
        if self._transport is None:
            # uvloop can report the exit of a quick process before connection_made.
            self._exited = True
            return
        returncode = self._transport.get_returncode()
        self._on_exit(returncode if returncode is not None else -1)

    async def wait_closed(self, timeout_s: float) -> None:
        """Wait until stdout and stderr reach end of file, for at most `timeout_s` seconds.

        A process that left children behind may keep the pipes open after it exits.
        """
        try:
            await asyncio.wait_for(self._closed.wait(), timeout_s)
        except TimeoutError:
            pass

    def _send(self, fd: int, line: bytes) -> None:
        self._on_line(fd, line.decode("utf-8", "replace").rstrip("\r"))


async def drain_pipes(transport: asyncio.SubprocessTransport) -> None:
    """Wait until what a process wrote to its stdout and stderr so far has been read, for at most
    100 rounds of the event loop."""
    poller = select.poll()
    for fd in _pipe_fds(transport):
        poller.register(fd, select.POLLIN)

    for _ in range(_MAX_DRAIN_ROUNDS):
        if not any(events & select.POLLIN for _, events in poller.poll(0)):
            return
        await asyncio.sleep(0)


def _pipe_fds(transport: asyncio.SubprocessTransport) -> list[int]:
    fds = []
    for stream in (1, 2):
        pipe_transport = transport.get_pipe_transport(stream)
        if pipe_transport is None or pipe_transport.is_closing():
            continue
        # asyncio reads a pipe; uvloop reads a socket pair.
        pipe = pipe_transport.get_extra_info("pipe") or pipe_transport.get_extra_info("socket")
        if pipe is not None:
            fds.append(pipe.fileno())
    return fds
