"""Plain-text view of a running daemon, for `--no-tui` and for logs that go to a file or pipe.

The `format_*` functions turn one record or one snapshot change into one line of text.
The TUI reuses the small ones (`format_clock`, `format_build_state`, ...) so both views
show the same values.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TextIO

from devd.engine.handle import DaemonHandle, Update
from devd.engine.view import BuildState, FunctionView, Snapshot
from devd.logs.records import Level, LogRecord, RequestRecord
from devd.supervise.status import describe_status

REQUEST_ID_LENGTH = 8
"""Characters of a request id that the views show, enough to tell concurrent requests apart."""

LEVEL_MARKERS = {Level.ERROR: "ERROR", Level.WARNING: "WARNING"}
"""Words that the console puts before the text of a log record of these levels."""


def format_clock(timestamp: float) -> str:
    """Return the local wall-clock time of a Unix timestamp as HH:MM:SS."""
    global _last_clock
    second = int(timestamp)
    if _last_clock[0] != second:
        _last_clock = (second, time.strftime("%H:%M:%S", time.localtime(second)))
    return _last_clock[1]


_last_clock: tuple[int, str] = (-1, "")
"""The last second that format_clock formatted, since records come many to a second."""


def short_request_id(request_id: str) -> str:
    """Return the first characters of a request id, as the views show it."""
    return request_id[:REQUEST_ID_LENGTH]


def first_line(text: str) -> str:
    """Return the first non-blank line of a multi-line message, stripped, or "" if there is none."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def format_build_state(function: FunctionView) -> str:
    """Return the build state as the functions table shows it: "ready #3", "building", "FAILED"."""
    if function.build_state is BuildState.READY:
        return f"ready #{function.generation}"
    if function.build_state is BuildState.FAILED:
        return "FAILED"
    return function.build_state.value


def format_duration_ms(duration_ms: float | None) -> str:
    """Return a build duration in whole milliseconds ("35 ms"), or "" when there is none."""
    if duration_ms is None:
        return ""
    return f"{duration_ms:.0f} ms"


def format_log_line(record: LogRecord) -> str:
    """Format a log record as `HH:MM:SS source | ERROR [req 1a2b3c4d] text`.

    The level marker appears for errors and warnings only, and the request id only
    when the record has one.
    """
    parts = [f"{format_clock(record.time)} {record.source} |"]

    marker = LEVEL_MARKERS.get(record.level)
    if marker is not None:
        parts.append(marker)

    if record.request_id:
        parts.append(f"[req {short_request_id(record.request_id)}]")

    parts.append(record.text.rstrip("\r\n"))
    return " ".join(parts)


def format_request_line(record: RequestRecord) -> str:
    """Format a request record as `HH:MM:SS GET /hello -> 200 (12.3 ms) get-hello`.

    The function name is left out when the request matched no function (a 404 from the router).
    """
    line = (
        f"{format_clock(record.time)} {record.method} {record.path}"
        f" -> {record.status} ({record.duration_ms:.1f} ms)"
    )
    if record.function:
        line += f" {record.function}"
    return line


def format_serving_line(snapshot: Snapshot) -> str:
    """Format the line with the URL that the daemon serves on."""
    return f"serving {snapshot.url}"


def format_problem_line(problem: str) -> str:
    """Format a problem that the daemon reports in its snapshot, such as unreadable Terraform."""
    return f"problem: {problem}"


def format_build_change(function: FunctionView) -> str:
    """Format a function's new build state: `hello: ready #2 in 35 ms`, `hello: build FAILED: ...`."""
    state = function.build_state

    if state is BuildState.READY:
        line = f"{function.name}: ready #{function.generation}"
        if function.last_build_ms is not None:
            line += f" in {format_duration_ms(function.last_build_ms)}"
        return line

    if state is BuildState.FAILED:
        error = first_line(function.error or "")
        if error:
            return f"{function.name}: build FAILED: {error}"
        return f"{function.name}: build FAILED"

    if state is BuildState.BUILDING:
        return f"{function.name}: building"
    if state is BuildState.NOT_RUNNABLE:
        return f"{function.name}: not runnable locally: {first_line(function.error or '')}"
    return f"{function.name}: build pending"


def format_removed_function(function: FunctionView) -> str:
    """Format the line for a function that is no longer in the Terraform."""
    return f"{function.name}: removed"


def new_problems(previous: Snapshot | None, current: Snapshot) -> tuple[str, ...]:
    """Return the problems of `current` that `previous` did not have, in their order."""
    known = set(previous.problems) if previous is not None else set()
    return tuple(problem for problem in current.problems if problem not in known)


def _build_signature(function: FunctionView) -> tuple[object, ...]:
    """Return the fields whose change makes the console print a build line."""
    return (function.build_state, function.generation, function.error, function.last_built_at)


def format_snapshot_changes(previous: Snapshot | None, current: Snapshot) -> list[str]:
    """Return the lines for what changed from `previous` to `current`.

    With no previous snapshot, the result starts with the serving line and lists every
    function's build state. After that it lists functions whose build state, generation,
    error or build time changed, functions that were removed, and new problems.
    """
    lines: list[str] = []
    before: dict[str, FunctionView] = {}

    if previous is None:
        lines.append(format_serving_line(current))
    else:
        before = {function.address: function for function in previous.functions}

    for function in current.functions:
        old = before.pop(function.address, None)
        if old is None or _build_signature(old) != _build_signature(function):
            lines.append(format_build_change(function))

    for removed in before.values():
        lines.append(format_removed_function(removed))

    for problem in new_problems(previous, current):
        lines.append(format_problem_line(problem))

    lines += format_process_changes(previous, current)
    return lines


def format_process_changes(previous: Snapshot | None, current: Snapshot) -> list[str]:
    """Return a line for each side process whose state, pid or restart count changed."""
    before = {status.name: status for status in previous.processes} if previous else {}
    lines = []
    for status in current.processes:
        old = before.get(status.name)
        if old is None or (old.state, old.pid, old.restarts) != (status.state, status.pid, status.restarts):
            lines.append(f"{status.name}: {describe_status(status, time.monotonic())}")
    return lines


async def take_batch(queue: "asyncio.Queue[Update]") -> tuple[list[Update], bool]:
    """Wait for one update, then take every update that is already queued, without waiting.

    Returns the updates in order and whether the `None` sentinel, which a daemon sends
    to its subscribers when it stops, was among them. Updates after the sentinel stay
    in the queue.
    """
    batch: list[Update] = []
    item: Update | None = await queue.get()

    while item is not None:
        batch.append(item)
        if queue.empty():
            return batch, False
        item = queue.get_nowait()

    return batch, True


@dataclass
class ConsoleState:
    """The last snapshot that the console printed, which later snapshots are compared with."""

    previous: Snapshot | None = None

    def lines_for(self, update: Update) -> list[str]:
        """Return the lines to print for one update, and remember it if it is a snapshot."""
        if isinstance(update, LogRecord):
            return [format_log_line(update)]

        if isinstance(update, RequestRecord):
            return [format_request_line(update)]

        lines = format_snapshot_changes(self.previous, update)
        self.previous = update
        return lines


def _write_lines(stream: TextIO, lines: list[str]) -> None:
    if not lines:
        return
    stream.write("".join(f"{line}\n" for line in lines))
    stream.flush()


WRITE_INTERVAL_S = 0.02
"""Minimum time between two writes of the console. Under load the updates of that time go out
in one write, instead of one write and one wake-up of the terminal every few requests."""


async def run_console(daemon: DaemonHandle, stream: TextIO) -> None:
    """Print the daemon's state and every later update to `stream`, one plain line each.

    Subscribes first, then prints the current snapshot: the serving URL once and the
    build state of every function. After that each log and request record becomes one
    line, and each snapshot only the lines for what changed (see
    `format_snapshot_changes`). Updates that are already queued are written together and
    flushed once, and the next write comes `WRITE_INTERVAL_S` later at the earliest, so a burst
    of output costs one write.

    Returns when the queue yields `None`, which the daemon sends when it stops.
    Cancelling the task raises CancelledError. The task can only be cancelled while it
    waits on the queue or between writes, so every update it has taken is already written.
    """
    queue = daemon.subscribe()
    state = ConsoleState()
    _write_lines(stream, state.lines_for(daemon.snapshot()))

    while True:
        batch, stopped = await take_batch(queue)

        lines: list[str] = []
        for update in batch:
            lines.extend(state.lines_for(update))
        _write_lines(stream, lines)

        if stopped:
            return
        await asyncio.sleep(WRITE_INTERVAL_S)
