"""`identify_peer` on a /proc tree written under tmp_path: net/tcp, PID/stat and PID/fd links."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devd.runtime.peer_process import identify_peer
from devd.runtime.procfs import Endpoint
from tests.unit.runtime.test_procfs import CLIENT, HEADER, LISTENER, MAPPED_CLIENT, SERVER

PEER = Endpoint.of("127.0.0.1", 47150)
MAPPED_PEER = Endpoint.of("127.0.0.1", 47162)


def write_process(proc: Path, pid: int, ppid: int, pgrp: int, sockets: tuple[int, ...] = ()) -> None:
    """Write /proc/PID/stat, and one fd link to `socket:[INODE]` per inode, after stdin."""
    (proc / str(pid)).mkdir()
    (proc / str(pid) / "stat").write_text(f"{pid} (proc {pid}) S {ppid} {pgrp} {pgrp} 0 -1 4194560\n")
    fd_dir = proc / str(pid) / "fd"
    fd_dir.mkdir()
    (fd_dir / "0").symlink_to("/dev/null")
    for number, inode in enumerate(sockets, start=3):
        (fd_dir / str(number)).symlink_to(f"socket:[{inode}]")


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    """A /proc with the client socket 320872 in net/tcp and 320874 in net/tcp6, devd (200) and
    its runtime 100, and an unrelated process 300."""
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_text("\n".join([HEADER, LISTENER, CLIENT]) + "\n")
    (tmp_path / "net" / "tcp6").write_text("\n".join([HEADER, MAPPED_CLIENT]) + "\n")
    write_process(tmp_path, 1, 0, 1)
    write_process(tmp_path, 200, 1, 200, sockets=(320871, 320873))
    write_process(tmp_path, 100, 200, 100)
    return tmp_path


def test_runtime_process_holds_socket(proc: Path) -> None:
    (proc / "100" / "fd" / "7").symlink_to("socket:[320872]")

    verdict = identify_peer(PEER, SERVER, 100, proc)

    assert verdict.trusted
    assert "runtime process 100 holds socket:[320872]" in verdict.reason


def test_child_in_group_holds_socket(proc: Path) -> None:
    write_process(proc, 101, 100, 100, sockets=(320872,))

    verdict = identify_peer(PEER, SERVER, 100, proc)

    assert verdict.trusted
    assert "process 101" in verdict.reason


def test_mapped_ipv6_socket_found_in_tcp6(proc: Path) -> None:
    write_process(proc, 104, 1, 100, sockets=(320874,))

    assert identify_peer(MAPPED_PEER, SERVER, 100, proc).trusted


def test_other_process_rejected(proc: Path) -> None:
    write_process(proc, 300, 1, 300, sockets=(320872,))

    verdict = identify_peer(PEER, SERVER, 100, proc)

    assert not verdict.trusted
    assert "socket:[320872]" in verdict.reason
    assert "held by no process in runtime 100's process group" in verdict.reason


def test_devd_itself_rejected(proc: Path) -> None:
    (proc / "200" / "fd" / "9").symlink_to("socket:[320872]")

    assert not identify_peer(PEER, SERVER, 100, proc).trusted


def test_unknown_port_rejected(proc: Path) -> None:
    write_process(proc, 101, 100, 100, sockets=(320872,))

    verdict = identify_peer(Endpoint.of("127.0.0.1", 1234), SERVER, 100, proc)

    assert not verdict.trusted
    assert "no open socket from 127.0.0.1:1234 to 127.0.0.1:46759" in verdict.reason


def test_missing_net_tcp_rejected(proc: Path) -> None:
    (proc / "net" / "tcp").unlink()

    verdict = identify_peer(PEER, SERVER, 100, proc)

    assert not verdict.trusted
    assert "cannot be looked up" in verdict.reason


def test_group_member_after_runtime_exit(proc: Path) -> None:
    write_process(proc, 101, 1, 100, sockets=(320872,))
    shutil.rmtree(proc / "100")

    assert identify_peer(PEER, SERVER, 100, proc).trusted
