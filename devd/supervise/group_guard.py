"""A small parent that runs one command and takes its whole process group down with devd.

The kernel sends the parent-death signal (PR_SET_PDEATHSIG) only to devd's direct child, and
a forked process does not inherit it. So when a supervised command starts processes of its
own (a shell line, a server with workers), a `kill -9` of devd would leave those running. The
guard is the direct child instead: it leads the process group, runs the command as its own
child, and when devd dies it receives SIGHUP and sends SIGKILL to the whole group.

On SIGTERM, which devd sends to the whole group to stop it, and on SIGINT, which devd sends to
interrupt terraform, the guard does nothing itself and waits for the command. It then exits as
the command did: with the same exit status, or killed by the same signal. A process that
leaves the group (by calling `setsid`) escapes the guard.

Run as `python -I -S group_guard.py PARENT_PID PROGRAM [ARG...]`. The file uses only the
standard library because it runs without devd on `sys.path`.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_PARENT_DEATH_SIGNAL = signal.SIGHUP
_EXEC_FAILED = 127
"""Exit status for a program that could not be started, as shells use it."""


def guarded_command(
    argv: Sequence[str], parent_pid: int | None = None, python: str = sys.executable
) -> list[str]:
    """Return the command line that runs `argv` under the guard, watching `parent_pid`.

    `parent_pid` defaults to the calling process, which must be the one that starts the guard.
    """
    parent = os.getpid() if parent_pid is None else parent_pid
    return [python, "-I", "-S", str(Path(__file__).resolve()), str(parent), *argv]


def _set_parent_death_signal(sig: signal.Signals) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return
    prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def _kill_group() -> None:
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _watch_parent(parent_pid: int) -> None:
    def on_hangup(_signum: int, _frame: object) -> None:
        # Any process may send SIGHUP, so act only when the parent is really gone.
        if os.getppid() != parent_pid:
            _kill_group()

    signal.signal(_PARENT_DEATH_SIGNAL, on_hangup)
    _set_parent_death_signal(_PARENT_DEATH_SIGNAL)

    # The parent may have died before prctl ran, and then no signal will come.
    if os.getppid() != parent_pid:
        _kill_group()


def _exit_like(returncode: int) -> int:
    """Exit with the command's status, or die by the signal that killed it."""
    if returncode >= 0:
        return returncode

    sig = -returncode
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
    return 128 + sig


def main(argv: Sequence[str]) -> int:
    """Run the command in `argv[2:]` as a child and return its exit status."""
    if len(argv) < 3 or not argv[1].isdigit():
        print("usage: group_guard.py PARENT_PID PROGRAM [ARG...]", file=sys.stderr)
        return 2

    # A Python handler, unlike SIG_IGN, is reset to the default in the child at exec.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    signal.signal(signal.SIGINT, lambda _signum, _frame: None)
    _watch_parent(int(argv[1]))

    command = list(argv[2:])
    try:
        child = subprocess.Popen(command)
    except OSError as error:
        print(f"cannot start {command[0]!r}: {error}", file=sys.stderr, flush=True)
        return _EXEC_FAILED

    return _exit_like(child.wait())


if __name__ == "__main__":
    sys.exit(main(sys.argv))
