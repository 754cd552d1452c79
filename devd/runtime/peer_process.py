"""Find out whether the process at the other end of a local TCP connection is a worker's.

The lookup reads Linux's /proc. It finds the inode of the client's socket in /proc/net/tcp
(or tcp6), then looks for a `socket:[INODE]` link in /proc/PID/fd of the runtime process.
When the runtime process does not have the socket open, it looks in the fd directories of
the processes in the runtime's process group and below it, found from /proc/PID/stat.
Without /proc, as on macOS, no peer can be identified. The parsing is in `procfs.py`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from devd.runtime.procfs import (
    Endpoint,
    ProcessStat,
    find_socket_inode,
    parse_stat,
    runtime_processes,
    socket_link,
)

logger = logging.getLogger("devd.runtime.runtime_api")

PROC = Path("/proc")

SocketAddresses = tuple[tuple[str, int], tuple[str, int]]
"""The (host, port) of a connection's peer and of the server's end."""


@dataclass(frozen=True)
class PeerVerdict:
    """Whether the peer belongs to the runtime, and why, for the log."""

    trusted: bool
    reason: str


async def is_runtime_connection(addresses: SocketAddresses | None, runtime_pid: int) -> bool:
    """Return whether the peer of a Runtime API connection belongs to the runtime `runtime_pid`,
    and log why at debug level. A closed connection (`addresses` None) does not."""
    if addresses is None:
        logger.debug("rejecting requests without the secret: the connection closed before its check")
        return False

    peer, server = addresses
    # Reading /proc/net/tcp takes a millisecond or more (bench/peer_lookup.py), so it runs
    # off the event loop.
    verdict = await asyncio.to_thread(identify_peer, Endpoint.of(*peer), Endpoint.of(*server), runtime_pid)
    outcome = "accepting" if verdict.trusted else "rejecting"
    logger.debug("%s requests without the secret from %s:%d: %s", outcome, *peer, verdict.reason)
    return verdict.trusted


def identify_peer(peer: Endpoint, server: Endpoint, runtime_pid: int, proc: Path = PROC) -> PeerVerdict:
    """Decide whether the process that connected from `peer` to `server` is the runtime process
    `runtime_pid`, a process in its process group, or a descendant of either.

    Blocks while it reads /proc. To print /proc/net/tcp, the kernel visits every bucket of its
    hash table of connected sockets, so that read takes about a millisecond even with few
    sockets open (bench/peer_lookup.py).
    """
    try:
        inode = _socket_inode(proc, peer, server)
    except OSError as error:
        return PeerVerdict(False, f"the peer's socket cannot be looked up: {error}")
    if inode is None:
        return PeerVerdict(False, f"no open socket from {_text(peer)} to {_text(server)} in {proc}/net/tcp or tcp6")

    link = socket_link(inode)
    # The runtime process itself is the usual client, and checking it first needs no scan.
    if _holds(proc, runtime_pid, link):
        return PeerVerdict(True, f"runtime process {runtime_pid} holds {link}")

    for pid in runtime_processes(runtime_pid, _read_processes(proc)):
        if pid != runtime_pid and _holds(proc, pid, link):
            return PeerVerdict(True, f"process {pid} of runtime {runtime_pid}'s process tree holds {link}")
    return PeerVerdict(False, f"{link} is held by no process in runtime {runtime_pid}'s process group or below it")


def _socket_inode(proc: Path, peer: Endpoint, server: Endpoint) -> int | None:
    """Return the inode of the peer's end of the connection. IPv4 sockets are in tcp, and
    IPv6 sockets, including those connected to an IPv4-mapped address, are in tcp6."""
    inode = find_socket_inode((proc / "net" / "tcp").read_text(), peer, server)
    if inode is not None:
        return inode

    try:
        table6 = (proc / "net" / "tcp6").read_text()
    except FileNotFoundError:  # a kernel without IPv6
        return None
    return find_socket_inode(table6, peer, server)


def _holds(proc: Path, pid: int, link: str) -> bool:
    """Return whether a file descriptor of process `pid` links to `link`. Returns False for a
    process that exited or whose descriptors this user cannot read."""
    fd_dir = proc / str(pid) / "fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return False

    for name in names:
        try:
            if os.readlink(fd_dir / name) == link:
                return True
        except OSError:  # the descriptor closed since the listing
            continue
    return False


def _read_processes(proc: Path) -> list[ProcessStat]:
    """Return the stat of every process that still runs by the time its file is read."""
    processes = []
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            processes.append(parse_stat((proc / name / "stat").read_text()))
        except (OSError, ValueError):
            continue
    return processes


def _text(endpoint: Endpoint) -> str:
    return f"{endpoint.address}:{endpoint.port}"
