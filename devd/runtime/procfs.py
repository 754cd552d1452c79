"""Parsing of the Linux /proc files that tell which process has a TCP connection open.

`/proc/net/tcp` and `/proc/net/tcp6` list the sockets of the network namespace with their
addresses and inode numbers, `/proc/PID/fd/N` links to `socket:[INODE]` for a socket, and
`/proc/PID/stat` gives a process's parent and process group (see proc(5)). The functions here
take the text of those files, so they run without /proc. `peer_process.py` reads the files.
"""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import dataclass
from typing import Iterable, Literal, Mapping

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Endpoint:
    """One end of a TCP connection. An IPv4-mapped IPv6 address is stored as its IPv4 address."""

    address: IPAddress
    port: int

    @classmethod
    def of(cls, host: str, port: int) -> Endpoint:
        """Return the endpoint of a socket address as `getpeername()` returns it."""
        return cls(_unmapped(ipaddress.ip_address(host)), port)


@dataclass(frozen=True)
class SocketEntry:
    """One line of /proc/net/tcp or /proc/net/tcp6: the socket's local and remote endpoints and
    its inode, which is 0 for a socket that no file descriptor refers to any more (TIME_WAIT)."""

    local: Endpoint
    remote: Endpoint
    inode: int


@dataclass(frozen=True)
class ProcessStat:
    """The ids of /proc/PID/stat that place a process in the process tree."""

    pid: int
    ppid: int
    pgrp: int


def parse_socket_line(line: str, byteorder: Literal["little", "big"] = sys.byteorder) -> SocketEntry | None:
    """Parse one line of /proc/net/tcp or /proc/net/tcp6, or return None for the header and for a
    line that does not have the table's shape.

    The kernel prints each 32-bit word of an address in the host's byte order, so `byteorder`
    is that of the machine that wrote the text.
    """
    fields = line.split()
    if len(fields) < 10 or not fields[0].endswith(":") or not fields[9].isdigit():
        return None
    try:
        local = _parse_endpoint(fields[1], byteorder)
        remote = _parse_endpoint(fields[2], byteorder)
    except ValueError:
        return None
    return SocketEntry(local, remote, int(fields[9]))


def find_socket_inode(table: str, local: Endpoint, remote: Endpoint) -> int | None:
    """Return the inode of the socket in `table` (the text of /proc/net/tcp or tcp6) whose local
    and remote endpoints are the given ones, or None when no open socket has them."""
    port_field = f":{local.port:04X} "
    for line in table.splitlines():
        # Most lines belong to other ports, and this test is cheaper than parsing them.
        if port_field not in line:
            continue
        entry = parse_socket_line(line)
        if entry is not None and entry.inode and entry.local == local and entry.remote == remote:
            return entry.inode
    return None


def socket_link(inode: int) -> str:
    """Return the target of a /proc/PID/fd link to the socket with this inode."""
    return f"socket:[{inode}]"


def parse_stat(text: str) -> ProcessStat:
    """Parse the text of /proc/PID/stat. Raises ValueError when it does not have that shape.

    The command name in brackets may contain spaces and brackets, so the fields after it are
    found from the last ")".
    """
    head, bracket, tail = text.rpartition(")")
    pid_text, _, _ = head.partition(" (")
    fields = tail.split()
    if not bracket or len(fields) < 3:
        raise ValueError(f"invalid /proc/PID/stat text {text[:80]!r}")
    return ProcessStat(pid=int(pid_text), ppid=int(fields[1]), pgrp=int(fields[2]))


def belongs_to_runtime(pid: int, runtime_pid: int, processes: Mapping[int, ProcessStat]) -> bool:
    """Return whether `pid` is the runtime process, in its process group, or a descendant of
    either. `processes` maps pids to their stat, and a pid missing from it ends the search.

    A runtime is started in a new session, so its pid is also its process group id.
    """
    seen: set[int] = set()
    current = pid
    while current not in seen:
        if current == runtime_pid:
            return True
        stat = processes.get(current)
        if stat is None:
            return False
        if stat.pgrp == runtime_pid:
            return True
        seen.add(current)
        current = stat.ppid
    return False


def runtime_processes(runtime_pid: int, processes: Iterable[ProcessStat]) -> list[int]:
    """Return the pids of `processes` that belong to the runtime (see `belongs_to_runtime`)."""
    by_pid = {stat.pid: stat for stat in processes}
    return [pid for pid in by_pid if belongs_to_runtime(pid, runtime_pid, by_pid)]


def _parse_endpoint(text: str, byteorder: str) -> Endpoint:
    address_hex, colon, port_hex = text.partition(":")
    if not colon or len(address_hex) not in (8, 32):
        raise ValueError(f"invalid address {text!r}")

    raw = bytes.fromhex(address_hex)
    if byteorder == "little":
        raw = b"".join(raw[index:index + 4][::-1] for index in range(0, len(raw), 4))
    return Endpoint(_unmapped(ipaddress.ip_address(raw)), int(port_hex, 16))


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
