"""Start and stop child processes together with the process groups they lead.

Children are started with `start_new_session=True`, so each one leads a process group whose id
is its pid and which also contains the processes it starts (esbuild's own binary, for one).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
from pathlib import Path

logger = logging.getLogger("devd.supervise")

_POLL_SECONDS = 0.05
_PR_SET_PDEATHSIG = 1




def _load_prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux only).

    Passed as `preexec_fn` when starting a child, so that a `kill -9` of devd, which runs no
    cleanup, still leaves no child behind. Elsewhere it does nothing. It runs between fork
    and exec, so it only calls the prctl function looked up at import.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send a signal to a process group; return False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def group_exists(pgid: int) -> bool:
    """Return whether a process group still has a running member.

    Zombies do not count. A grandchild whose parent exited first is reparented to init,
    which may take a second or more to reap it, but it no longer runs. Without /proc (on
    macOS), zombies count as members.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True

    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if entry.name.isdigit() and _running_member(entry, pgid):
            return True
    return False


def _running_member(proc_entry: Path, pgid: int) -> bool:
    try:
        stat = (proc_entry / "stat").read_text()
    except OSError:
        return False
    # The command name in brackets may contain spaces, so the fields after it are split.
    state, _parent, group = stat.rsplit(")", 1)[1].split()[:3]
    return int(group) == pgid and state not in ("Z", "X")


async def wait_for_group_exit(pgid: int, timeout: float) -> bool:
    """Wait up to `timeout` seconds for a process group to empty; return whether it did."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while group_exists(pgid):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_POLL_SECONDS)
    return True


async def stop_process_group(pgid: int, leader_exited: "asyncio.Future[int]", grace: float) -> None:
    """Send SIGTERM to a process group, then SIGKILL to what is left after `grace` seconds.

    `leader_exited` completes when the group's leader has exited and been reaped. Returns once
    it has and no other member of the group runs.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    signal_group(pgid, signal.SIGTERM)

    try:
        await asyncio.wait_for(asyncio.shield(leader_exited), grace)
    except TimeoutError:
        pass
    if leader_exited.done() and await wait_for_group_exit(pgid, max(0.0, deadline - loop.time())):
        return

    logger.warning("process group %d did not stop within %.1f s of SIGTERM: sending SIGKILL", pgid, grace)
    signal_group(pgid, signal.SIGKILL)
    await leader_exited
    if not await wait_for_group_exit(pgid, 1.0):
        logger.warning("process group %d still runs after SIGKILL", pgid)
