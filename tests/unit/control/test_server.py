"""The control socket with a real Unix socket: dispatch, streams, errors, permissions, stale sockets."""

from __future__ import annotations

import asyncio
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devd.control.client import connect
from devd.control.protocol import (
    ControlError,
    Reply,
    Request,
    decode_reply,
    decode_request,
    encode,
)
from devd.control.server import ActionTable, ControlServer, remove_stale_socket


def make_table() -> ActionTable:
    table = ActionTable()

    async def echo(args: dict) -> dict:
        return {"echo": args}

    async def fail(args: dict) -> None:
        raise ControlError("function nope not found; functions: a, b")

    async def crash(args: dict) -> None:
        raise RuntimeError("boom")

    async def count(args: dict) -> AsyncIterator[int]:
        for number in range(args["up_to"]):
            yield number

    table.add("echo", echo)
    table.add("fail", fail)
    table.add("crash", crash)
    table.add("count", count, stream=True)
    return table


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ControlServer]:
    running = ControlServer(tmp_path / ".devd" / "control.sock", make_table())
    await running.start()
    yield running
    await running.close()


def test_protocol_round_trip() -> None:
    request = Request(3, "build", {"functions": ["a"]})
    assert decode_request(encode(request)) == request
    assert decode_reply(encode(Reply(3, result=[1, 2]))) == Reply(3, result=[1, 2])
    assert decode_reply(encode(Reply(3, ok=False, error="bad"))) == Reply(3, ok=False, error="bad")
    assert decode_reply(encode(Reply(3, event={"x": 1}, is_event=True))).event == {"x": 1}


@pytest.mark.parametrize("line, message", [
    (b"not json\n", "invalid control message"),
    (b"[1]\n", "expected a JSON object"),
    (b'{"id": "1", "action": "status"}\n', "invalid request id"),
    (b'{"id": 1, "action": ""}\n', "invalid action"),
    (b'{"id": 1, "action": "status", "args": []}\n', "invalid args"),
])
def test_protocol_rejects_bad_requests(line: bytes, message: str) -> None:
    with pytest.raises(ControlError, match=message):
        decode_request(line)


async def test_socket_is_owner_only(server: ControlServer) -> None:
    mode = server.path.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600


async def test_call_and_stream(server: ControlServer) -> None:
    def talk() -> tuple[object, list[int], object]:
        client = connect(server.path.parent)
        assert client is not None
        with client:
            echoed = client.call("echo", timeout=5, name="a")
            numbers = list(client.stream("count", timeout=5, up_to=4))
            again = client.call("echo", timeout=5)
        return echoed, numbers, again

    echoed, numbers, again = await asyncio.to_thread(talk)
    assert echoed == {"echo": {"name": "a"}}
    assert numbers == [0, 1, 2, 3]
    assert again == {"echo": {}}


async def test_errors_reach_the_client(server: ControlServer) -> None:
    def call(action: str) -> str:
        client = connect(server.path.parent)
        assert client is not None
        with client, pytest.raises(ControlError) as raised:
            client.call(action, timeout=5)
        return str(raised.value)

    assert await asyncio.to_thread(call, "fail") == "function nope not found; functions: a, b"
    assert "crash failed in the daemon: RuntimeError('boom')" in await asyncio.to_thread(call, "crash")
    unknown = await asyncio.to_thread(call, "deploy")
    assert "unknown action 'deploy'" in unknown
    assert "count, crash, echo, fail" in unknown


async def test_bad_line_keeps_connection(server: ControlServer) -> None:
    reader, writer = await asyncio.open_unix_connection(str(server.path))
    writer.write(b"garbage\n" + encode(Request(7, "echo", {})))
    await writer.drain()
    first = decode_reply(await reader.readline())
    second = decode_reply(await reader.readline())
    writer.close()
    await writer.wait_closed()
    assert not first.ok
    assert "invalid control message" in (first.error or "")
    assert second == Reply(7, result={"echo": {}})


async def test_close_removes_socket(server: ControlServer) -> None:
    await server.close()
    assert not server.path.exists()
    assert await asyncio.to_thread(connect, server.path.parent) is None


async def test_stale_socket_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(path))
    leftover.close()  # bound but never listening: what a killed daemon leaves
    assert path.exists()
    assert connect(tmp_path) is None

    server = ControlServer(path, make_table())
    await server.start()
    try:
        client = await asyncio.to_thread(connect, tmp_path)
        assert client is not None
        client.close()
    finally:
        await server.close()


async def test_live_socket_is_not_replaced(server: ControlServer) -> None:
    second = ControlServer(server.path, make_table())
    with pytest.raises(ControlError, match="another devd is already running"):
        await asyncio.to_thread(remove_stale_socket, second.path)
    assert server.path.exists()


def test_regular_file_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    path.write_text("mine")
    with pytest.raises(ControlError, match="is not a socket"):
        remove_stale_socket(path)
    assert path.read_text() == "mine"


def test_long_socket_path_is_rejected(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    with pytest.raises(ControlError, match="move the project to a shorter path"):
        connect_path = deep / "control.sock"
        connect_path.parent.mkdir()
        connect_path.touch()
        connect(deep)
