"""Snapshots of a supervised process's state, and the one-line text the views show for them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from devd.runtime.output import describe_exit


class ProcessState(str, Enum):
    """Life-cycle state of a supervised process."""

    STARTING = "starting"
    """devd is starting the process and does not have its pid yet."""

    RUNNING = "running"
    """The process runs."""

    BACKOFF = "backoff"
    """The process exited on its own and waits for its next start at `next_attempt_at`."""

    STOPPING = "stopping"
    """devd sent SIGTERM to the process group and waits for it to exit."""

    STOPPED = "stopped"
    """The process is not running and devd will not start it until asked to."""

    FAILED = "failed"
    """The process could not be started, because its program or directory is missing. devd
    does not retry it until `restart()`, and `detail` contains the reason."""


@dataclass(frozen=True)
class ProcessStatus:
    """Snapshot of one supervised process.

    `pid` is also the id of the process group. `restarts` counts the starts after the first,
    automatic and manual. `last_exit_code` is a return code as
    asyncio reports it: negative for a signal, so -9 means SIGKILL. `next_attempt_at` is
    set only in BACKOFF and uses the supervisor's clock (`time.monotonic()` unless another
    clock was passed in). `consecutive_failures` counts exits since the last steady run.
    """

    name: str
    state: ProcessState
    pid: int | None = None
    restarts: int = 0
    last_exit_code: int | None = None
    next_attempt_at: float | None = None
    consecutive_failures: int = 0
    detail: str = ""

    def seconds_to_next_attempt(self, now: float) -> float | None:
        """Return the seconds from `now` until the next start, or None outside BACKOFF."""
        if self.state is not ProcessState.BACKOFF or self.next_attempt_at is None:
            return None
        return max(0.0, self.next_attempt_at - now)


def describe_status(status: ProcessStatus, now: float) -> str:
    """Describe a status in a few words, such as "crash loop (exit status 1), next attempt in 8 s".

    `now` must come from the same clock as `status.next_attempt_at`.
    """
    state = status.state
    if state is ProcessState.RUNNING:
        return f"running, pid {status.pid}"
    if state is ProcessState.FAILED:
        return f"failed: {status.detail}" if status.detail else "failed"
    if state is not ProcessState.BACKOFF:
        return state.value

    exit_text = describe_exit(status.last_exit_code) if status.last_exit_code is not None else "exited"
    if status.consecutive_failures > 1:
        exit_text = f"crash loop ({exit_text})"
    remaining = status.seconds_to_next_attempt(now) or 0.0
    return f"{exit_text}, next attempt in {math.ceil(remaining)} s"
