"""Parsing of /proc/net/tcp, /proc/net/tcp6 and /proc/PID/stat.

The lines were printed by Linux 6.18 on x86_64, except TIME_WAIT and LOOPBACK6_CLIENT, which
follow the same format.
"""

from __future__ import annotations

import ipaddress

import pytest

from devd.runtime.procfs import (
    Endpoint,
    ProcessStat,
    belongs_to_runtime,
    find_socket_inode,
    parse_socket_line,
    parse_stat,
    runtime_processes,
)

HEADER = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
)

# A server on 127.0.0.1:46759 (B6A7) with one client connected from port 47150 (B82E): the
# listening socket, the client's socket, and the server's accepted socket.
LISTENER = "   6: 0100007F:B6A7 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 320871 1 00000000403b1381 100 0 0 10 0"
CLIENT = " 257: 0100007F:B82E 0100007F:B6A7 01 00000000:00000000 00:00000000 00000000     0        0 320872 2 00000000e77a53ce 20 0 0 10 -1"
ACCEPTED = " 879: 0100007F:B6A7 0100007F:B82E 01 00000000:00000000 00:00000000 00000000     0        0 320873 1 00000000791d5457 20 0 0 10 -1"
TIME_WAIT = " 880: 0100007F:B830 0100007F:B6A7 06 00000000:00000000 03:00001716 00000000     0        0 0 3 0000000000000000"
TCP_TABLE = "\n".join([HEADER, LISTENER, ACCEPTED, TIME_WAIT, CLIENT]) + "\n"

# An IPv6 socket connected to the same server through the IPv4-mapped address ::ffff:127.0.0.1.
MAPPED_CLIENT = (
    "   0: 0000000000000000FFFF00000100007F:B83A 0000000000000000FFFF00000100007F:B6A7 01 "
    "00000000:00000000 00:00000000 00000000     0        0 320874 2 00000000ca728dad 20 0 0 10 -1"
)
LOOPBACK6_CLIENT = (
    "   1: 00000000000000000000000001000000:9C40 00000000000000000000000001000000:1F90 01 "
    "00000000:00000000 00:00000000 00000000  1000        0 555 1 0000000000000000 20 4 30 10 -1"
)

SERVER = Endpoint.of("127.0.0.1", 46759)


def test_socket_line_ipv4_fields() -> None:
    entry = parse_socket_line(CLIENT, "little")

    assert entry is not None
    assert entry.local == Endpoint(ipaddress.IPv4Address("127.0.0.1"), 47150)
    assert entry.remote == SERVER
    assert entry.inode == 320872


def test_socket_line_mapped_ipv6_is_ipv4() -> None:
    entry = parse_socket_line(MAPPED_CLIENT, "little")

    assert entry is not None
    assert entry.local == Endpoint.of("127.0.0.1", 47162)
    assert entry.remote == SERVER
    assert entry.inode == 320874


def test_socket_line_ipv6_loopback() -> None:
    entry = parse_socket_line(LOOPBACK6_CLIENT, "little")

    assert entry is not None
    assert entry.local == Endpoint.of("::1", 40000)
    assert entry.remote == Endpoint.of("::1", 8080)


def test_socket_line_big_endian_host() -> None:
    line = CLIENT.replace("0100007F", "7F000001")

    entry = parse_socket_line(line, "big")

    assert entry is not None
    assert entry.local == Endpoint.of("127.0.0.1", 47150)
    assert entry.remote == SERVER


@pytest.mark.parametrize(
    "line",
    [
        HEADER,
        "",
        "   6: 0100007F:B6A7",
        CLIENT.replace("0100007F:B82E", "0100007:B82E"),
        CLIENT.replace("0100007F:B82E", "0100007G:B82E"),
        CLIENT.replace("0100007F:B82E", "0100007FB82E"),
    ],
)
def test_socket_line_malformed_is_none(line: str) -> None:
    assert parse_socket_line(line, "little") is None


def test_find_inode_of_client_end() -> None:
    inode = find_socket_inode(TCP_TABLE, Endpoint.of("127.0.0.1", 47150), SERVER)

    assert inode == 320872


def test_find_inode_of_mapped_client() -> None:
    table = "\n".join([HEADER, MAPPED_CLIENT])

    assert find_socket_inode(table, Endpoint.of("127.0.0.1", 47162), SERVER) == 320874
    assert find_socket_inode(table, Endpoint.of("::ffff:127.0.0.1", 47162), SERVER) == 320874


def test_find_inode_none_for_unknown_port() -> None:
    assert find_socket_inode(TCP_TABLE, Endpoint.of("127.0.0.1", 47151), SERVER) is None


def test_find_inode_needs_matching_remote() -> None:
    other_server = Endpoint.of("127.0.0.1", 46760)

    assert find_socket_inode(TCP_TABLE, Endpoint.of("127.0.0.1", 47150), other_server) is None


def test_find_inode_skips_time_wait_socket() -> None:
    assert find_socket_inode(TCP_TABLE, Endpoint.of("127.0.0.1", 0xB830), SERVER) is None


def test_stat_ids() -> None:
    text = "8723 (python) R 8721 8721 539 0 -1 4194560 3444 0 0 0 6 3 0 0 20 0 1 0 377186 28\n"

    assert parse_stat(text) == ProcessStat(pid=8723, ppid=8721, pgrp=8721)


def test_stat_command_with_spaces_and_brackets() -> None:
    text = "42 (my (odd) name) x) S 7 40 40 0 -1 4194560"

    assert parse_stat(text) == ProcessStat(pid=42, ppid=7, pgrp=40)


@pytest.mark.parametrize("text", ["", "42 (cut", "42 (sh) S 7", "x (sh) S 7 40 40"])
def test_stat_malformed_raises(text: str) -> None:
    with pytest.raises(ValueError):
        parse_stat(text)


# A runtime 100 (its own group) with a child 101, a grandchild 102 that left the group with
# setsid, and an orphan 103 of the group that pid 1 adopted. 200 is devd, the runtime's parent,
# and 300 is an unrelated process.
PROCESSES = {
    stat.pid: stat
    for stat in [
        ProcessStat(1, 0, 1),
        ProcessStat(200, 1, 200),
        ProcessStat(100, 200, 100),
        ProcessStat(101, 100, 100),
        ProcessStat(102, 101, 102),
        ProcessStat(103, 1, 100),
        ProcessStat(300, 1, 300),
    ]
}


@pytest.mark.parametrize(("pid", "expected"), [(100, True), (101, True), (102, True), (103, True)])
def test_runtime_tree_members(pid: int, expected: bool) -> None:
    assert belongs_to_runtime(pid, 100, PROCESSES) is expected


@pytest.mark.parametrize("pid", [1, 200, 300, 999])
def test_runtime_tree_outsiders(pid: int) -> None:
    assert belongs_to_runtime(pid, 100, PROCESSES) is False


def test_runtime_tree_survives_parent_cycle() -> None:
    processes = {5: ProcessStat(5, 6, 5), 6: ProcessStat(6, 5, 6)}

    assert belongs_to_runtime(5, 100, processes) is False


def test_runtime_processes_lists_tree() -> None:
    assert sorted(runtime_processes(100, PROCESSES.values())) == [100, 101, 102, 103]
